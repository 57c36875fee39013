"""The newest-frame engine, without ROS: a one-slot mailbox feeding two stage threads.

`TwoStagePipeline` takes frames from whoever receives them (`put` only drops each into a
one-slot mailbox, so a slow model never builds a queue and the caller is never held up). One
thread runs `infer` on the newest frame, the other runs `publish` on the frame before it. Where
the outputs are cheap next to the model call (`StagePolicy.output_wait_fraction`), the model
stage lets them be published before it starts the next call, because on shared CPU cores the two
would slow each other; otherwise the outputs of one frame overlap the model call of the next,
for throughput. A model stage that comes free just before the next frame is due may wait for it
(`frame_wait_fraction`) rather than start on a frame over half a period old.

The node hands it its model call and its publishing; the benchmarks hand it clocked versions.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

PERIOD_WINDOW = 16  # arrivals from which the stream's frame period is estimated
ENGINE_ERROR_PAUSE_S = 0.1


class Mailbox:
    """Where frames wait for the model stage: `put` never blocks, `take` waits for one.

    The subclasses decide which frame the model stage gets and which are dropped (`put` returns
    the one it dropped, `replaced` counts them); `close` wakes a waiting consumer for good at
    shutdown.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._closed = False
        self.replaced = 0

    def close(self):
        """Wake the consumer for good (shutdown)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        """True once `close` was called."""
        return self._closed


class LatestFrameSlot(Mailbox):
    """Holds at most one pending item; putting a new one replaces (and counts) the old one.

    A slow consumer therefore always works on the newest frame, and latency cannot grow. A
    consumer that can spare a moment may also ask to wait for the next frame when it is due
    shortly (`take(max_wait=...)`): a frame over half a period old is then swapped for a new one.
    """

    def __init__(self):
        super().__init__()
        self._item = None
        self._arrivals = deque(maxlen=PERIOD_WINDOW)

    def put(self, item):
        """Offer an item; returns the one it replaced, which the consumer never took, or None."""
        with self._condition:
            replaced = None if self._item is None else self._item[0]
            self.replaced += replaced is not None
            now = time.monotonic()
            self._arrivals.append(now)
            self._item = (item, now)  # with its arrival time, for latency
            self._condition.notify_all()
            return replaced

    def take(self, timeout: float | None = None, max_wait: float = 0.0):
        """Wait for an item; returns (item, monotonic time it was put) or None on timeout/close.

        With `max_wait` > 0, when the stream's next item is due within `max_wait` seconds and
        sooner than the pending item's age, wait for it (at most `max_wait`) and return it
        instead: the result comes out earlier relative to its frame than if the consumer
        started on the older one.
        """
        with self._condition:
            if not self._condition.wait_for(lambda: self._item is not None or self._closed,
                                            timeout):
                return None
            if max_wait > 0.0:
                self._wait_for_next_if_due(max_wait)
            if self._item is None:
                return None
            item, self._item = self._item, None
            return item

    def period(self) -> float | None:
        """Median interval between recent arrivals (seconds); None before two arrivals."""
        with self._condition:
            return self._period()

    def _period(self) -> float | None:
        if len(self._arrivals) < 2:
            return None
        return statistics.median(b - a for a, b in pairwise(self._arrivals))

    def _wait_for_next_if_due(self, max_wait: float):
        period = self._period()
        if period is None:
            return
        _, arrived = self._item
        age = time.monotonic() - arrived
        due_in = period - age
        if due_in > min(max_wait, age) or age > 2.0 * period:  # not worth it, or stream paused
            return
        self._condition.wait_for(
            lambda: self._closed or self._item is None or self._item[1] != arrived, max_wait)

class FrameQueue(Mailbox):
    """Holds up to `size` pending items in arrival order; when full, the oldest is dropped.

    For replaying recordings, where every frame is wanted in order: the model stage takes them
    one after another, and a burst larger than the queue loses its oldest frames, counted.
    (`max_wait` does not apply: no frame is skipped).
    """

    def __init__(self, size: int):
        super().__init__()
        self._items = deque()
        self._size = size

    def put(self, item):
        """Append an item; returns the oldest pending one when it was dropped for it, or None."""
        with self._condition:
            dropped = None
            if len(self._items) >= self._size:
                dropped = self._items.popleft()[0]
                self.replaced += 1
            self._items.append((item, time.monotonic()))
            self._condition.notify_all()
            return dropped

    def take(self, timeout: float | None = None, max_wait: float = 0.0):
        """The oldest item as (item, monotonic time it was put), or None on timeout/close."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._items or self._closed, timeout):
                return None
            return self._items.popleft() if self._items else None

