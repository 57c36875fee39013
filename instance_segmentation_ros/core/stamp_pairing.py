"""Pairs each colour frame with the depth frame of the nearest stamp, as message_filters would.

message_filters has no PyPI wheel, and the node needs only this: depth frames are kept as they
arrive (the newest `history`), and a colour frame takes the one nearest its stamp within a
tolerance. The node pairs when it publishes a frame's outputs, after the model call, so a depth
frame that arrives shortly after its colour frame is still found. No ROS: stamps are integer
nanoseconds. Safe to use from two threads (one adds, the other pairs).
"""

from __future__ import annotations

import bisect
import threading
from collections import deque


class NearestStampPairing:
    """The newest `history` items by stamp; `nearest` finds one within `tolerance_ns`."""

    def __init__(self, history: int, tolerance_ns: int):
        self.tolerance_ns = tolerance_ns
        self._lock = threading.Lock()
        self._arrivals = deque(maxlen=history)  # stamps in arrival order, to drop the oldest
        self._stamps = []  # sorted
        self._items = {}

    def add(self, stamp_ns: int, item):
        """Keep `item`; a second item of the same stamp replaces the first."""
        with self._lock:
            if stamp_ns in self._items:
                self._items[stamp_ns] = item
                return
            if len(self._arrivals) == self._arrivals.maxlen:
                oldest = self._arrivals[0]
                self._stamps.pop(bisect.bisect_left(self._stamps, oldest))
                del self._items[oldest]
            self._arrivals.append(stamp_ns)
            bisect.insort(self._stamps, stamp_ns)
            self._items[stamp_ns] = item

    def nearest(self, stamp_ns: int):
        """(stamp, item) nearest `stamp_ns` within the tolerance (a tie: the earlier), or None."""
        with self._lock:
            index = bisect.bisect_left(self._stamps, stamp_ns)
            candidates = self._stamps[max(index - 1, 0):index + 1]
            if not candidates:
                return None
            best = min(candidates, key=lambda stamp: abs(stamp - stamp_ns))
            if abs(best - stamp_ns) > self.tolerance_ns:
                return None
            return best, self._items[best]
