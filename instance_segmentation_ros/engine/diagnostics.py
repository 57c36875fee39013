"""What segmentation_node reports on /diagnostics, built without ROS: level, message and values.

The level says how the node is doing now, so it comes from the last period alone: a frame that
failed or an image that was rejected a minute ago is history, not the current state, and once
frames flow cleanly again the status is OK again. The totals since start stay in the values.
While no frames come, the message says why, as far as the node knows: no publisher yet, or the
publishers went away (`PublisherPresence`); frames that stop coming from a publisher that is
still matched, with none in the node's pipeline, are a warning.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .figures import Period, StageFigures

# The levels of diagnostic_msgs/DiagnosticStatus.
OK, WARN, ERROR = 0, 1, 2


@dataclass
class Faults:
    """Frames that failed, images rejected, depth refused: in one period, and since start."""

    failed: int = 0
    rejected: int = 0
    depth_refused: int = 0
    failed_total: int = 0
    rejected_by_kind: dict[str, int] = field(default_factory=dict)
    depth_refused_by_kind: dict[str, int] = field(default_factory=dict)


class FaultCounts:
    """Counts faults as they happen (any thread) and hands them over once per period."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults = Faults()

    def failed(self):
        """Count a frame that failed to process."""
        with self._lock:
            self._faults.failed += 1
            self._faults.failed_total += 1

    def rejected(self, kind: str) -> int:
        """Count a malformed image; returns how many of this kind so far."""
        with self._lock:
            self._faults.rejected += 1
            by_kind = self._faults.rejected_by_kind
            by_kind[kind] = by_kind.get(kind, 0) + 1
            return by_kind[kind]

    def depth_refused(self, kind: str) -> int:
        """Count a depth frame, or a colour frame's 3D, refused; returns how many of this kind."""
        with self._lock:
            self._faults.depth_refused += 1
            by_kind = self._faults.depth_refused_by_kind
            by_kind[kind] = by_kind.get(kind, 0) + 1
            return by_kind[kind]

    def take_period(self) -> Faults:
        """The faults of the period now ending, with the totals; the next one starts at zero."""
        with self._lock:
            faults = self._faults
            self._faults = Faults(failed_total=faults.failed_total,
                                  rejected_by_kind=dict(faults.rejected_by_kind),
                                  depth_refused_by_kind=dict(faults.depth_refused_by_kind))
        return faults


@dataclass
class Status:
    """One DiagnosticStatus without the ROS types."""

    level: int
    message: str
    values: dict[str, str]


class PublisherPresence:
    """The publishers of one input topic over time, and the one line worth saying when it changes.

    No publisher `notice_after_s` after watching began, when none was ever seen, is the usual
    sign of a topic nobody publishes (a missing remap: `hint` says what to do). Publishers that
    went away are a source that ended (a folder played, a bag or a video over): that is said
    once each time, with the frames received since the last time, and no hint.

    No frame for `stall_after_s` while a publisher is matched and no frame of the topic is in
    the node's pipeline is a stall: frames that never arrive whole (too large for the network
    link) or a publisher that sends nothing. It is said once each time frames stop, with
    `stall_hint`, and `stalled` says it while it lasts. A frame in flight holds the clock: in
    lock-step or every_frame mode no frame is due while the model works on one, however long.
    """

    def __init__(self, topic: str, started: float, notice_after_s: float, hint: str = '',
                 stall_after_s: float = 10.0, stall_hint: str = ''):
        self.topic = topic
        self.publishers = 0
        self.frames = 0  # since watching began, or since publishers last went away
        self._gone = None  # what went away, while no publisher is back
        self.seen = False  # whether a publisher was ever seen
        self._told_none = False
        self._started, self._notice_after_s, self._hint = started, notice_after_s, hint
        self._stall_after_s, self._stall_hint = stall_after_s, stall_hint
        self._matched = 0
        self._quiet_since = started  # since when no frame came, none was in flight, one matched
        self._frame_since_watch = False  # a frame came since the last watch_frames
        self._silence = 0.0
        self._told_stall = False

    def frame_received(self):
        """Count a frame of the topic."""
        self.frames += 1
        self._frame_since_watch = True

    def update(self, publishers: int, now: float) -> str | None:
        """Take the number of publishers seen `now`; the line to say if one is due, else None."""
        before, self.publishers = self.publishers, publishers
        if publishers:
            self.seen, self._gone = True, None
            return None
        if before:
            who = 'the publisher' if before == 1 else f'the {before} publishers'
            frames = f'{self.frames} frame' + 's' * (self.frames != 1)
            self._gone = f'{who} of {self.topic} went away after {frames}'
            self.frames = 0
            return f'{self._gone}; waiting for a new one'
        if self.seen or self._told_none or now - self._started < self._notice_after_s:
            return None
        self._told_none = True
        return (f'no publisher on {self.topic} after {self._notice_after_s:g} s'
                + (f': {self._hint}' if self._hint else '; waiting for one'))

    def watch_frames(self, now: float, matched: int, in_flight: bool) -> str | None:
        """Take what is seen `now`; the stall's line when it begins, else None.

        `matched`: the publishers the subscription is matched with; `in_flight`: whether a
        frame of the topic is in the node's pipeline. A frame since the last call, one in flight
        or no match restarts the clock.
        """
        arrived, self._frame_since_watch = self._frame_since_watch, False
        self._matched = matched
        if arrived or in_flight or not matched:
            self._quiet_since, self._silence = now, 0.0
            if arrived:
                self._told_stall = False
            return None
        self._silence = now - self._quiet_since
        if self._told_stall or self.stalled is None:
            return None
        self._told_stall = True
        return self.stalled + (f'; {self._stall_hint}' if self._stall_hint else '')

    @property
    def stalled(self) -> str | None:
        """What the stall is, while frames do not come from a matched publisher; else None."""
        if not self._matched or self._silence < self._stall_after_s:
            return None
        who = 'the publisher' if self._matched == 1 else f'{self._matched} publishers'
        return (f'no frame in {self._silence:.0f} s from {who} of {self.topic}, though '
                'matched')

    def waiting(self) -> str | None:
        """Why no frames come while the topic has no publisher; None while it has one."""
        if self.publishers:
            return None
        return self._gone or f'no publisher on {self.topic} yet'


