"""Open a camera, a V4L2 device, a video file or a stream URL with OpenCV.

One meaning of ``device`` for ``webcam_publisher`` and the CLI's ``webcam`` command: an integer
is a camera index, ``/dev/...`` a V4L2 device, ``file://...`` or anything else without a scheme
a video file, and other URLs (rtsp://, http://) a stream. A source is *live* when it has no end
(a camera, or a stream without a frame count): its running dry is a failure, while the end of a
file is a normal end.
"""

import glob
import os
import sys

import cv2

from ..errors import InstanceSegmentationError


class SourceError(InstanceSegmentationError):
    """A capture source that cannot be opened; the text says why."""


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
