"""Replay a folder of images as a camera, optionally in lock-step with a consumer.

An adapter (README, folder_player, has the interface): `core.image_files.ImagePlaylist` reads
the files in turn, `engine.pacing.DiscoveryGate` says when the first image may go (from the
graph, `discovery`) and `engine.pacing.LockStepPacer` when each next one may.
"""

from __future__ import annotations

import os
import sys
import time
from types import SimpleNamespace

from rclpy.duration import Duration
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header, String

from ..core.camera_info import CameraInfoError, fill_camera_info, load_calibration
from ..core.compressed import file_payload
from ..core.image_conversion import fill_image_msg
from ..core.image_files import (
    DEFAULT_PATTERN,
    ImageFolderError,
    ImagePlaylist,
    depth_file_for,
    parse_pattern,
    read_depth_file,
)
from ..core.topics import COMPRESSED_SUFFIX
from ..engine.pacing import PROGRESS_INTERVAL, LockStepPacer
from .discovery import discovery_gate
from .message_types import get_message_type
from .node_support import FatalError, FiniteRunNode, run_node
from .parameters import SECONDS, declare_table, descriptor, lock_step_parameters

DISCOVERY_POLL = 0.05  # s between looks at the graph while the gate is closed
MIN_WAIT_NS = 1_000_000  # shortest timer period the pacer's waits are rounded up to
ACK_TIMEOUT = 3.0  # s to wait at the end for reliable subscribers to acknowledge
TRANSPORTS = {'raw': (Image, ''), 'compressed': (CompressedImage, COMPRESSED_SUFFIX)}
RELIABLE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                      reliability=ReliabilityPolicy.RELIABLE)
# Best effort matches any publisher; a lost result costs one wait_timeout, not a frame.
RESULTS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                     reliability=ReliabilityPolicy.BEST_EFFORT)

PARAMETERS = {
    'folder': ('', descriptor('Directory of the images to play', read_only=True)),
    'pattern': (DEFAULT_PATTERN, descriptor(
        'Comma separated file name globs, case-insensitive', read_only=True)),
    'transport': ('raw', descriptor(
        'raw: sensor_msgs/Image (bgr8) on image; compressed: sensor_msgs/CompressedImage on '
        'image/compressed, a JPEG or PNG as it is, other files as PNG', read_only=True)),
    'rate': (2.0, descriptor('Images per second (an upper bound in lock-step mode)',
                             floating=(0.001, 1000.0))),
    'loop': (False, descriptor('Start again after the last file instead of exiting')),
    'frame_id': ('camera', descriptor('frame_id of the published headers')),
    **lock_step_parameters('image', 'image'),
    'depth': (False, descriptor(
        'RGB-D: publish NAME_depth.png (16-bit mm) beside each colour file NAME on depth/image, '
        'with depth/camera_info, before the colour image', read_only=True)),
    'camera_info_url': ('', descriptor(
        'camera_calibration YAML of the colour camera (file://, package:// or a path) for '
        'depth/camera_info; empty = uncalibrated', read_only=True)),
    'start_delay': (0.0, descriptor('Extra seconds to wait after discovery before the first '
                                    'image', read_only=True, floating=SECONDS)),
}
# The parameters that change at run time, by the attribute of the node that uses them.
LIVE = {'rate': 'pacer', 'wait_timeout': 'pacer', 'wait_for_subscriber': 'gate',
        'loop': 'playlist', 'frame_id': 'playback'}


