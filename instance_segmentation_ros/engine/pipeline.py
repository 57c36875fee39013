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

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .figures import StageFigures
from .mailboxes import LatestFrameSlot

ENGINE_ERROR_PAUSE_S = 0.1


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
        if frame is not None:
            for each in self._figures_of_frame(frame):
                each.frame_failed()
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
