"""Hand-overs between threads: the newest frame from a subscription, a result between stages."""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from itertools import pairwise

PERIOD_WINDOW = 16  # arrivals from which the stream's frame period is estimated


class LatestFrameSlot:
    """Holds at most one pending item; putting a new one replaces (and counts) the old one.

    A slow consumer therefore always works on the newest frame, and latency cannot grow. A
    consumer that can spare a moment may also ask to wait for the next frame when it is due
    shortly (`take(max_wait=...)`): a frame over half a period old is then swapped for a new one.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._item = None
        self._closed = False
        self._arrivals = deque(maxlen=PERIOD_WINDOW)
        self.replaced = 0

    def put(self, item) -> bool:
        """Offer an item; returns True when it replaced one the consumer never took."""
        with self._condition:
            replaced = self._item is not None
            if replaced:
                self.replaced += 1
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

    def close(self):
        """Wake the consumer for good (shutdown)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        """True once `close` was called."""
        return self._closed


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
