"""Replay a folder of images as a camera, optionally in lock-step with a consumer.

Topics (relative, so a namespace or remapping places them):

* ``image`` (sensor_msgs/Image, ``bgr8``): one image per file, ``header.stamp`` = the time of
  publishing, ``header.frame_id`` = the ``frame_id`` parameter. With ``transport: compressed``
  a sensor_msgs/CompressedImage on ``image/compressed`` instead (after the remapped ``image``, as
  image_transport names it): a JPEG or PNG file's own bytes, other files as lossless PNG (see
  `compressed`). Everything below holds for that topic alike.
* ``image_file`` (std_msgs/String): the file name (relative to ``folder``) of every published
  image, published right before that image. A consumer pairs the two by order (both are
  reliable and published back to back), or keeps the latest name and matches by arrival.
  Each file is also logged at debug level.

Both are reliable (REP-2003) with a small history, so a subscriber that is matched does not
lose images. Discovery takes time and the first messages of a publisher are lost until the
subscriber is matched, so before the first image the player waits until ``image`` has a
subscriber and every known subscriber of ``image`` and ``image_file`` is matched, at most
``wait_for_subscriber`` seconds; then it warns and starts anyway.

In lock-step mode (``wait_for_topic``) no image is published before the consumer is there,
however long it takes to start (segmentation_node needs 15-20 s to load and warm up a model):
the player waits until a subscriber on ``image`` is matched and its subscription on
``wait_for_topic`` is matched with a publisher, logging every 10 s what it still waits for.
``wait_for_subscriber`` then bounds only the rest: that every known subscriber of ``image`` and
``image_file`` is matched, and that a node publishing ``wait_for_topic`` subscribes ``image``
(the consumer, as opposed to, say, a bag recorder; results that come from another node are
allowed, after that wait).

Files are matched against ``pattern`` (comma separated globs, case-insensitive), sorted by name
and read at publish time, so a file that vanished, is corrupt or was cut short (a JPEG or PNG
without its end, see `image_files`) is noticed then: it is skipped with a warning naming it and
the reason, and counted in the final summary. Lock-step mode
(``wait_for_topic``): after each image the player waits until a message arrives on that topic
(any type, ``wait_for_type``) or ``wait_timeout`` passes; ``rate`` stays an upper bound. That is
how a bag recording or a benchmark gets every image processed and none dropped.
``wait_timeout`` bounds only these waits for a result, never the wait for the consumer above.

With ``depth`` the folder is RGB-D: ``NAME_depth.png`` (16-bit, millimetres) beside each
colour file ``NAME.*`` is published on ``depth/image`` (``16UC1``, the colour image's header)
with ``depth/camera_info`` (from ``camera_info_url``) right before the colour image; the
``*_depth.png`` files are not played as colour images.

Without ``loop`` the node logs a summary and exits 0 once every file was played.
"""

from __future__ import annotations

import importlib
import os
import sys
import time

from rclpy.duration import Duration
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header, String

from ..core.camera_info import (
    CameraInfoError,
    fill_camera_info,
    load_calibration,
)
from ..core.compressed import file_payload
from ..core.image_conversion import fill_image_msg
from ..core.image_files import (
    DEFAULT_PATTERN,
    ImageFolderError,
    depth_file_for,
    is_depth_file,
    list_image_files,
    parse_pattern,
    read_depth_file,
    read_image_file,
)
from ..core.topics import COMPRESSED_SUFFIX
from .node_support import FatalError, FiniteRunNode, run_node
from .parameters import descriptor

DISCOVERY_POLL = 0.05  # s between checks while waiting for subscribers
PROGRESS_INTERVAL = 10.0  # s between log lines while lock-step mode waits for its consumer
UNKNOWN_NODE = '_NODE_NAME_UNKNOWN_'  # the graph's node name before discovery completes
MAX_NAMES_IN_SUMMARY = 10
ACK_TIMEOUT = 3.0  # s to wait at the end for reliable subscribers to acknowledge
TRANSPORTS = ('raw', 'compressed')


def list_images(folder: str, globs: list[str]) -> list[str]:
    """`list_image_files` of ``folder``; FatalError, worded for the log, when there are none."""
    if not folder:
        raise FatalError('parameter folder is required (a directory of images)')
    try:
        return list_image_files(folder, globs)
    except ImageFolderError as exc:
        raise FatalError(str(exc)) from None


