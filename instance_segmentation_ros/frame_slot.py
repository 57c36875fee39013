"""A one-slot mailbox between a subscription and a worker: newest frame wins, never a queue."""

from __future__ import annotations

import threading
import time


class LatestFrameSlot:
    """Holds at most one pending item; putting a new one replaces (and counts) the old one.

    A slow consumer therefore always works on the newest frame, and latency cannot grow.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._item = None
        self._closed = False
        self.replaced = 0

    def put(self, item) -> bool:
        """Offer an item; returns True when it replaced one the consumer never took."""
        with self._condition:
            replaced = self._item is not None
            if replaced:
                self.replaced += 1
            self._item = (item, time.monotonic())  # with its arrival time, for latency
            self._condition.notify()
            return replaced

    def take(self, timeout: float | None = None):
        """Wait for an item; returns (item, monotonic time it was put) or None on timeout/close."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._item is not None or self._closed,
                                            timeout):
                return None
            item, self._item = self._item, None
            return item

    def close(self):
        """Wake the consumer for good (shutdown)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        """True once `close` was called."""
        return self._closed
