"""Where frames wait for the model: the newest frame, every frame in order, or fair turns.

`put` never blocks the receiving thread; which frame the model stage takes next, and which are
dropped (and counted), is the policy each mailbox stands for. `mailbox_for` picks the policy
for a processing mode and a number of cameras.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from itertools import pairwise

PERIOD_WINDOW = 16  # arrivals from which the stream's frame period is estimated
PROCESSING_MODES = ('latest', 'every_frame')


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
    `now` is the clock that arrivals are stamped and ages measured with (monotonic seconds).
    """

    def __init__(self, now: Callable[[], float] = time.monotonic):
        super().__init__()
        self._now = now
        self._item = None
        self._arrivals = deque(maxlen=PERIOD_WINDOW)

    def put(self, item):
        """Offer an item; returns the one it replaced, which the consumer never took, or None."""
        with self._condition:
            replaced = None if self._item is None else self._item[0]
            self.replaced += replaced is not None
            now = self._now()
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
        age = self._now() - arrived
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


def mailbox_for(mode: str, cameras: int, size: int, source: Callable) -> Mailbox:
    """The mailbox of a processing mode (PROCESSING_MODES) for a number of cameras.

    `every_frame`: one queue of `size` in arrival order, shared by all cameras (a recording is
    wanted whole). `latest`: the newest frame of each camera in fair turns (`source(frame)`
    names a frame's camera) or, for one camera, the newest-frame slot, whose frame wait a
    single stream can use.
    """
    if mode not in PROCESSING_MODES:
        raise ValueError(f'processing mode {mode!r} is not one of {", ".join(PROCESSING_MODES)}')
    if mode == 'every_frame':
        return FrameQueue(size)
    if cameras > 1:
        return FairFrameSlots(source)
    return LatestFrameSlot()