class FolderPlayer(FiniteRunNode):
    """Publish the images of a folder at a rate, or in lock-step with a result topic."""

    def __init__(self, **kwargs):
        super().__init__('folder_player', **kwargs)
        message_type, suffix = TRANSPORTS[self._values['transport']]
        self._image_pub = self.create_publisher(
            message_type, self.resolve_topic_name('image') + suffix, RELIABLE)
        self._file_pub = self.create_publisher(
            String, 'image_file', QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10))
        self._depth_pubs = (self.create_publisher(Image, 'depth/image', RELIABLE),
                            self.create_publisher(CameraInfo, 'depth/camera_info', RELIABLE)
                            ) if self._values['depth'] else ()
        self._ack_sub = self.create_subscription(
            self._wait_type, self._values['wait_for_topic'].strip(), self._on_ack, RESULTS
        ) if self._wait_type else None
        self.gate = discovery_gate(
            self, self._image_pub, [self._file_pub, *self._depth_pubs], self._ack_sub,
            self._depth_pubs[:1], self._values['wait_for_subscriber'], self._values['start_delay'])
        self.pacer = LockStepPacer(self._values['rate'], self._values['wait_timeout'],
                                   lock_step=self._ack_sub is not None)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self._current = self._pace_timer = None  # last file published; pacing timer, at start
        self._discovery_timer = self.create_timer(DISCOVERY_POLL, self._on_discovery)
        self.get_logger().info(
            f"playing {len(self.playlist.names)} file(s) of '{self._folder}' on "
            f"'{self._image_pub.topic_name}' at up to {self.pacer.rate:g} Hz"
            + (f", in lock-step with '{self._ack_sub.topic_name}'" if self._ack_sub else ''))

    def configure(self) -> None:
        """Declare the parameters and read them; an unusable folder or type fails here."""
        values = self._values = {name: parameter.value for name, parameter in
                                 declare_table(self, PARAMETERS).items()}
        self._folder = os.path.expanduser(values['folder'].strip())
        globs = parse_pattern(values['pattern'])
        if not self._folder:
            raise FatalError('parameter folder is required (a directory of images)')
        if not globs:
            raise FatalError(f"pattern '{values['pattern']}' holds no glob")
        if values['transport'] not in TRANSPORTS:
            raise FatalError(f"transport {values['transport']!r} is not one of "
                             f"{', '.join(TRANSPORTS)}")
        try:
            self.playlist = ImagePlaylist(self._folder, globs, values['depth'], values['loop'])
            self._calibration = load_calibration(values['camera_info_url'])
            self._wait_type = get_message_type(values['wait_for_type']) if values[
                'wait_for_topic'].strip() else None
        except ImageFolderError as exc:
            raise FatalError(str(exc)) from None
        except CameraInfoError as exc:
            raise FatalError(f'camera_info_url: {exc}') from None
        except ValueError as exc:
            raise FatalError(f'wait_for_type: {exc}') from None
        self.playback = SimpleNamespace(frame_id=values['frame_id'])

    def _apply_parameters(self, params: list[Parameter]):
        """Take a committed change into use at once (rclpy checked the declared ranges)."""
        for param in params:
            if param.name in LIVE:  # the others are read-only, or rclpy's (use_sim_time)
                setattr(getattr(self, LIVE[param.name]), param.name, param.value)
        if self._pace_timer is not None and not self.done.done():
            self._pace()

    def _on_discovery(self):
        step, logger = self.gate.poll(), self.get_logger()
        for line, log in ((step.info, logger.info), (step.warning, logger.warning)):
            if line:
                log(line)
        if step.start:
            self.destroy_timer(self._discovery_timer)
            self.started = time.monotonic()
            self._pace_timer = self.create_timer(1.0, self._pace)
            self._pace()

    def _pace(self):
        """Publish when the pacer says so, then set the timer to the pacer's next look."""
        step = self.pacer.poll()
        if step.timed_out:
            self.get_logger().warning(
                f"no message on '{self._ack_sub.topic_name}' within "
                f'{self.pacer.wait_timeout:g} s after {self._current}; going on')
        if step.go:
            self._publish_next()
            step = self.pacer.poll()
        if self.done.done() or step.wait_s is None:
            self._pace_timer.cancel()
        else:
            self._pace_timer.timer_period_ns = max(int(step.wait_s * 1e9), MIN_WAIT_NS)
            self._pace_timer.reset()

    def _on_ack(self, _msg):
        if self.pacer.acknowledged() and not self.done.done():  # else late or unrelated
            self._pace()

    def _publish_next(self):
        """Publish the next readable file, or finish when there is none left."""
        try:
            item = self.playlist.next_image(
                lambda path, reason: self.get_logger().warning(f"skipping '{path}': {reason}"))
        except ImageFolderError as exc:
            return self._fail(str(exc))
        if item is None:
            return self._finish()
        name, data, image = item
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.playback.frame_id)
        if self._values['transport'] == 'compressed':
            fmt, payload = file_payload(data, image)
            msg = CompressedImage(header=header, format=fmt, data=payload)
        else:
            msg = fill_image_msg(Image(header=header), image, 'bgr8')
        self.get_logger().debug(f'publishing {name} ({image.shape[1]}x{image.shape[0]})')
        if self._depth_pubs:
            self._publish_depth(name, header)
        self._file_pub.publish(String(data=name))
        self._image_pub.publish(msg)
        self.pacer.sent()
        self._current = name

    def _publish_depth(self, name: str, header: Header):
        """Publish NAME_depth.png and the camera_info with the colour image's header."""
        path = depth_file_for(os.path.join(self._folder, name))
        depth, reason = read_depth_file(path)
        if depth is None:
            self.get_logger().warning(f"no 3D for '{name}': '{path}' is {reason}",
                                      throttle_duration_sec=PROGRESS_INTERVAL)
            return
        message = fill_image_msg(Image(header=header), depth, 'mono16')
        message.encoding = '16UC1'  # the same bytes: REP 118's name for depth in millimetres
        size = self._calibration or {'width': depth.shape[1], 'height': depth.shape[0]}
        image_pub, info_pub = self._depth_pubs
        info_pub.publish(fill_camera_info(CameraInfo(header=header), size['width'],
                                          size['height'], self._calibration))
        image_pub.publish(message)

    def summary(self) -> str:
        """One line saying what was played, for the end of the run or an interruption."""
        timeouts = f', {self.pacer.timeouts} wait timeouts' if self._ack_sub is not None else ''
        elapsed = time.monotonic() - self.started
        return f'published {self.playlist.tally()}{timeouts} in {elapsed:.1f} s'

    def _finish(self):
        if self.playlist.read == 0:
            return self._fail(f"no file of '{self._folder}' could be read: {self.summary()}")
        summary = self.summary()
        if not self.pacer.delivery_confirmed:
            # Make sure reliable subscribers got the last image before the process ends (Fast
            # DDS 2.14 acknowledges on its periodic heartbeat: up to 3 s). A result proves it.
            for publisher in (self._image_pub, self._file_pub):
                publisher.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT))
        self.get_logger().info(f"done with '{self._folder}': {summary}")
        self.done.set_result(0)

    def _fail(self, message):
        self.get_logger().error(message)
        self.done.set_result(1)


def main(args: list[str] | None = None) -> int:
    """Play the folder until done (exit 0), a fatal error (exit 1), Ctrl+C or SIGTERM (0)."""
    return run_node('folder_player', FolderPlayer, args)


if __name__ == '__main__':
    sys.exit(main())