def level(faults: Faults, received: int, waiting: str | None = None,
          stalled: str | None = None) -> tuple[int, str]:
    """Level and message from this period's faults: failures are errors, rejections warnings.

    `waiting`, where given, says why no frames came this period (`PublisherPresence.waiting`);
    `stalled` that frames stopped coming from a matched publisher, a warning.
    """
    if faults.failed:
        return ERROR, 'frames failed to process'
    if faults.rejected:
        return WARN, 'malformed images rejected'
    if faults.depth_refused:
        return WARN, 'depth refused: no 3D for some frames'
    if stalled:
        return WARN, stalled
    if waiting:
        return OK, f'waiting for images: {waiting}'
    if received == 0:
        return OK, 'waiting for images'
    return OK, 'ok'


def segmentation_status(period: Period, figures: StageFigures, faults: Faults,
                        model_name: str, model_format: str,
                        presence: PublisherPresence | None = None) -> Status:
    """The node's status for one period: rates and times of the period, counts since start.

    With the `presence` of the image topic its publishers are counted too, a period without
    frames says why, and a stall (`PublisherPresence.stalled`) is a warning.
    """
    count = max(period.processed, 1)
    values = {
        'rate_hz': f'{period.processed / max(period.seconds, 1e-9):.2f}',
        'inference_ms': f'{period.model_s / count * 1000:.1f}',
        'outputs_cpu_ms': f'{figures.output_seconds * 1000:.1f}',
        'latency_ms': f'{period.latency_s / count * 1000:.1f}',
        'latency_max_ms': f'{period.latency_max_s * 1000:.1f}',
        'frames_received': str(figures.received),
        'frames_processed': str(figures.processed),
        'frames_dropped': str(figures.dropped),
        'frames_rejected': str(sum(faults.rejected_by_kind.values())),
        'frames_failed': str(faults.failed_total),
        'model': model_name,
        'model_format': model_format,
    }
    values.update({f'rejected_{kind}': str(n)
                   for kind, n in sorted(faults.rejected_by_kind.items())})
    if faults.depth_refused_by_kind:
        values['depth_refused'] = str(sum(faults.depth_refused_by_kind.values()))
        values.update({f'depth_refused_{kind}': str(n)
                       for kind, n in sorted(faults.depth_refused_by_kind.items())})
    waiting = stalled = None
    if presence is not None:
        values['image_publishers'] = str(presence.publishers)
        waiting = None if period.processed else presence.waiting()
        stalled = presence.stalled
    return Status(*level(faults, figures.received, waiting, stalled), values)
