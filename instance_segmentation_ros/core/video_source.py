"""Open a camera, a V4L2 device, a video file or a stream URL with OpenCV, and read its frames.

One meaning of ``device`` for ``webcam_publisher`` and the CLI's ``webcam`` command: an integer
is a camera index, ``/dev/...`` a V4L2 device, ``file://...`` or anything else without a scheme
a video file, and other URLs (rtsp://, http://) a stream. A source is *live* when it has no end
(a camera, or a stream without a frame count): its running dry is a failure, while the end of a
file is a normal end.

`VideoFrames` holds the one set of rules both use for the frames themselves: when a live source
is lost, how it is reopened, at what rate a file plays, and what a frame must be to pass.
"""

from __future__ import annotations

import glob
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InstanceSegmentationError

BACKOFF_START_S = 0.5  # first wait before reopening a source that failed; doubles each time
BACKOFF_MAX_S = 5.0
FALLBACK_FPS = 30.0  # for a file that states no frame rate
MAX_FPS = 1000.0  # a stated rate above this is no rate (some containers give 90000)
LOST_AFTER_S = 0.3  # a live source whose reads fail this long after its last frame is lost
FAILED_READ_PAUSE_S = 0.01  # between reads of a live source that just failed one
DROP_WARNING_INTERVAL_S = 5.0  # at most one warning this often per kind of dropped frame
EARLY_FRACTION = 0.25  # live with fps: a frame this much of a period early still counts


class SourceError(InstanceSegmentationError):
    """A capture source that cannot be opened or read; the text says why."""


class OpenError(SourceError):
    """A source that cannot be opened: the text names the device, `reason` says why."""

    def __init__(self, device: str, reason: str):
        super().__init__(f"cannot open device '{device}': {reason} "
                         f'(video devices: {video_devices()})')
        self.reason = reason


class SourceLostError(SourceError):
    """A live source that stopped delivering frames."""


def quiet_opencv():
    """Silence OpenCV's own open/read warnings: the callers report those errors themselves."""
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:  # OpenCV 4.6 (Ubuntu 24.04 / Jazzy) has only cv2.setLogLevel(int)
        cv2.setLogLevel(0)  # cv::utils::logging::LOG_LEVEL_SILENT


def video_devices() -> str:
    """The /dev/video* devices, for error messages ('none' when there are none)."""
    return ', '.join(sorted(glob.glob('/dev/video*'))) or 'none'


def parse_device(device: str):
    """Split ``device`` into (kind, target): kind is 'camera', 'file' or 'stream'."""
    text = device.strip()
    if text.isdigit():
        return 'camera', int(text)
    if text.startswith('/dev/'):
        return 'camera', text
    if text.lower().startswith('file://'):
        return 'file', text[len('file://'):]
    if '://' in text:
        return 'stream', text
    return 'file', text


