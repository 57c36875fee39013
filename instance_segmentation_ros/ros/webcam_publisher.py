"""Publish a webcam, a V4L2 device, a video file or a stream URL as ROS 2 images.

Topics (relative, so a namespace or remapping places them):

* ``image_raw`` (sensor_msgs/Image, ``bgr8``)
* ``camera_info`` (sensor_msgs/CameraInfo, the same header as the image it belongs to)

Both use keep-last-1 and, per REP-2003, reliable delivery unless ``qos_reliability`` says
``best_effort``; subscribers that use the sensor-data QoS (best effort) match either way.

``cv2.VideoCapture.read()`` blocks until the next frame, so capture runs in its own thread and
publishes from there, stamping each frame with the node clock as soon as it is captured; the
executor thread only serves parameter services. ``width``/``height`` are asked of the device, and
frames are resized when a source ignores them, so subscribers always get the size that was asked.

A device that cannot be opened or stops delivering frames is reopened with a backoff (0.5 s,
doubling to 5 s) while ``reconnect`` is true; otherwise it is one error line and exit status 1.
The end of a video file is not a failure: the file restarts when ``loop_video`` is true, else
the node logs a summary and exits 0 (``reconnect`` only covers opening it, e.g. a file that
does not exist yet).
"""

from __future__ import annotations

import math
import sys
import threading
import time

import cv2
import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from ..core.camera_info import (
    CameraInfoError,
    fill_camera_info,
    load_calibration,
)
from ..core.image_conversion import fill_image_msg
from ..core.video_source import (
    SourceError,
    is_live,
    open_capture,
    parse_device,
    video_devices,
)
from .node_support import FatalError, FiniteRunNode, run_node
from .parameters import descriptor

BACKOFF_START = 0.5
BACKOFF_MAX = 5.0
MAX_SIDE = 16384
RELIABILITY = {
    'reliable': ReliabilityPolicy.RELIABLE,
    'best_effort': ReliabilityPolicy.BEST_EFFORT,
}


