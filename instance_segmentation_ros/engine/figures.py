"""What the engine counts and times: running means, a reporting period, each stage's figures."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


def running_mean(mean: float, sample: float) -> float:
    """Exponential running mean, the newest sample weighted 0.2; a first sample (mean 0) as is."""
    return sample if not mean else 0.8 * mean + 0.2 * sample


@dataclass
class Period:
    """Frames finished over one reporting period, and what their stages took."""

    seconds: float = 0.0
    processed: int = 0
    model_s: float = 0.0
    latency_s: float = 0.0
    latency_max_s: float = 0.0


class StageFigures:
    """Counts and times of the frames through an engine; safe to read from any thread.

    `model_seconds` and `output_seconds` are running means of the model stage's wall time and
    the output stage's own CPU time: the waits of `StagePolicy` are measured against them.
    `in_flight` counts the frames received and not yet finished, failed or dropped.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.received = 0
        self.dropped = 0
        self.processed = 0
        self.failed = 0
        self.model_seconds = 0.0
        self.output_seconds = 0.0
        self._period = Period()
        self._period_started = time.monotonic()

    def frame_received(self, replaced_one: bool):
        """A frame came in; `replaced_one`: it replaced one the model stage never took."""
        with self._lock:
            self.received += 1
            self.dropped += int(replaced_one)

    def frame_dropped(self):
        """A frame of this source that the model stage never took was dropped for a newer one."""
        with self._lock:
            self.dropped += 1

    def frame_failed(self):
        """A frame of this source failed to process: it is out of the engine."""
        with self._lock:
            self.failed += 1

    @property
    def in_flight(self) -> int:
        """Frames received that are still waiting for the model or being processed."""
        with self._lock:
            return self.received - self.dropped - self.processed - self.failed

    def model_ran(self, seconds: float):
        """The model stage took `seconds` (wall time) for one frame."""
        self.model_seconds = running_mean(self.model_seconds, seconds)

    def outputs_ran(self, cpu_seconds: float):
        """The output stage took `cpu_seconds` of its own CPU time for one frame."""
        self.output_seconds = running_mean(self.output_seconds, cpu_seconds)

    def frame_finished(self, model_s: float, latency_s: float):
        """A frame's outputs are out, `latency_s` after it was received."""
        with self._lock:
            self.processed += 1
            period = self._period
            period.processed += 1
            period.model_s += model_s
            period.latency_s += latency_s
            period.latency_max_s = max(period.latency_max_s, latency_s)

    def take_period(self) -> Period:
        """The figures since the last call (or the start), and a new period begun."""
        now = time.monotonic()
        with self._lock:
            period, self._period = self._period, Period()
            period.seconds, self._period_started = now - self._period_started, now
        return period
