"""A monotonic clock for the engine's unit tests: it moves only when the test says so."""


class ManualClock:
    """Pass it where a class takes `now`; `advance` moves it."""

    def __init__(self, start: float = 100.0):
        self.time = start

    def __call__(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds
