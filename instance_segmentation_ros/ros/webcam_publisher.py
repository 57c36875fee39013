"""Publish a webcam, a V4L2 device, a video file or a stream URL as ROS 2 images.

Topics (relative): ``image_raw`` (sensor_msgs/Image, ``bgr8``) and ``camera_info`` (the image's
header), keep-last-1, reliable (REP-2003) unless ``qos_reliability`` says ``best_effort``.
`core.video_source.VideoFrames` holds the rules (reconnect backoff, a file's rate, resizing).
A read blocks, so a capture thread publishes each frame as it is read, stamped with the node
clock; the executor serves parameters and lock-step's results.

A live source is published as it delivers. A video file is not live: as folder_player's
images, its first frame waits for the subscribers (``wait_for_subscriber``), in lock-step mode
(``wait_for_topic``) for the consumer however long that takes, and then each frame for the
consumer's result of the one before (or ``wait_timeout``), so that every frame is processed.
"""

from __future__ import annotations

import sys
import threading
import time
from functools import partial

from rcl_interfaces.msg import SetParametersResult
from rclpy.duration import Duration
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from ..core.camera_info import CameraInfoError, fill_camera_info, load_calibration
from ..core.image_conversion import fill_image_msg
from ..core.video_source import SourceError, VideoFrames
from .lock_step import LockStep
from .node_support import FatalError, FiniteRunNode, run_node
from .parameters import declare_table, descriptor, lock_step_parameters

ACK_TIMEOUT = Duration(seconds=3.0)  # at a file's end, for reliable subscribers to confirm
RELIABILITY = {'reliable': ReliabilityPolicy.RELIABLE,
               'best_effort': ReliabilityPolicy.BEST_EFFORT}
DEVICE = descriptor('Camera index ("0"), V4L2 device path (/dev/video0), video file or stream '
                    'URL', read_only=True)
DEVICE.dynamic_typing = True  # so that -p device:=0 (an integer) works as well
PARAMETERS = {
    'device': ('0', DEVICE),
    'width': (0, descriptor('Published image width in pixels; 0 = the source default',
                            read_only=True, integer=(0, 16384))),
    'height': (0, descriptor('Published image height in pixels; 0 = the source default',
                             read_only=True, integer=(0, 16384))),
    'fps': (0.0, descriptor('Publish rate in Hz; 0 = as fast as a camera delivers, or a video '
                            'file at its own frame rate', floating=(0.0, 1000.0))),
    'frame_id': ('camera', descriptor('frame_id of the published headers')),
    'camera_info_url': ('', descriptor(
        'camera_calibration YAML (file://, package:// or a path); empty = uncalibrated '
        'CameraInfo (frame size, zero matrices)')),
    'reconnect': (True, descriptor(
        'Retry opening the source with a backoff (0.5 s doubling to 5 s) when it cannot be '
        'opened or stops delivering frames, instead of exiting')),
    'qos_reliability': ('reliable', descriptor(
        'Publisher reliability: reliable (REP-2003 default for drivers) or best_effort',
        read_only=True)),
    'loop_video': (False, descriptor('Restart a video file at its end instead of exiting')),
    **lock_step_parameters('image_raw', 'frame', 'A live source ignores it'),
}


