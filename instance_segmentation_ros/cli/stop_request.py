"""Ctrl+C and SIGTERM of the folder and bag commands: finish the image, or stop at once."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from contextlib import contextmanager

from .common import PROG


class StopRequest:
    """First Ctrl+C (or SIGTERM): finish the current image, then stop; the second: stop now.

    "Now" waits for a `hold` block to end, so that one image's outputs (overlay, masks, JSON
    entries and the four bag messages of its frame) are all written or none is, and once
    `finish` is called (the bag is closed, the JSON files and the summary written) it never
    comes. `on_request` is called at the first signal, in the signal handler: it should only set
    a flag (an engine that starts no new image).
    """

    def __init__(self, on_request: Callable[[], None] | None = None):
        self.requested = False
        self._on_request = on_request
        self._previous = {}
        self._holding = False
        self._held = False

    def __enter__(self):
        for number in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[number] = signal.signal(number, self._handle)
            except ValueError:  # not the main thread: leave the default behaviour
                pass
        return self

    def __exit__(self, *exc_info):
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        return False

    @contextmanager
    def hold(self):
        """Delay the KeyboardInterrupt of a second signal until the block is done."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._held:
            raise KeyboardInterrupt

    def finish(self):
        """From now on signals are ignored: the run closes its outputs and writes its summary."""
        self._holding = True

    def _handle(self, number, frame):
        if self.requested:
            if self._holding:
                self._held = True
                return
            raise KeyboardInterrupt
        self.requested = True
        if self._on_request is not None:
            self._on_request()
        print(f'\n{PROG}: stopping after the current image (Ctrl+C again to stop at once)',
              file=sys.stderr, flush=True)
