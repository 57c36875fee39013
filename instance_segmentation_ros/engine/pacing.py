"""When a player may publish: a discovery gate before the first image, a pacer for the rest.

A player of recorded images (a folder, a video file) must not publish before its subscribers
are matched, or the first images are lost; in lock-step mode it publishes one image, waits for
the consumer's result (or a timeout), then the next. These rules are here as plain state,
asked with `poll()` and told of events: the node turns the answers into timers and log lines.
Times come from `now` (time.monotonic by default; tests pass a fake clock). Neither class is
thread-safe: call one from one thread, or under one lock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

PROGRESS_INTERVAL = 10.0  # s between log lines while lock-step mode waits for its consumer


def consumer_missing(image_topic: str, image_subscribers: int, result_topic: str,
                     result_publishers: int) -> str:
    """What of a lock-step consumer is not matched yet, from the counts ('' when it is)."""
    missing = []
    if image_subscribers == 0:
        missing.append(f"a subscriber on '{image_topic}'")
    if result_publishers == 0:
        missing.append(f"a publisher on '{result_topic}'")
    return ' and '.join(missing)


@dataclass(frozen=True)
class GateStep:
    """What `DiscoveryGate.poll` decided: start now or not, and a line to log (info, warning)."""

    start: bool = False
    info: str = ''
    warning: str = ''


class DiscoveryGate:
    """Whether the first image may go: after discovery, bounded by `wait_for_subscriber`.

    Two waits, in order. In lock-step mode (`consumer` given) the consumer must be there, as
    long as it takes (a model loads for seconds): `consumer()` says what of it is missing,
    '' once it is there; a line for the log comes every PROGRESS_INTERVAL meanwhile. Then
    `unmatched()` says what of discovery is still incomplete ('' when nothing): this wait
    ends after `wait_for_subscriber` seconds with a warning that names it (0: at once,
    silently). The first image then goes `start_delay` seconds later.
    `wait_for_subscriber` may be changed at any time; it applies at once.
    """

    def __init__(self, unmatched: Callable[[], str], consumer: Callable[[], str] | None = None,
                 wait_for_subscriber: float = 10.0, start_delay: float = 0.0,
                 now: Callable[[], float] = time.monotonic):
        self.wait_for_subscriber = wait_for_subscriber
        self._unmatched, self._consumer = unmatched, consumer
        self._start_delay, self._now = start_delay, now
        self._since = now()
        self._next_progress = self._since + PROGRESS_INTERVAL
        # When the bounded wait began: at once, or once lock-step's consumer is there.
        self._matching_since = None if consumer else self._since
        self._start_at = None

    def poll(self) -> GateStep:
        """Look at the graph (through the callables) and the time; say what to do now."""
        now = self._now()
        warning = ''
        if self._start_at is None:
            if self._matching_since is None:
                missing = self._consumer()
                if missing:
                    if now < self._next_progress:
                        return GateStep()
                    self._next_progress = now + PROGRESS_INTERVAL
                    return GateStep(info=(
                        f'waiting for {missing} ({now - self._since:.0f} s so far): in '
                        'lock-step mode the first image waits for its consumer'))
                self._matching_since = now
            missing = self._unmatched()
            if missing and now < self._matching_since + self.wait_for_subscriber:
                return GateStep()
            if missing and self.wait_for_subscriber > 0:
                warning = (f'still no {missing} after {self.wait_for_subscriber:g} s; '
                           'starting anyway')
            self._start_at = now + self._start_delay
        return GateStep(start=now >= self._start_at, warning=warning)


@dataclass(frozen=True)
class Pace:
    """What `LockStepPacer.poll` decided.

    `go`: the next image may go now. `timed_out`: the wait for the result of the image in
    flight ran out just now (warn once). `wait_s`: when not going, seconds until polling again
    is worth it; None when only `acknowledged()` can change anything.
    """

    go: bool
    timed_out: bool = False
    wait_s: float | None = None


class LockStepPacer:
    """At most `rate` images per second, and in lock-step mode one image in flight.

    The caller polls, publishes when told to go and then calls `sent()`; in lock-step mode it
    calls `acknowledged()` for each message of the result topic. An image in flight blocks the
    next until it is acknowledged or `wait_timeout` seconds (0: forever) passed since it was
    sent; `rate` stays an upper bound. The images go on a grid of 1/rate, as a ROS timer's
    calls do: one sent late (a timer's latency, a slow file) keeps the grid and the slots it
    missed are skipped, not made up in a burst; one released by a late result or a timeout
    starts it anew, so two images are never closer than 1/rate apart after a wait. `rate` and
    `wait_timeout` may be changed at any time; they apply at once.
    """

    def __init__(self, rate: float, wait_timeout: float = 0.0, lock_step: bool = False,
                 now: Callable[[], float] = time.monotonic):
        self.rate, self.wait_timeout = rate, wait_timeout
        self.lock_step = lock_step
        self.timeouts = 0  # waits for a result that ran out
        self.delivery_confirmed = False  # the consumer answered the latest image: it arrived
        self._now = now
        self._slot = None  # when the latest image was due (None: the first may go at once)
        self._sent_at = 0.0
        self._in_flight = False
        self._released_at = None  # when the result (or timeout) of the latest image came

    @property
    def in_flight(self) -> bool:
        """Whether an image awaits its result (lock-step mode only)."""
        return self._in_flight

    def _due(self) -> float | None:
        return None if self._slot is None else self._slot + 1.0 / self.rate

    def poll(self) -> Pace:
        """Whether the next image may go now; a timed-out wait is reported here, once."""
        now = self._now()
        timed_out = False
        if self._in_flight:
            if self.wait_timeout <= 0:
                return Pace(go=False)
            deadline = self._sent_at + self.wait_timeout
            if now < deadline:
                return Pace(go=False, wait_s=deadline - now)
            self._in_flight, self._released_at = False, deadline
            self.timeouts += 1
            timed_out = True
        due = self._due()
        if due is not None and now < due:
            return Pace(go=False, timed_out=timed_out, wait_s=due - now)
        return Pace(go=True, timed_out=timed_out)

    def sent(self) -> None:
        """An image went out now: in lock-step mode it is in flight until its result comes."""
        now, due, period = self._now(), self._due(), 1.0 / self.rate
        if due is None or period == 0.0:  # the first image, or no rate bound (rate inf)
            self._slot = now
        elif self._released_at is None:  # the grid's latest slot: a late image skips the rest
            self._slot = due + max(0.0, math.floor((now - due) / period)) * period
        else:  # released by a result or a timeout: on the grid if that came in time, else anew
            opened = max(due, self._released_at)
            self._slot = opened if 0.0 <= now - opened < period else now
        self._sent_at, self._released_at = now, None
        self._in_flight = self.lock_step
        self.delivery_confirmed = False

    def acknowledged(self) -> bool:
        """A result came: the image in flight is done. False when none was awaited (late)."""
        if not self._in_flight:
            return False
        self._in_flight, self._released_at = False, self._now()
        self.delivery_confirmed = True
        return True