class FairFrameSlots(Mailbox):
    """One newest-frame slot per source; the consumer is given the sources in fair turns.

    For one model serving several cameras: each camera keeps only its newest frame (a slow
    model never builds a queue), and `take` returns the pending frame of the camera served least
    recently, so that a 30 Hz camera cannot starve a 5 Hz one and a silent camera costs nothing.
    `source(item)` names an item's camera (`max_wait` does not apply).
    """

    def __init__(self, source: Callable):
        super().__init__()
        self._source = source
        self._items = {}  # source -> (item, time put)
        self._last_served = {}  # source -> turn number it was last served in
        self._turn = 0

    def put(self, item):
        """Offer an item; returns its source's untaken one that it replaced, or None."""
        with self._condition:
            key = self._source(item)
            replaced = self._items[key][0] if key in self._items else None
            self.replaced += replaced is not None
            self._items[key] = (item, time.monotonic())
            self._condition.notify_all()
            return replaced

    def take(self, timeout: float | None = None, max_wait: float = 0.0):
        """The pending item of the source served least recently, as (item, time put)."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._items or self._closed, timeout):
                return None
            if not self._items:
                return None
            key = min(self._items, key=lambda k: (self._last_served.get(k, -1),
                                                  self._items[k][1]))
            self._turn += 1
            self._last_served[key] = self._turn
            return self._items.pop(key)

class StageHandOff:
    """Passes results one at a time from one stage thread to the next; none is ever dropped.

    `put` waits while the consumer has not yet taken the previous result. The consumer calls
    `done` when it has finished a result, so that the producer can wait with
    `wait_until_done` for everything it handed over to be finished before it goes on.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._item = None
        self._given = 0
        self._finished = 0
        self._closed = False

    def put(self, item) -> bool:
        """Hand over `item` once the previous one was taken; False if closed meanwhile."""
        with self._condition:
            self._condition.wait_for(lambda: self._item is None or self._closed)
            if self._closed:
                return False
            self._item = item
            self._given += 1
            self._condition.notify_all()
            return True

    def get(self, timeout: float | None = None):
        """The next result, or None on timeout or close."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._item is not None or self._closed,
                                            timeout):
                return None
            item, self._item = self._item, None
            self._condition.notify_all()
            return item

    def done(self):
        """The consumer finished the result it took last."""
        with self._condition:
            self._finished += 1
            self._condition.notify_all()

    def wait_until_done(self, timeout: float | None = None) -> bool:
        """Wait until every result handed over is finished; False on timeout or close."""
        with self._condition:
            return self._condition.wait_for(
                lambda: self._finished >= self._given or self._closed,
                timeout) and not self._closed

    def close(self):
        """Wake both stages for good (shutdown)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


def running_mean(mean: float, sample: float) -> float:
    """Exponential running mean, the newest sample weighted 0.2; a first sample (mean 0) as is."""
    return sample if not mean else 0.8 * mean + 0.2 * sample


@dataclass(frozen=True)
class StagePolicy:
    """When the model stage waits, as fractions of its own running mean time.

    frame_wait_fraction: at most this long for a camera frame that is due sooner than the
    waiting frame is old (0 = never). output_wait_fraction: for the previous frame's outputs
    when they take at most this fraction (0 = always overlap them with the next model call).
    """

    frame_wait_fraction: float = 0.0
    output_wait_fraction: float = 0.0


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
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.received = 0
        self.dropped = 0
        self.processed = 0
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


@dataclass
class _Inferred:
    """A frame between the two stages: the model has run, the outputs are still to come."""

    frame: object
    received: float
    result: object
    model_s: float