class WebcamPublisher(FiniteRunNode):
    """OpenCV capture -> image_raw + camera_info, with reconnection."""

    def __init__(self, **kwargs):
        super().__init__('webcam_publisher', **kwargs)
        self._exit_status = None
        self._wake = self.create_guard_condition(self._on_wake)
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=1, reliability=RELIABILITY[self._reliability]
        )
        self._image_pub = self.create_publisher(Image, 'image_raw', qos)
        self._info_pub = self.create_publisher(CameraInfo, 'camera_info', qos)
        self._checked_calibration = None  # loaded by the validation, for _apply_parameters
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)

        self._published = 0
        self._dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture_main, name='capture', daemon=True)
        self._thread.start()

    # Parameters -------------------------------------------------------------------------------

    def _declare_parameters(self):
        device = descriptor(
            'Camera index ("0"), V4L2 device path (/dev/video0), video file or stream URL',
            read_only=True)
        device.dynamic_typing = True  # so that -p device:=0 (an integer) works as well
        self.declare_parameter('device', '0', device)
        self.declare_parameter(
            'width', 0, descriptor(
                'Published image width in pixels; 0 = the source default', read_only=True,
                integer=(0, MAX_SIDE)))
        self.declare_parameter(
            'height', 0, descriptor(
                'Published image height in pixels; 0 = the source default', read_only=True,
                integer=(0, MAX_SIDE)))
        self.declare_parameter(
            'fps', 0.0, descriptor(
                'Publish rate in Hz; 0 = as fast as a camera delivers, or a video file at its '
                'own frame rate', floating=(0.0, 1000.0)))
        self.declare_parameter(
            'frame_id', 'camera', descriptor('frame_id of the published headers'))
        self.declare_parameter(
            'camera_info_url', '', descriptor(
                'camera_calibration YAML (file://, package:// or a path); empty = uncalibrated '
                'CameraInfo (frame size, zero matrices)'))
        self.declare_parameter(
            'reconnect', True, descriptor(
                'Retry opening the source with a backoff (0.5 s doubling to 5 s) when it '
                'cannot be opened or stops delivering frames, instead of exiting'))
        self.declare_parameter(
            'qos_reliability', 'reliable', descriptor(
                'Publisher reliability: reliable (REP-2003 default for drivers) or best_effort',
                read_only=True))
        self.declare_parameter(
            'loop_video', False, descriptor(
                'Restart a video file at its end instead of exiting'))

    @staticmethod
    def _check(name: str, value) -> str | None:
        """Return why ``value`` is not acceptable for parameter ``name``, or None."""
        if name == 'qos_reliability' and value not in RELIABILITY:
            return f'qos_reliability must be one of {", ".join(RELIABILITY)}, got {value!r}'
        if name == 'device' and (isinstance(value, bool) or not isinstance(value, (str, int))):
            return f'device must be a string or a camera index, got {value!r}'
        if name == 'device' and not str(value).strip():
            return 'device must not be empty (e.g. "0", /dev/video0 or a video file)'
        return None

    def configure(self) -> None:
        """Declare the parameters and read them; a source or calibration that cannot work fails."""
        self._declare_parameters()
        names = ('device', 'width', 'height', 'fps', 'frame_id', 'camera_info_url', 'reconnect',
                 'qos_reliability', 'loop_video')
        values = {p.name: p.value for p in self.get_parameters(names)}
        for name, value in values.items():
            reason = self._check(name, value)
            if reason:
                raise FatalError(reason, None)
        self._device = str(values['device']).strip()
        self._kind, self._target = parse_device(self._device)
        self._width = values['width']
        self._height = values['height']
        self._fps = values['fps']
        self._frame_id = values['frame_id']
        self._reconnect = values['reconnect']
        self._reliability = values['qos_reliability']
        self._loop_video = values['loop_video']
        try:
            calibration = load_calibration(values['camera_info_url'])
        except CameraInfoError as exc:
            raise FatalError(f'cannot load camera_info_url: {exc}') from None
        self._use_calibration(values['camera_info_url'], calibration)

    def _use_calibration(self, url: str, calibration: dict | None):
        """Publish `calibration` (None: uncalibrated) from the next frame on, and say so."""
        self._calibration = calibration
        self._info_cache = None
        if calibration is not None:
            self.get_logger().info(
                f'camera calibration {calibration["camera_name"] or url} for '
                f'{calibration["width"]}x{calibration["height"]} loaded from {url}')

    def _validate_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Refuse a change the node cannot use, before rclpy commits any of it.

        A new camera_info_url is loaded here, so that one that does not load is refused; the
        calibration is taken into use only once the change is committed (_apply_parameters).
        """
        self._checked_calibration = None
        for param in params:
            reason = self._check(param.name, param.value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            if param.name == 'camera_info_url':
                try:
                    self._checked_calibration = load_calibration(param.value)
                except CameraInfoError as exc:
                    return SetParametersResult(
                        successful=False, reason=f'cannot load camera_info_url: {exc}')
        return SetParametersResult(successful=True)

    def _apply_parameters(self, params: list[Parameter]):
        """Take a committed change into use; the capture thread reads the new values."""
        for param in params:
            if param.name == 'fps':
                self._fps = param.value
            elif param.name == 'frame_id':
                self._frame_id = param.value
            elif param.name == 'reconnect':
                self._reconnect = param.value
            elif param.name == 'loop_video':
                self._loop_video = param.value
            elif param.name == 'camera_info_url':
                self._use_calibration(param.value, self._checked_calibration)

    # Capture thread ---------------------------------------------------------------------------

    def _open(self):
        """Open the source and ask it for the configured size and rate; raise SourceError."""
        return open_capture(self._kind, self._target, self._width, self._height, self._fps)

    def _file_period(self, cap):
        """Seconds between frames of a file: the fps parameter, else the file's own rate."""
        if self._fps > 0:
            return 1.0 / self._fps
        own = cap.get(cv2.CAP_PROP_FPS)
        if not math.isfinite(own) or own <= 0 or own > 1000:
            self.get_logger().warning(
                f"'{self._device}' does not state its frame rate; playing it at 30 fps",
                once=True)
            own = 30.0
        return 1.0 / own

    def _target_size(self, frame: np.ndarray) -> tuple[int, int] | None:
        """Return the (width, height) to publish ``frame`` at, or None to keep its own size."""
        height, width = frame.shape[:2]
        if self._width and self._height:
            return self._width, self._height
        if self._width:
            return self._width, max(1, round(height * self._width / width))
        if self._height:
            return max(1, round(width * self._height / height)), self._height
        return None

    def _capture_main(self):
        try:
            self._capture_loop()
        except Exception as exc:  # noqa: BLE001 - anything here must end the node, not hang it
            if self._stop.is_set() or not self.context.ok():
                return  # shutting down: publish/log failures are expected
            self._exit(1, f"capture of '{self._device}' failed: {type(exc).__name__}: {exc}")

    def _capture_loop(self):
        logger = self.get_logger()
        cap = None
        delay = BACKOFF_START
        outage = None  # monotonic time at which the source became unavailable
        ever_received = False
        restarting = False  # reopening a video file for loop_video: not news worth a log line
        try:
            while not self._stop.is_set():
                if cap is None:
                    try:
                        cap = self._open()
                    except SourceError as exc:
                        message = (f"cannot open device '{self._device}': {exc} "
                                   f'(video devices: {video_devices()})')
                        if not self._reconnect:
                            self._exit(1, message)
                            return
                        outage, delay = self._retry_later(message, 'retrying', outage, delay)
                        continue
                    live = is_live(self._kind, cap)
                    period = 0.0 if live else self._file_period(cap)
                    frames_this_open = 0
                    size = None
                    next_due = time.monotonic()
                    description = (
                        f"'{self._device}' ({cap.getBackendName()}, "
                        f'{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x'
                        f'{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))})')
                    if restarting or outage is not None:
                        logger.debug(f'opened {description}')  # news once frames arrive
                    else:
                        logger.info(f'opened {description}')
                    restarting = False

                ok, frame = cap.read()
                if self._stop.is_set():
                    return
                if live:
                    stamp = self.get_clock().now()
                    if not ok:
                        cap.release()
                        cap = None
                        what = ('stopped delivering frames' if frames_this_open
                                else 'was opened but delivered no frame')
                        if not self._reconnect:
                            self._exit(1, f"'{self._device}' {what}")
                            return
                        outage, delay = self._retry_later(
                            f"'{self._device}' {what}", 'reopening', outage, delay)
                        continue
                    frames_this_open += 1
                    if self._fps > 0:
                        # Keep reading at the camera's rate, publish at most fps of the frames.
                        period = 1.0 / self._fps
                        now = time.monotonic()
                        if now < next_due - 0.25 * period:
                            continue
                        next_due = max(next_due + period, now - period)
                else:
                    if not ok:
                        cap.release()
                        cap = None
                        if frames_this_open == 0:
                            self._exit(1, f"no frame could be read from '{self._device}'")
                            return
                        if self._loop_video:
                            logger.debug(f"end of '{self._device}', restarting it (loop_video)")
                            restarting = True
                            continue
                        self._exit(0, f"end of '{self._device}': {self.summary()}")
                        return
                    frames_this_open += 1
                    if self._fps > 0:
                        period = 1.0 / self._fps
                    self._stop.wait(max(0.0, next_due - time.monotonic()))
                    if self._stop.is_set():
                        return
                    stamp = self.get_clock().now()
                    next_due = max(next_due + period, time.monotonic() - period)

                if outage is not None:
                    what = 'recovered: receiving' if ever_received else 'receiving'
                    logger.info(f"{what} frames from '{self._device}' after "
                                f'{time.monotonic() - outage:.1f} s of retrying')
                    outage = None
                ever_received = True
                delay = BACKOFF_START
                frame = self._prepare(frame, size)
                if frame is None:
                    continue
                if size is None and self._target_size(frame) is None:
                    size = frame.shape[:2]  # the first frame fixes the size of this opening
                self._publish(frame, stamp)
        finally:
            if cap is not None:
                cap.release()

    def _prepare(self, frame: np.ndarray | None,
                 size: tuple[int, int] | None) -> np.ndarray | None:
        """Return ``frame`` as a BGR array of the size to publish, or None to drop it."""
        logger = self.get_logger()
        if frame is None or frame.size == 0:
            self._dropped += 1
            logger.warning('dropping empty frames', throttle_duration_sec=5.0)
            return None
        channels = 1 if frame.ndim == 2 else frame.shape[2] if frame.ndim == 3 else 0
        if frame.dtype != 'uint8' or channels not in (1, 3, 4):
            self._dropped += 1
            logger.warning(f'dropping frames of shape {frame.shape} {frame.dtype}',
                        throttle_duration_sec=5.0)
            return None
        if channels == 1:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        elif channels == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
        target = self._target_size(frame)
        if target is not None:
            if (frame.shape[1], frame.shape[0]) != target:
                shrink = target[0] < frame.shape[1]
                frame = cv2.resize(
                    frame, target, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        elif size is not None and frame.shape[:2] != size:
            self._dropped += 1
            logger.warning(
                f'dropping frames of {frame.shape[1]}x{frame.shape[0]}: this source started at '
                f'{size[1]}x{size[0]} (set width/height to resize instead)',
                throttle_duration_sec=5.0)
            return None
        return frame

    def _camera_info(self, width: int, height: int) -> CameraInfo:
        cached = self._info_cache
        if cached is not None and (cached.width, cached.height) == (width, height):
            return cached
        calibration = self._calibration
        if calibration is not None and (calibration['width'], calibration['height']) != (
                width, height):
            self.get_logger().warning(
                f'camera calibration is for {calibration["width"]}x{calibration["height"]} '
                f'but frames are {width}x{height}; publishing it unchanged')
        info = fill_camera_info(CameraInfo(), width, height, calibration)
        self._info_cache = info
        return info

    def _publish(self, frame: np.ndarray, stamp: Time):
        header = Header(stamp=stamp.to_msg(), frame_id=self._frame_id)
        image = Image(header=header)
        fill_image_msg(image, frame, 'bgr8')
        info = self._camera_info(image.width, image.height)
        info.header = header
        self._image_pub.publish(image)
        self._info_pub.publish(info)
        self._published += 1

    # Exit -----------------------------------------------------------------------------------

    def summary(self) -> str:
        """Frames published (and dropped) and the rate, for the end of a file or Ctrl+C."""
        elapsed = time.monotonic() - self.started
        rate = self._published / elapsed if elapsed > 0 else 0.0
        text = f'published {self._published} frames in {elapsed:.1f} s ({rate:.1f} fps)'
        if self._dropped:
            text += f', dropped {self._dropped}'
        return text

    def _exit(self, status: int, message: str):
        """Called from the capture thread: log once, then let main() leave spin."""
        if self.context.ok():
            if status:
                self.get_logger().error(message)
            else:
                self.get_logger().info(message)
        self._exit_status = status
        self._wake.trigger()

    def _on_wake(self):
        if self._exit_status is not None and not self.done.done():
            self.done.set_result(self._exit_status)

    def _retry_later(self, problem, action, outage, delay):
        """Warn once per outage, wait `delay`, and return (outage start, next delay)."""
        if outage is None:
            outage = time.monotonic()
            self.get_logger().warning(f'{problem}; {action} with a backoff up to '
                                   f'{BACKOFF_MAX:g} s because reconnect is true')
        else:
            self.get_logger().debug(f'{problem}; retrying in {delay:g} s')
        self._stop.wait(delay)
        return outage, min(2 * delay, BACKOFF_MAX)

    def stop(self) -> None:
        """Stop the capture thread: it may be blocked in a read for a while."""
        self._stop.set()
        self._thread.join(timeout=3.0)
        if self._thread.is_alive():
            self.get_logger().warning(
                f"capture of '{self._device}' is stuck in a read; exiting anyway")


def main(args: list[str] | None = None) -> int:
    """Run the node until the source ends, a fatal error, Ctrl+C or SIGTERM."""
    return run_node('webcam_publisher', WebcamPublisher, args)


if __name__ == '__main__':
    sys.exit(main())