def open_capture(kind: str, target, width: int = 0, height: int = 0, fps: float = 0.0):
    """An opened cv2.VideoCapture; cameras are asked for the size and rate given (0: theirs).

    Raises SourceError saying why the source cannot be opened.
    """
    if kind == 'file':
        try:
            with open(target, 'rb'):
                pass
        except OSError as exc:
            raise SourceError(exc.strerror or str(exc)) from None
    if kind == 'camera' and isinstance(target, str) and not os.path.exists(target):
        raise SourceError('no such device')
    if kind == 'camera' and isinstance(target, int) and sys.platform.startswith('linux'):
        if not os.path.exists(f'/dev/video{target}'):
            raise SourceError(f'no such device /dev/video{target}')
    if kind == 'camera':
        cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            cap = cv2.VideoCapture(target)
    else:
        cap = cv2.VideoCapture(target)
    if not cap.isOpened():
        cap.release()
        raise SourceError('OpenCV could not open it')
    if kind == 'camera':
        if width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            cap.set(cv2.CAP_PROP_FPS, fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a stale queued one
    return cap


def is_live(kind: str, cap) -> bool:
    """True for sources without an end: cameras, and streams that state no frame count."""
    return kind == 'camera' or (kind == 'stream' and cap.get(cv2.CAP_PROP_FRAME_COUNT) <= 0)


@dataclass(frozen=True)
class SourceEvent:
    """What `VideoFrames` noticed, for its caller's log.

    `kind` is one of opened, retrying (a backoff wait), lost (a live source stopped), recovered,
    restarted (a file again from its start), ended (a file's end), dropped (a frame that cannot
    be used) and rate (a file that states no frame rate); `level` is the logging level to use:
    debug, info or warning.
    """

    kind: str
    level: str
    text: str

    def log(self, logger) -> None:
        """Log the text on `logger` at the event's level.

        One call per level: an rclpy logger refuses two levels from one place in the code.
        """
        if self.level == 'warning':
            logger.warning(self.text)
        elif self.level == 'info':
            logger.info(self.text)
        else:
            logger.debug(self.text)


class Clock:
    """Monotonic seconds and waits that a stop cuts short; tests give VideoFrames a fake one."""

    def now(self) -> float:
        """Seconds of a monotonic clock."""
        return time.monotonic()

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Sleep `seconds`, or less when `stop` is set meanwhile."""
        stop.wait(seconds)


class VideoFrames:
    """The frames of one device as BGR uint8 arrays, by one set of rules for every caller.

    - A file plays, when `pace`, at `fps`, else at its own rate, else at FALLBACK_FPS (said
      once); without `pace` as fast as it is read. Its end is the end (next() returns None),
      or its start again with `loop`.
    - A live source gives each frame it delivers, or at most `fps` per second. It is lost when
      its reads fail for LOST_AFTER_S after its last frame (or its opening), so that one failed
      read between frames is only read again.
    - A source that cannot be opened, or a live one that is lost, is opened again with a
      backoff (BACKOFF_START_S doubling to BACKOFF_MAX_S) while `reconnect` is true: one warning
      per outage and one line when frames come again. Otherwise next() raises OpenError or
      SourceLostError; a file of which no frame can be read raises SourceError.
    - Grey and BGRA frames become BGR. With `width` and/or `height` every frame is resized to
      that (one of them alone: the other follows the aspect ratio); without, the first frame
      of an opening fixes the size and frames of another size are dropped. Dropped frames
      (also empty or of an odd type) are counted in `dropped` and warned about at most every
      DROP_WARNING_INTERVAL_S per kind.

    What happens is reported as SourceEvents to `report`. `fps`, `reconnect` and `loop` may be
    changed between calls; stop(), from any thread, ends a wait at once and next() then returns
    None. `clock` and `open_source` (open_capture's signature) are there for tests.
    """

    def __init__(self, device: str, *, width: int = 0, height: int = 0, fps: float = 0.0,
                 reconnect: bool = False, loop: bool = False, pace: bool = True,
                 report: Callable[[SourceEvent], None] | None = None,
                 clock: Clock | None = None, open_source: Callable = open_capture):
        self.device = str(device).strip()
        self.kind, self.target = parse_device(self.device)
        self.width, self.height = width, height
        self.fps, self.reconnect, self.loop, self.pace = fps, reconnect, loop, pace
        self.live = None  # known once opened
        self.ended = False
        self.dropped = 0
        self._report = report or (lambda event: None)
        self._clock = clock or Clock()
        self._open_source = open_source
        self._stop = threading.Event()
        self._capture = None
        self._own_fps = None  # a file's own rate, None when it states none
        self._outage = None  # when the source became unavailable
        self._delay = BACKOFF_START_S
        self._ever_received = False
        self._restarting = False  # opening a file again for loop: no news worth a log line
        self._warned = {}  # kind of dropped frame -> when it was last warned about
        self._rate_warned = False

    # Opening ----------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the source (once, no retry); OpenError says why it cannot be opened."""
        try:
            capture = self._open_source(self.kind, self.target, self.width, self.height,
                                        self.fps)
        except SourceError as exc:
            raise OpenError(self.device, str(exc)) from None
        self._capture = capture
        self.live = is_live(self.kind, capture)
        rate = capture.get(cv2.CAP_PROP_FPS)
        self._own_fps = rate if math.isfinite(rate) and 0 < rate <= MAX_FPS else None
        self._frames_this_open = 0
        self._size = None  # (height, width) fixed by the first frame, without width/height
        now = self._clock.now()
        self._last_frame_at = now
        if not self._restarting:  # a file again from its start keeps its pace
            self._next_due = now
        quiet = self._restarting or self._outage is not None  # news only once frames arrive
        self._emit('opened', 'debug' if quiet else 'info',
                   f"opened '{self.device}' ({capture.getBackendName()}, "
                   f'{int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))}x'
                   f'{int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))})')
        self._restarting = False

    @property
    def file_fps(self) -> float:
        """A file's frame rate: its own, else FALLBACK_FPS (said once). Needs it opened."""
        if self._own_fps is not None:
            return self._own_fps
        if not self._rate_warned:
            self._rate_warned = True
            self._emit('rate', 'warning', f"'{self.device}' does not state its frame rate; "
                                          f'playing it at {FALLBACK_FPS:g} fps')
        return FALLBACK_FPS

    @property
    def frame_count(self) -> int | None:
        """The number of frames of an opened file, None when live or unknown."""
        if self._capture is None or self.live:
            return None
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        return count if count > 0 else None

    # Reading ----------------------------------------------------------------------------------

    def next(self) -> np.ndarray | None:
        """The next frame, or None at the end of a file or after stop() (see the class)."""
        while not self._stop.is_set() and not self.ended:
            if not self.ensure_open():
                break
            ok, frame = self._capture.read()
            if self._stop.is_set():
                break
            now = self._clock.now()
            if not ok:
                if self.live:
                    self._read_failed(now)
                else:
                    self._file_ended()
                continue
            self._frames_this_open += 1
            if self.live:
                self._last_frame_at = now
                if self._early(now):
                    continue
            elif self.pace and not self._wait_until_due():
                break
            self._receiving()
            frame = self._prepare(frame)
            if frame is not None:
                return frame
        return None

    def ensure_open(self) -> bool:
        """Open the source unless it is, as next() would; False when stopped meanwhile.

        Without reconnect a source that cannot be opened raises OpenError; with it, the opening
        is tried again after each backoff wait.
        """
        while self._capture is None:
            if self._stop.is_set():
                return False
            self._reopen()
        return True

    def stop(self) -> None:
        """Make next() return None, also from another thread and in the middle of a wait."""
        self._stop.set()

    def close(self) -> None:
        """Release the capture."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _reopen(self) -> None:
        """Open the source, or, when it cannot be and reconnect is on, wait a backoff."""
        try:
            self.open()
        except OpenError as exc:
            if not self.reconnect:
                raise
            self._retry_later('retrying', str(exc), 'retrying')

    def _read_failed(self, now: float) -> None:
        """A live read failed: read again, or, LOST_AFTER_S after the last frame, it is lost."""
        if now - self._last_frame_at < LOST_AFTER_S:
            self._clock.wait(FAILED_READ_PAUSE_S, self._stop)
            return
        what = ('stopped delivering frames' if self._frames_this_open
                else 'was opened but delivered no frame')
        self.close()
        if not self.reconnect:
            raise SourceLostError(f"'{self.device}' {what}")
        self._retry_later('lost', f"'{self.device}' {what}", 'reopening')

    def _file_ended(self) -> None:
        """At a file's end: the end, or its start again with loop; no frame at all: an error."""
        self.close()
        if self._frames_this_open == 0:
            raise SourceError(f"no frame could be read from '{self.device}'")
        if self.loop:
            self._emit('restarted', 'debug', f"end of '{self.device}', starting it again (loop)")
            self._restarting = True
        else:
            self._emit('ended', 'debug', f"end of '{self.device}'")
            self.ended = True

    def _early(self, now: float) -> bool:
        """Live with fps: whether this frame comes too soon after the last one given."""
        if self.fps <= 0:
            return False
        period = 1.0 / self.fps
        if now < self._next_due - EARLY_FRACTION * period:
            return True
        self._next_due = max(self._next_due + period, now - period)
        return False

    def _wait_until_due(self) -> bool:
        """A file: wait for this frame's turn at fps or the file's rate; False when stopped.

        The frames keep to a grid of periods. One asked for a little late (less than a period)
        keeps it; one asked for later (the caller waited for something) goes at once and
        starts the grid anew, so the rate stays an upper bound: no burst to catch up.
        """
        period = 1.0 / (self.fps if self.fps > 0 else self.file_fps)
        self._clock.wait(max(0.0, self._next_due - self._clock.now()), self._stop)
        if self._stop.is_set():
            return False
        now = self._clock.now()
        slot = self._next_due if now - self._next_due < period else now
        self._next_due = slot + period
        return True

    def _receiving(self) -> None:
        """A frame came: the end of an outage, if there was one, is news."""
        if self._outage is not None:
            what = 'recovered: receiving' if self._ever_received else 'receiving'
            self._emit('recovered', 'info',
                       f"{what} frames from '{self.device}' after "
                       f'{self._clock.now() - self._outage:.1f} s of retrying')
            self._outage = None
        self._ever_received = True
        self._delay = BACKOFF_START_S

    def _retry_later(self, kind: str, problem: str, action: str) -> None:
        """Warn once per outage, then wait the backoff's next delay."""
        if self._outage is None:
            self._outage = self._clock.now()
            self._emit(kind, 'warning', f'{problem}; {action} with a backoff up to '
                                        f'{BACKOFF_MAX_S:g} s because reconnect is true')
        else:
            self._emit('retrying', 'debug', f'{problem}; retrying in {self._delay:g} s')
        self._clock.wait(self._delay, self._stop)
        self._delay = min(2 * self._delay, BACKOFF_MAX_S)

    # Frames -----------------------------------------------------------------------------------

    def _prepare(self, frame: np.ndarray | None) -> np.ndarray | None:
        """`frame` as a BGR uint8 array of the size to give, or None to drop it."""
        if frame is None or frame.size == 0:
            return self._drop('empty', 'dropping empty frames')
        channels = 1 if frame.ndim == 2 else frame.shape[2] if frame.ndim == 3 else 0
        if frame.dtype != np.uint8 or channels not in (1, 3, 4):
            return self._drop('type', f'dropping frames of shape {frame.shape} {frame.dtype}')
        if channels == 1:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        elif channels == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
        target = self._target_size(frame)
        if target is None:
            if self._size is None:
                self._size = frame.shape[:2]
            elif frame.shape[:2] != self._size:
                return self._drop(
                    'size', f'dropping frames of {frame.shape[1]}x{frame.shape[0]}: this source '
                            f'started at {self._size[1]}x{self._size[0]} (set width/height to '
                            'resize instead)')
        elif (frame.shape[1], frame.shape[0]) != target:
            shrink = target[0] < frame.shape[1]
            frame = cv2.resize(
                frame, target, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return frame

    def _target_size(self, frame: np.ndarray) -> tuple[int, int] | None:
        """The (width, height) to give `frame` at, or None to keep its own size."""
        height, width = frame.shape[:2]
        if self.width and self.height:
            return self.width, self.height
        if self.width:
            return self.width, max(1, round(height * self.width / width))
        if self.height:
            return max(1, round(width * self.height / height)), self.height
        return None

    def _drop(self, kind: str, text: str) -> None:
        """Count a dropped frame; warn unless this kind was warned about lately."""
        self.dropped += 1
        now = self._clock.now()
        last = self._warned.get(kind)
        quiet = last is not None and now - last < DROP_WARNING_INTERVAL_S
        if not quiet:
            self._warned[kind] = now
        self._emit('dropped', 'debug' if quiet else 'warning', text)

    def _emit(self, kind: str, level: str, text: str) -> None:
        self._report(SourceEvent(kind, level, text))