class TwoStagePipeline:
    """Newest frame through `infer` on one thread, then `publish` on another.

    `infer(frame) -> result` and `publish(frame, result)` are the work; an exception in either
    goes to `on_error(frame, error)` and costs that frame only (frame None: the engine's own
    error, which does not stop it either). `policy` may be replaced at any time (one object, so
    a frame never sees half of a change). `mailbox` (a `Mailbox`) holds the frames the model
    stage has not taken yet: a `LatestFrameSlot` by default; a `FrameQueue` processes every
    frame in arrival order, a `FairFrameSlots` the newest of several cameras in turn. With
    `source(frame)` naming a frame's camera, `figures_of(camera)` has each camera's own figures
    beside the totals in `figures`.
    """

    def __init__(self, infer: Callable, publish: Callable, on_error: Callable,
                 policy: StagePolicy = StagePolicy(), mailbox=None,
                 source: Callable | None = None):
        self.policy = policy
        self.figures = StageFigures()
        self._source = source
        self._source_figures = {}
        self._sources_lock = threading.Lock()
        self._infer = infer
        self._publish = publish
        self._on_error = on_error
        self._slot = LatestFrameSlot() if mailbox is None else mailbox
        self._handoff = StageHandOff()
        self._threads = [
            threading.Thread(target=self._run, args=(step,), name=name, daemon=True)
            for name, step in (('model stage', self._model_step),
                               ('output stage', self._output_step))]

    def start(self):
        """Start both stage threads."""
        for thread in self._threads:
            thread.start()

    def put(self, frame) -> bool:
        """Offer a frame; True when a pending one was dropped for it (and counted)."""
        dropped = self._slot.put(frame)
        self.figures.frame_received(dropped is not None)
        if self._source is not None:
            self.figures_of(self._source(frame)).frame_received(False)
            if dropped is not None:
                self.figures_of(self._source(dropped)).frame_dropped()
        return dropped is not None

    def figures_of(self, source) -> StageFigures:
        """The figures of one source's frames (with `source` given), made on first use."""
        with self._sources_lock:
            if source not in self._source_figures:
                self._source_figures[source] = StageFigures()
            return self._source_figures[source]

    def _figures_of_frame(self, frame) -> tuple[StageFigures, ...]:
        if self._source is None:
            return (self.figures,)
        return self.figures, self.figures_of(self._source(frame))

    def close(self, timeout: float = 0.1):
        """Stop both stages; nothing is published after this returns.

        A model call in progress cannot be interrupted: the threads are daemons that end when
        it returns, so close waits only `timeout` for them rather than a whole model call.
        """
        self._slot.close()
        self._handoff.close()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def _run(self, step):
        while not self._slot.closed:
            try:
                step()
            except Exception as error:  # not a frame's work (those are caught in the step)
                self._failed(None, error)  # reported, and the stage goes on
                time.sleep(ENGINE_ERROR_PAUSE_S)  # rather than spin on an error that stays

    def _failed(self, frame, error: Exception):
        """One bad frame must never stop a stage: report it, unless shutting down caused it."""
        if not self._slot.closed:
            self._on_error(frame, error)

    def _model_step(self):
        figures = self.figures
        taken = self._slot.take(
            timeout=0.5, max_wait=self.policy.frame_wait_fraction * figures.model_seconds)
        if taken is None:
            return
        frame, received = taken
        started = time.perf_counter()
        try:
            result = self._infer(frame)
        except Exception as error:
            self._failed(frame, error)
            return
        model_s = time.perf_counter() - started
        for each in self._figures_of_frame(frame):
            each.model_ran(model_s)
        if not self._handoff.put(_Inferred(frame, received, result, model_s)):
            return  # closed meanwhile
        fraction = self.policy.output_wait_fraction
        if fraction and figures.output_seconds <= fraction * figures.model_seconds:
            self._handoff.wait_until_done()

    def _output_step(self):
        inferred = self._handoff.get(timeout=0.5)
        if inferred is None:
            return
        started = time.thread_time()
        figures = self._figures_of_frame(inferred.frame)
        try:
            self._publish(inferred.frame, inferred.result)
        except Exception as error:
            self._failed(inferred.frame, error)
        else:
            for each in figures:
                each.frame_finished(inferred.model_s, time.monotonic() - inferred.received)
        finally:
            self._handoff.done()
            for each in figures:
                each.outputs_ran(time.thread_time() - started)