class WebcamPublisher(FiniteRunNode):
    """VideoFrames -> image_raw + camera_info; a video file in step with its consumer."""

    def __init__(self, **kwargs):
        super().__init__('webcam_publisher', **kwargs)
        self._exit_status = None
        self._wake = self.create_guard_condition(self._on_wake)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=RELIABILITY[self._start_values['qos_reliability']])
        self._image_pub = self.create_publisher(Image, 'image_raw', qos)
        self._info_pub = self.create_publisher(CameraInfo, 'camera_info', qos)
        values = self._start_values
        self._lock_step = LockStep(
            self, [self._image_pub, self._info_pub], values['wait_for_topic'].strip(),
            values['wait_for_type'], values['wait_timeout'], values['wait_for_subscriber'])
        self._appliers = {
            'fps': partial(setattr, self._frames, 'fps'),
            'reconnect': partial(setattr, self._frames, 'reconnect'),
            'loop_video': partial(setattr, self._frames, 'loop'),
            'frame_id': partial(setattr, self, '_frame_id'),
            'wait_timeout': self._lock_step.set_wait_timeout,
            'wait_for_subscriber': self._lock_step.set_wait_for_subscriber,
            'camera_info_url': lambda url: self._use_calibration(url, self._checked_calibration),
        }
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self._published = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture_main, name='capture', daemon=True)
        self._thread.start()

    # Parameters -------------------------------------------------------------------------------

    def configure(self) -> None:
        """Declare and read the parameters; a value or calibration that cannot work fails."""
        values = self._start_values = {
            name: parameter.value for name, parameter in declare_table(self, PARAMETERS).items()}
        device = values['device']
        if type(device) not in (str, int) or not str(device).strip():  # bool is no int here
            raise FatalError(f'device must be a camera index, a device path, a video file or a '
                             f'URL, got {device!r}')
        if values['qos_reliability'] not in RELIABILITY:
            raise FatalError(f'qos_reliability must be one of {", ".join(RELIABILITY)}, got '
                             f'{values["qos_reliability"]!r}')
        self._frame_id = values['frame_id']
        self._frames = VideoFrames(
            str(device), width=values['width'], height=values['height'], fps=values['fps'],
            reconnect=values['reconnect'], loop=values['loop_video'],
            report=lambda event: event.log(self.get_logger()))
        try:
            calibration = load_calibration(values['camera_info_url'])
        except CameraInfoError as exc:
            raise FatalError(f'cannot load camera_info_url: {exc}') from None
        self._use_calibration(values['camera_info_url'], calibration)

    def _use_calibration(self, url: str, calibration: dict | None):
        """Publish `calibration` (None: uncalibrated) from the next frame on, and say so."""
        self._calibration, self._info_cache = calibration, None
        if calibration is not None:
            self.get_logger().info(
                f'camera calibration {calibration["camera_name"] or url} for '
                f'{calibration["width"]}x{calibration["height"]} loaded from {url}')

    def _validate_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Refuse a camera_info_url that does not load, before rclpy commits any change.

        The calibration is taken into use once the change is committed (_apply_parameters).
        """
        self._checked_calibration = None
        for param in (param for param in params if param.name == 'camera_info_url'):
            try:
                self._checked_calibration = load_calibration(param.value)
            except CameraInfoError as exc:
                return SetParametersResult(
                    successful=False, reason=f'cannot load camera_info_url: {exc}')
        return SetParametersResult(successful=True)

    def _apply_parameters(self, params: list[Parameter]):
        """Take a committed change into use; the capture thread reads the new values."""
        for param in params:
            self._appliers.get(param.name, lambda value: None)(param.value)

    # Capture thread ---------------------------------------------------------------------------

    def _capture_main(self):
        try:
            self._publish_frames()
        except SourceError as exc:
            self._exit(1, str(exc))
        except Exception as exc:  # noqa: BLE001 - anything here must end the node, not hang it
            if not self._stop.is_set() and self.context.ok():  # else shutting down
                self._exit(1, f"capture of '{self._frames.device}' failed: "
                              f'{type(exc).__name__}: {exc}')
        finally:
            self._frames.close()

    def _publish_frames(self):
        if not self._frames.ensure_open():
            return
        if not self._frames.live:
            if not self._lock_step.wait_for_consumer():
                return
            self.started = time.monotonic()
        while (frame := self._frames.next()) is not None:
            self._publish(frame)
            if not self._frames.live and not self._lock_step.sent(f'frame {self._published}'):
                return
        if self._frames.ended:
            if not self._lock_step.delivery_confirmed:
                self._image_pub.wait_for_all_acked(ACK_TIMEOUT)
            self._exit(0, f"end of '{self._frames.device}': {self.summary()}")

    def _publish(self, frame):
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self._frame_id)
        image = fill_image_msg(Image(header=header), frame, 'bgr8')
        info = self._info_cache
        if info is None or (info.width, info.height) != (image.width, image.height):
            calibration = self._calibration
            if calibration and (calibration['width'], calibration['height']) != (
                    image.width, image.height):
                self.get_logger().warning(
                    f'camera calibration is for {calibration["width"]}x{calibration["height"]} '
                    f'but frames are {image.width}x{image.height}; publishing it unchanged')
            info = self._info_cache = fill_camera_info(
                CameraInfo(), image.width, image.height, calibration)
        info.header = header
        self._image_pub.publish(image)
        self._info_pub.publish(info)
        self._published += 1

    # Exit -------------------------------------------------------------------------------------

    def summary(self) -> str:
        """Frames published (and dropped), the rate and lock-step's timeouts."""
        elapsed = time.monotonic() - self.started
        rate = self._published / elapsed if elapsed > 0 else 0.0
        text = f'published {self._published} frames in {elapsed:.1f} s ({rate:.1f} fps)'
        if self._frames.dropped:
            text += f', dropped {self._frames.dropped}'
        if self._lock_step.lock_step and not self._frames.live:
            text += f', {self._lock_step.timeouts} wait timeouts'
        return text

    def _exit(self, status: int, message: str):
        """Called from the capture thread: log once, then let main() leave spin."""
        if self.context.ok():
            # Two calls: an rclpy logger refuses two levels from one call.
            self.get_logger().error(message) if status else self.get_logger().info(message)
        self._exit_status = status
        self._wake.trigger()

    def _on_wake(self):
        if self._exit_status is not None and not self.done.done():
            self.done.set_result(self._exit_status)

    def stop(self) -> None:
        """Stop the capture thread: it may be blocked in a read for a while."""
        self._stop.set()
        self._frames.stop()
        self._lock_step.stop()
        self._thread.join(timeout=3.0)
        if self._thread.is_alive():
            self.get_logger().warning(
                f"capture of '{self._frames.device}' is stuck in a read; exiting anyway")


def main(args: list[str] | None = None) -> int:
    """Run the node until the source ends, a fatal error, Ctrl+C or SIGTERM."""
    return run_node('webcam_publisher', WebcamPublisher, args)


if __name__ == '__main__':
    sys.exit(main())