def get_message_type(name: str) -> type:
    """Import a message class from 'pkg/msg/Type' (or 'pkg/Type'); raise ValueError if unknown."""
    try:
        from rosidl_runtime_py.utilities import get_message
    except ImportError:
        get_message = None
    if get_message is not None:
        try:
            return get_message(name)
        except (AttributeError, ImportError, ValueError) as exc:
            raise ValueError(f"unknown message type '{name}' ({exc})") from None
    parts = name.strip().split('/')
    if len(parts) == 2:
        parts.insert(1, 'msg')
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"message type '{name}' is not of the form pkg/msg/Type")
    try:
        module = importlib.import_module(f'{parts[0]}.{parts[1]}')
        return getattr(module, parts[2])
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"unknown message type '{name}' ({exc})") from None


class FolderPlayer(FiniteRunNode):
    """Publish the images of a folder at a rate, or in lock-step with a result topic."""

    def __init__(self, **kwargs):
        super().__init__('folder_player', **kwargs)
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE)
        if self._compressed:
            self._image_pub = self.create_publisher(
                CompressedImage, self.resolve_topic_name('image') + COMPRESSED_SUFFIX, qos)
        else:
            self._image_pub = self.create_publisher(Image, 'image', qos)
        self._file_pub = self.create_publisher(
            String, 'image_file', QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10))
        self._depth_pubs = None
        if self._depth:
            self._depth_pubs = (self.create_publisher(Image, 'depth/image', qos),
                                self.create_publisher(CameraInfo, 'depth/camera_info', qos))
        self._ack_sub = None
        if self._wait_topic:
            # Best effort matches any publisher; a lost ack costs one wait_timeout, not a frame.
            self._ack_sub = self.create_subscription(
                self._wait_type, self._wait_topic, self._on_ack,
                QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                           reliability=ReliabilityPolicy.BEST_EFFORT))
        # Nothing to validate beyond the declared ranges, which rclpy checks itself.
        self.add_post_set_parameters_callback(self._apply_parameters)

        self._index = 0
        self._published = 0
        self._published_this_pass = 0
        self._skips = 0
        self._skipped = []  # unique names, in order of first failure
        self._timeouts = 0
        self._current = None  # name of the last published file
        self._awaiting_ack = False
        self._last_timed_out = False
        self._overdue = False  # the rate allowed the next image while an ack was awaited
        self._ack_deadline = 0.0
        self._waiting_since = self.started
        self._next_progress = self.started + PROGRESS_INTERVAL
        # When the bounded part of discovery began: at once, or once lock-step's consumer is in.
        self._matching_since = None if self._ack_sub else self.started
        self._start_at = None
        self._timer = None
        self._discovery_timer = self.create_timer(DISCOVERY_POLL, self._on_discovery)
        self.get_logger().info(
            f"playing {len(self._files)} file(s) of '{self._folder}' on "
            f"'{self._image_pub.topic_name}' at up to {self._rate:g} Hz"
            + (f", in lock-step with '{self._ack_sub.topic_name}'" if self._ack_sub else ''))

    # Parameters -------------------------------------------------------------------------------

    def _declare_parameters(self):
        self.declare_parameter(
            'folder', '', descriptor('Directory of the images to play', read_only=True))
        self.declare_parameter(
            'pattern', DEFAULT_PATTERN, descriptor(
                'Comma separated file name globs, case-insensitive', read_only=True))
        self.declare_parameter(
            'transport', 'raw', descriptor(
                'raw: sensor_msgs/Image (bgr8) on image; compressed: sensor_msgs/CompressedImage '
                'on image/compressed, a JPEG or PNG as it is, other files as PNG',
                read_only=True))
        self.declare_parameter(
            'rate', 2.0, descriptor(
                'Images per second (an upper bound in lock-step mode)', floating=(0.001, 1000.0)))
        self.declare_parameter(
            'loop', False, descriptor('Start again after the last file instead of exiting'))
        self.declare_parameter(
            'frame_id', 'camera', descriptor('frame_id of the published headers'))
        self.declare_parameter(
            'wait_for_topic', '', descriptor(
                'Lock-step mode: no image before a subscriber on image and a publisher on '
                'this topic are matched, however long that takes; after each image wait for a '
                'message on this topic; empty = off', read_only=True))
        self.declare_parameter(
            'wait_for_type', 'std_msgs/msg/String', descriptor(
                'Message type of wait_for_topic, e.g. sensor_msgs/msg/Image', read_only=True))
        self.declare_parameter(
            'wait_timeout', 30.0, descriptor(
                'Seconds to wait for the message on wait_for_topic after each image before '
                'warning and going on; 0 = forever',
                floating=(0.0, 86400.0)))
        self.declare_parameter(
            'wait_for_subscriber', 10.0, descriptor(
                'Seconds to wait before the first image for a subscriber on image (lock-step '
                'mode: for the rest of discovery, once its consumer is matched); 0 = none',
                floating=(0.0, 86400.0)))
        self.declare_parameter(
            'depth', False, descriptor(
                'RGB-D: publish NAME_depth.png (16-bit mm) beside each colour file NAME on '
                'depth/image, with depth/camera_info, before the colour image', read_only=True))
        self.declare_parameter(
            'camera_info_url', '', descriptor(
                'camera_calibration YAML of the colour camera (file://, package:// or a path) '
                'for depth/camera_info; empty = uncalibrated', read_only=True))
        self.declare_parameter(
            'start_delay', 0.0, descriptor(
                'Extra seconds to wait after discovery before the first image',
                read_only=True, floating=(0.0, 86400.0)))

    def configure(self) -> None:
        """Declare the parameters and read them; an unusable folder or type fails here."""
        self._declare_parameters()
        names = ('folder', 'pattern', 'transport', 'rate', 'loop', 'frame_id', 'wait_for_topic',
                 'wait_for_type', 'wait_timeout', 'wait_for_subscriber', 'start_delay', 'depth',
                 'camera_info_url')
        values = {p.name: p.value for p in self.get_parameters(names)}
        self._folder = os.path.expanduser(values['folder'].strip())
        self._globs = parse_pattern(values['pattern'])
        if not self._globs:
            raise FatalError(f"pattern '{values['pattern']}' holds no glob")
        if values['transport'] not in TRANSPORTS:
            raise FatalError(f"transport {values['transport']!r} is not one of "
                             f"{', '.join(TRANSPORTS)}")
        self._compressed = values['transport'] == 'compressed'
        self._depth = values['depth']
        self._files = self._colour_files()
        try:
            self._calibration = load_calibration(values['camera_info_url'])
        except CameraInfoError as exc:
            raise FatalError(f'camera_info_url: {exc}') from None
        self._rate = values['rate']
        self._loop = values['loop']
        self._frame_id = values['frame_id']
        self._wait_topic = values['wait_for_topic'].strip()
        self._wait_timeout = values['wait_timeout']
        self._wait_subscriber = values['wait_for_subscriber']
        self._start_delay = values['start_delay']
        self._wait_type = None
        if self._wait_topic:
            try:
                self._wait_type = get_message_type(values['wait_for_type'])
            except ValueError as exc:
                raise FatalError(f'wait_for_type: {exc}') from None

    def _colour_files(self) -> list[str]:
        """The files to play: with depth, all but the depth images."""
        names = list_images(self._folder, self._globs)
        if self._depth:
            names = [name for name in names if not is_depth_file(name)]
            if not names:
                raise FatalError(f"folder '{self._folder}' holds depth images only")
        return names

    def _publish_depth(self, name: str, header: Header):
        """Publish NAME_depth.png and the camera_info with the colour image's header."""
        path = depth_file_for(os.path.join(self._folder, name))
        depth, reason = read_depth_file(path)
        if depth is None:
            self.get_logger().warning(f"no 3D for '{name}': '{path}' is {reason}",
                                      throttle_duration_sec=PROGRESS_INTERVAL)
            return
        message = Image(header=header)
        message.height, message.width = depth.shape
        message.encoding, message.step = '16UC1', depth.shape[1] * 2
        message.data = depth.astype('<u2', copy=False).tobytes()
        calibration = self._calibration
        info = fill_camera_info(CameraInfo(header=header),
                                calibration['width'] if calibration else depth.shape[1],
                                calibration['height'] if calibration else depth.shape[0],
                                calibration)
        image_pub, info_pub = self._depth_pubs
        info_pub.publish(info)
        image_pub.publish(message)

    def _apply_parameters(self, params: list[Parameter]):
        """Take a committed change of rate/loop/frame_id/timeouts into use at once."""
        for param in params:
            if param.name == 'rate':
                self._rate = param.value
                if self._timer is not None:
                    self._timer.timer_period_ns = int(1e9 / param.value)
            elif param.name == 'loop':
                self._loop = param.value
            elif param.name == 'frame_id':
                self._frame_id = param.value
            elif param.name == 'wait_timeout':
                self._wait_timeout = param.value
            elif param.name == 'wait_for_subscriber':
                self._wait_subscriber = param.value

    # Playback ---------------------------------------------------------------------------------

    def _consumer_missing(self):
        """In lock-step mode, what of the consumer is not matched yet ('' when it is)."""
        if self._ack_sub is None:
            return ''
        missing = []
        if self._image_pub.get_subscription_count() == 0:
            missing.append(f"a subscriber on '{self._image_pub.topic_name}'")
        if self._ack_sub.get_publisher_count() == 0:
            missing.append(f"a publisher on '{self._ack_sub.topic_name}'")
        return ' and '.join(missing)

    def _unmatched(self):
        """Describe what discovery still waits for, or return '' when everything is matched."""
        missing = []
        image_topic = self._image_pub.topic_name
        matched = self._image_pub.get_subscription_count()
        if matched == 0 or matched < self.count_subscribers(image_topic):
            missing.append(f"subscriber on '{image_topic}'")
        for publisher in (self._file_pub, *(self._depth_pubs or ())):
            if publisher.get_subscription_count() < self.count_subscribers(
                    publisher.topic_name):
                missing.append(f"match with the subscribers of '{publisher.topic_name}'")
        if self._ack_sub is not None and not self._consumer_subscribes():
            missing.append(
                f"subscriber on '{image_topic}'"
                + (f" and '{self._depth_pubs[0].topic_name}'" if self._depth_pubs else '')
                + f" in a node that publishes '{self._ack_sub.topic_name}'")
        return ' and '.join(missing)

    def _consumer_subscribes(self):
        """Whether a node that publishes wait_for_topic subscribes image (and depth/image).

        With depth, a consumer that subscribes image before depth/image would get its first
        frames without depth: it must subscribe both.
        """
        publishers = {(info.node_namespace, info.node_name)
                      for info in self.get_publishers_info_by_topic(self._ack_sub.topic_name)
                      if info.node_name != UNKNOWN_NODE}
        inputs = [self._image_pub, *(self._depth_pubs or ())][:2]  # image, depth/image
        subscribers = [{(info.node_namespace, info.node_name)
                        for info in self.get_subscriptions_info_by_topic(publisher.topic_name)}
                       for publisher in inputs]
        return any(all(node in nodes for nodes in subscribers) for node in publishers)

    def _on_discovery(self):
        now = time.monotonic()
        if self._start_at is None:
            if self._matching_since is None:
                missing = self._consumer_missing()
                if missing:
                    if now >= self._next_progress:
                        self._next_progress = now + PROGRESS_INTERVAL
                        self.get_logger().info(
                            f'waiting for {missing} ({now - self._waiting_since:.0f} s so far): '
                            'in lock-step mode the first image waits for its consumer')
                    return
                self._matching_since = now
            missing = self._unmatched()
            if missing and now < self._matching_since + self._wait_subscriber:
                return
            if missing and self._wait_subscriber > 0:
                self.get_logger().warning(
                    f'still no {missing} after {self._wait_subscriber:g} s; starting anyway')
            self._start_at = now + self._start_delay
        if now < self._start_at:
            return
        self._discovery_timer.cancel()
        self.destroy_timer(self._discovery_timer)
        self.started = time.monotonic()
        self._timer = self.create_timer(1.0 / self._rate, self._on_tick)
        self._publish_next()

    def _on_tick(self):
        if self._awaiting_ack:
            if self._wait_timeout > 0 and time.monotonic() >= self._ack_deadline:
                self._timeouts += 1
                self.get_logger().warning(
                    f"no message on '{self._ack_sub.topic_name}' within "
                    f'{self._wait_timeout:g} s after {self._current}; going on')
                self._awaiting_ack = False
                self._last_timed_out = True
            else:
                self._overdue = True
                return
        self._publish_next()

    def _on_ack(self, _msg):
        if not self._awaiting_ack:
            return  # not waiting: a late or unrelated message
        self._awaiting_ack = False
        if self._overdue:
            # The rate already allowed the next image: publish now and restart the period.
            self._publish_next()
            if self._timer is not None:
                self._timer.reset()

    def _publish_next(self):
        """Publish the next readable file, or finish when there is none left."""
        self._overdue = False
        logger = self.get_logger()
        while not self.done.done():
            if self._index >= len(self._files):
                if not self._loop:
                    self._finish()
                    return
                if self._published_this_pass == 0:
                    self._fail(f"no file of '{self._folder}' could be read")
                    return
                try:
                    self._files = self._colour_files()
                except FatalError as exc:
                    self._fail(str(exc))
                    return
                self._index = 0
                self._published_this_pass = 0
                logger.debug('playing the folder again (loop)')
            name = self._files[self._index]
            self._index += 1
            path = os.path.join(self._folder, name)
            data, image, reason = read_image_file(path)
            if image is None:
                self._skips += 1
                if name not in self._skipped:
                    self._skipped.append(name)
                    logger.warning(f"skipping '{path}': {reason}")
                else:
                    logger.debug(f"skipping '{path}' again")
                continue
            header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self._frame_id)
            if self._compressed:
                fmt, payload = file_payload(data, image)
                msg = CompressedImage(header=header, format=fmt, data=payload)
            else:
                msg = fill_image_msg(Image(header=header), image, 'bgr8')
            logger.debug(f'publishing {name} ({image.shape[1]}x{image.shape[0]})')
            if self._depth_pubs is not None:
                self._publish_depth(name, header)
            self._file_pub.publish(String(data=name))
            self._image_pub.publish(msg)
            self._current = name
            self._published += 1
            self._published_this_pass += 1
            if self._ack_sub is not None:
                self._last_timed_out = False
                self._awaiting_ack = True
                self._ack_deadline = time.monotonic() + self._wait_timeout
            return

    def summary(self) -> str:
        """One line saying what was played, for the end of the run or an interruption."""
        elapsed = time.monotonic() - self.started
        text = f'published {self._published} images, skipped {self._skips}'
        if self._skipped:
            names = ', '.join(self._skipped[:MAX_NAMES_IN_SUMMARY])
            more = len(self._skipped) - MAX_NAMES_IN_SUMMARY
            text += f' ({names}{f" and {more} more" if more > 0 else ""})'
        if self._ack_sub is not None:
            text += f', {self._timeouts} wait timeouts'
        return text + f' in {elapsed:.1f} s'

    def _finish(self):
        if self._published == 0:
            self._fail(f"no file of '{self._folder}' could be read: {self.summary()}")
            return
        if self._timer is not None:
            self._timer.cancel()
        summary = self.summary()
        if self._ack_sub is None or self._last_timed_out:
            # Make sure reliable subscribers got the last image before the process ends. (With
            # Fast DDS 2.14 the acknowledgement waits for its periodic heartbeat: up to 3 s.)
            # In lock-step mode the consumer's answer already proved that delivery.
            timeout = Duration(seconds=ACK_TIMEOUT)
            self._image_pub.wait_for_all_acked(timeout)
            self._file_pub.wait_for_all_acked(timeout)
        self.get_logger().info(f"done with '{self._folder}': {summary}")
        self.done.set_result(0)

    def _fail(self, message):
        if self._timer is not None:
            self._timer.cancel()
        self.get_logger().error(message)
        self.done.set_result(1)


def main(args: list[str] | None = None) -> int:
    """Play the folder until done (exit 0), a fatal error (exit 1), Ctrl+C or SIGTERM (0)."""
    return run_node('folder_player', FolderPlayer, args)


if __name__ == '__main__':
    sys.exit(main())
