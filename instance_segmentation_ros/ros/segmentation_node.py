"""segmentation_node: Mask R-CNN instance segmentation of a camera image topic.

Subscribes `image`; publishes `masks` (mono8 instance labels), `detections_json`,
`detections` and `label_info` (vision_msgs, where installed), `overlay` (bgr8) and
`/diagnostics`. With `depth.enabled` it also subscribes an aligned `depth/image` and
`depth/camera_info` and publishes each instance's 3D (`depth_input`, `depth3d`):
`detections_3d`, `markers`, `points` and 3D fields in `detections_json`. The names are
relative, as image_proc's are: a namespace places the outputs and `-r image:=/camera/image_raw`
picks the camera. With `cameras: [left, right]` one model serves several cameras, each with
these topics under its own name (`left/image`, `left/masks`, ...; `served_camera`).

The node is an adapter: parameters, topics and messages. The work is done by
`engine.pipeline.TwoStagePipeline`: the subscription only drops each frame into its one-slot
mailbox, one thread runs the model on the newest frame and another publishes the frame before
it, so a slow model never builds a queue and the executor stays free to answer parameter
requests meanwhile. Several cameras each keep their newest frame, and the model takes the
camera served least recently (`engine.mailboxes.FairFrameSlots`). `frame_wait_fraction` and
`output_wait_fraction` set its waits; /diagnostics, one status per camera, is built by
`diagnostics`. Every output carries the input header.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from ..core.compressed import compressed_msg_to_bgr
from ..core.depth_input import DepthInput
from ..core.detections import PostprocessSettings, RawDetections
from ..core.image_conversion import image_msg_to_bgr
from ..core.labels import LabelMapError, load_label_map
from ..core.postprocess import MAX_INSTANCES
from ..engine.diagnostics import segmentation_status
from ..engine.mailboxes import FairFrameSlots, FrameQueue
from ..engine.pipeline import StagePolicy, TwoStagePipeline
from ..errors import InstanceSegmentationError
from ..model.segmenter import Segmenter
from ..model.source import BUILTIN_CAPTION, DEMO_MODEL_NAME, with_builtin_defaults
from ..model.tensorflow_model import SegmentationModel, release_memory
from . import depth_msgs, detection_msgs, exit_guard
from .node_support import FatalError, run_node
from .parameters import declare_table, descriptor, parameter_error_text
from .served_camera import WARNING_INTERVAL_S, DepthSettings, ServedCamera

DIAGNOSTICS_PERIOD_S = 1.0
INPUT_CHECK_PERIOD_S = 0.5
NO_PUBLISHER_NOTICE_S = 5.0
RELIABILITIES = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
                 'reliable': ReliabilityPolicy.RELIABLE}
TRANSPORTS = {'raw': (Image, '', image_msg_to_bgr),
              'compressed': (CompressedImage, '/compressed', compressed_msg_to_bgr)}
PROCESSING_MODES = ('latest', 'every_frame')
CAMERA_OF_FRAME = itemgetter(0)  # the pipeline's frames are (ServedCamera, message)


UNIT = (0.0, 1.0)
PARAMETERS = {
    'model_path': ('', descriptor(
        'SavedModel folder, frozen graph .pb, zoo model folder or downloaded zoo model name',
        read_only=True)),
    'label_map_path': ('', descriptor(
        '.pbtxt StringIntLabelMap or text file (one name per line); empty = the labels.txt, '
        'label_map.pbtxt or labels.pbtxt beside the model, else COCO',
        read_only=True)),
    'score_threshold': (0.5, descriptor('Minimum detection score kept', floating=UNIT)),
    'mask_threshold': (0.5, descriptor('Mask probability above which a pixel is in',
                                       floating=UNIT)),
    'classes': (Parameter.Type.STRING_ARRAY, descriptor(
        'Class names or ids to keep; empty = all')),
    'max_detections': (100, descriptor(
        'Most instances kept per frame (the mask image is mono8)',
        integer=(1, MAX_INSTANCES))),
    'overlay_alpha': (0.5, descriptor('Opacity of the mask colours in the overlay',
                                      floating=UNIT)),
    'frame_wait_fraction': (0.1, descriptor(
        'Wait up to this fraction of the model time for the next camera frame when it is due '
        'sooner than the waiting frame is old, rather than run the model on the older one '
        '(0 = never wait)', floating=UNIT)),
    'output_wait_fraction': (0.03, descriptor(
        "Publish a frame's outputs before starting the next model call when they take at most "
        'this fraction of the model time (where both share CPU cores, the outputs come out '
        'sooner for at most this fraction of throughput); 0 = always overlap them',
        floating=UNIT)),
    # Not read_only only because a read-only string array cannot default to []: a change after
    # start-up is refused (_validate_parameters).
    'cameras': (Parameter.Type.STRING_ARRAY, descriptor(
        'Camera namespaces served by the one model, each with its own topics (c/image in; '
        'c/masks, c/overlay, ... out), newest frame of each in turn; empty = the single '
        'camera on image. Read at start-up')),
    'input_reliability': ('auto', descriptor(
        'QoS reliability of the image subscription: auto (reliable when every publisher of '
        'the topic is, else best effort), best_effort or reliable', read_only=True)),
    'input_transport': ('raw', descriptor(
        'raw: sensor_msgs/Image on image; compressed: sensor_msgs/CompressedImage (JPEG or '
        'PNG) on image/compressed, as image_transport names it', read_only=True)),
    'processing_mode': ('latest', descriptor(
        'latest: the newest frame, dropping older ones (live cameras); every_frame: each frame '
        'in arrival order, up to queue_size pending (bags)', read_only=True)),
    'queue_size': (30, descriptor(
        'every_frame: frames held while the model is busy; when full the oldest is dropped '
        'and counted', read_only=True, integer=(1, 10000))),
    'jpeg_quality': (95, descriptor('JPEG quality of overlay/compressed',
                                    integer=(1, 100))),
    'tf_device': ('auto', descriptor('TensorFlow device: auto, cpu or gpu:N', read_only=True)),
    'device': ('', descriptor(
        'Deprecated old name of tf_device, removed in the next release; when set, it is the '
        'TensorFlow device', read_only=True)),
    'intra_op_threads': (0, descriptor(
        'TensorFlow intra-op threads (0 = TensorFlow default)', read_only=True,
        integer=(0, 256))),
    'inter_op_threads': (0, descriptor(
        'TensorFlow inter-op threads (0 = TensorFlow default)', read_only=True,
        integer=(0, 256))),
    'warmup': (True, descriptor('Run the model once at start-up so the first frame is fast',
                                read_only=True)),
    'warmup_width': (640, descriptor(
        'Width of the warm-up image (the camera width gives the fastest first frame)',
        read_only=True, integer=(1, 16384))),
    'warmup_height': (480, descriptor(
        'Height of the warm-up image (the camera height gives the fastest first frame)',
        read_only=True, integer=(1, 16384))),
    'depth.enabled': (False, descriptor(
        'Also subscribe depth/image (16UC1 mm or 32FC1 m, aligned to the colour image) and '
        'depth/camera_info, and publish each instance in 3D', read_only=True)),
    'depth.sync_tolerance': (0.02, descriptor(
        'Seconds between the stamps of a colour frame and the depth frame paired with it '
        '(the nearest)', floating=(0.0, 1.0))),
    'depth.allow_frame_mismatch': (False, descriptor(
        'Pair depth and colour of different frame_ids (refused by default: aligned depth '
        'carries the colour frame_id)')),
    'depth.percentile': (5.0, descriptor(
        "Percent of an instance's interior depths ignored at each end of its depth band "
        '(stray and flying pixels)', floating=(0.0, 25.0))),
    'depth.max_gap': (0.1, descriptor(
        "Metres: the largest jump in depth within one object's surface; depths beyond a jump "
        'are background a mask bleeds over', floating=(0.001, 100.0))),
    'depth.min_points': (10, descriptor(
        'Fewest depth points that give an instance a 3D position', integer=(1, 1000000))),
    'depth.history': (30, descriptor(
        'Depth frames kept for pairing: more than arrive while a colour frame waits for its '
        'outputs', read_only=True, integer=(1, 1000))),
}


def input_reliability(setting: str, offered: list) -> ReliabilityPolicy | None:
    """The reliability to subscribe to the image topic with, given its publishers' offers.

    `auto` follows image_proc: reliable when every publisher is reliable (no frame of a large
    image is then lost to best effort), best effort when any is, and None (do not subscribe
    yet) while there is no publisher to match.
    """
    if setting != 'auto':
        return RELIABILITIES[setting]
    if not offered:
        return None
    if all(policy == ReliabilityPolicy.RELIABLE for policy in offered):
        return ReliabilityPolicy.RELIABLE
    return ReliabilityPolicy.BEST_EFFORT


@dataclass
class _Detected:
    """What the model stage hands the output stage: the decoded image and its detections."""

    bgr: np.ndarray
    detections: RawDetections
    inference_s: float


class SegmentationNode(Node):
    """Thin ROS adapter: parameters, topics and messages around a `TwoStagePipeline`.

    `engine` makes the pipeline from the node's model call and publishing (the benchmarks pass
    clocked or naive variants); `input_depth` is the image subscription's queue depth. The
    work comes in phases that this node runs at once, `_configure` then `_activate`, and the
    managed variant (`segmentation_lifecycle_node`) as lifecycle transitions, with
    `_deactivate` and `_cleanup` to undo them.
    """

    def __init__(self, engine=TwoStagePipeline, input_depth: int = 1, **kwargs):
        super().__init__('segmentation_node', **kwargs)
        self._declare(engine, input_depth, PARAMETERS)
        self._configure()
        self._activate()

    def _declare(self, engine, input_depth: int, parameters: dict):
        """Declare `parameters` (name -> (default, descriptor)) and the callbacks that set them."""
        self._engine, self._latest_input_depth = engine, input_depth
        declare_table(self, parameters)
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)

    def _configure(self):
        """Check the parameters and the label map, then load and warm up the model (seconds)."""
        self._input_reliability = self._param('input_reliability')
        for name, choices in (('input_reliability', ('auto', *RELIABILITIES)),
                              ('input_transport', TRANSPORTS),
                              ('processing_mode', PROCESSING_MODES)):
            if self._param(name) not in choices:
                raise FatalError(f'{name} {self._param(name)!r} is not one of '
                                 f'{", ".join(choices)}')
        # image_transport's rule: the transport's suffix follows the remapped base topic.
        self._input_type, self._input_suffix, self._to_bgr = TRANSPORTS[
            self._param('input_transport')]
        self._camera_names = self._checked_camera_names()
        given_model_path = self._param('model_path')
        model_path, label_map_path, builtin = with_builtin_defaults(
            given_model_path, self._param('label_map_path'))
        if builtin:  # the node cannot tell its own scenes from a camera's: always say so
            using = (f'model_path {given_model_path!r} is' if given_model_path.strip()
                     else 'model_path is empty: using')
            self.get_logger().warning(
                f'{using} the {DEMO_MODEL_NAME}, which knows only these shapes (the overlay '
                f'says so); set model_path to a zoo Mask R-CNN to segment real scenes')
        self.label_map = load_label_map(label_map_path)
        # Before the model, which takes seconds to load: an unknown class is a typo to say now.
        self._settings = self._settings_from({})
        self.model = SegmentationModel(
            model_path, self._tf_device(),
            intra_op_threads=self._param('intra_op_threads'),
            inter_op_threads=self._param('inter_op_threads'))
        self.segmenter = Segmenter(self.model, self.label_map,
                                   BUILTIN_CAPTION if builtin else '')
        self.get_logger().info(
            f'loaded {self.model.format} model {self.model.name!r} from '
            f'{self.model.source.path} in {self.model.load_seconds:.1f} s; class names from '
            f'{label_map_path or "the COCO label map"}')
        if self._param('warmup'):
            seconds = self.model.warm_up(self._param('warmup_height'), self._param('warmup_width'))
            self.get_logger().info(f'warm-up run took {seconds:.2f} s')

        self._overlay_alpha = self._param('overlay_alpha')
        self._jpeg_quality = self._param('jpeg_quality')

    def _activate(self):
        """Make the outputs, start the pipeline and subscribe the input: frames flow."""
        # _deactivate destroys all but these: what is made here, and later by timers made here.
        self._inactive_entities = (set(self.publishers), set(self.subscriptions),
                                   set(self.timers))
        every_frame = self._param('processing_mode') == 'every_frame'
        self._depth_settings = self._depth_settings_now()
        self.cameras = [ServedCamera(self, name, self._input_suffix, self._depth_input())
                        for name in self._camera_names]
        stamp = self.get_clock().now().to_msg()
        for camera in self.cameras:
            camera.publish_label_info(self.label_map, self._param('score_threshold'), stamp)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)

        self._every_frame_queue = self._param('queue_size') if every_frame else None
        named = self._cameras_named
        if every_frame:  # several cameras share the one queue, in arrival order
            mailbox = FrameQueue(self._every_frame_queue)
        elif len(self.cameras) > 1:
            mailbox = FairFrameSlots(CAMERA_OF_FRAME)
        else:  # one camera, named or not: its newest frame, and the frame wait
            mailbox = None
        self.pipeline = self._engine(self._infer, self._publish_outputs, self._frame_failed,
                                     self._stage_policy(), mailbox=mailbox,
                                     source=CAMERA_OF_FRAME if named else None)
        self.pipeline.start()
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)

        self._input_depth = self._every_frame_queue or self._latest_input_depth
        # every_frame: DDS keeps every sample (a reliable writer waits), so that frames are
        # only ever dropped by the pipeline's queue, where they are counted.
        self._input_history = (HistoryPolicy.KEEP_ALL if every_frame
                               else qos_profile_sensor_data.history)
        self._inputs = {}
        self._image_topics = {camera.image_topic: camera.image_name for camera in self.cameras}
        for camera in self.cameras:
            self._inputs[camera.image_topic] = (self._input_type,
                                                functools.partial(self._receive, camera))
            if camera.depth is not None:
                self._inputs[camera.topic('depth/image')] = (Image, camera.receive_depth)
                self._inputs[camera.topic('depth/camera_info')] = (
                    CameraInfo, camera.depth.add_camera_info)
        self._subscriptions_by_topic = {}
        self._input_checked_since = time.monotonic()
        self._told_no_publisher = set()
        self._check_input()
        self.create_timer(INPUT_CHECK_PERIOD_S, self._check_input)
        image_topics = ', '.join(camera.image_topic for camera in self.cameras)
        outputs = ', '.join(camera.topic('masks').rpartition('/')[0] or '/'
                            for camera in self.cameras)
        self.get_logger().info(
            f'segmenting {image_topics} (input_reliability {self._input_reliability}, '
            f'{self._param("processing_mode")}'
            + (', cameras served in turn' if isinstance(mailbox, FairFrameSlots) else '')
            + f'); outputs under {outputs}; '
            'vision_msgs ' + ('available' if detection_msgs.AVAILABLE
                              else 'not installed: detections and label_info off')
            + ('' if not self._param('depth.enabled') else
               '; depth on, visualization_msgs ' + (
                   'available' if depth_msgs.MARKERS_AVAILABLE
                   else 'not installed (pip install ros-jazzy-visualization-msgs): markers off')))

    @property
    def _cameras_named(self) -> bool:
        """Whether `cameras` named the cameras: each then has its own figures and status."""
        return self._camera_names != ['']

    def _depth_input(self) -> DepthInput | None:
        """A camera's depth pairing, where depth is on."""
        if not self._param('depth.enabled'):
            return None
        return DepthInput(self._param('depth.history'), self._param('depth.sync_tolerance'),
                          self._param('depth.allow_frame_mismatch'))

    def _check_input(self):
        """Subscribe with the reliability the publishers need; say if the image has none.

        With `input_reliability: auto` each input subscription (the image, and the depth
        topics) follows the publishers found on its topic (and is made again if they change);
        a fixed setting subscribes at once. A node that has seen no image publisher for a while
        says once which topic it listens on, the usual sign of a missing remap.
        """
        for topic, (message_type, callback) in self._inputs.items():
            publishers = self.get_publishers_info_by_topic(topic)
            if topic in self._image_topics and not publishers \
                    and topic not in self._told_no_publisher \
                    and time.monotonic() - self._input_checked_since >= NO_PUBLISHER_NOTICE_S:
                self._told_no_publisher.add(topic)
                self.get_logger().warning(
                    f'no publisher on {topic} after {NO_PUBLISHER_NOTICE_S:g} s: remap '
                    f'{self._image_topics[topic]} to the camera topic, e.g. '
                    f'-r {self._image_topics[topic]}:=/camera/image_raw')
            wanted = input_reliability(self._input_reliability,
                                       [info.qos_profile.reliability for info in publishers])
            current = self._subscriptions_by_topic.get(topic)
            if wanted is None or (current is not None
                                  and current.qos_profile.reliability == wanted):
                continue
            if current is not None:
                self.destroy_subscription(current)
            self._subscriptions_by_topic[topic] = self.create_subscription(
                message_type, topic, callback, QoSProfile(
                    depth=self._input_depth, history=self._input_history,
                    durability=qos_profile_sensor_data.durability, reliability=wanted))
            if self._input_reliability == 'auto':
                self.get_logger().info(
                    f'{len(publishers)} publisher(s) on {topic}: subscribing '
                    f'{"reliable" if wanted == ReliabilityPolicy.RELIABLE else "best effort"}')

    def _receive(self, camera: ServedCamera, message):
        """Hand a frame to the pipeline; in every_frame mode, say when a full queue drops one."""
        if self.pipeline.put((camera, message)) and self._every_frame_queue:
            self.get_logger().warning(
                f'every_frame: the queue of {self._every_frame_queue} frames is full, the '
                f'oldest was dropped ({self.pipeline.figures.dropped} so far); raise queue_size '
                'or play the bag slower', throttle_duration_sec=WARNING_INTERVAL_S)

    def _param(self, name: str):
        return self.get_parameter(name).value

    def _tf_device(self) -> str:
        """tf_device, or the deprecated `device` where that was given (for one more release)."""
        device = self._param('device')
        if not device:
            return self._param('tf_device')
        self.get_logger().warning(
            f"parameter 'device' is deprecated and goes away in the next release: "
            f'use tf_device:={device}')
        return device

    # Parameters -----------------------------------------------------------------------

    def _settings_from(self, changes: dict) -> PostprocessSettings:
        """Settings from the current parameters overridden by `changes` (name -> value)."""
        def value(name):
            return changes[name] if name in changes else self._param(name)

        return PostprocessSettings(
            score_threshold=float(value('score_threshold')),
            mask_threshold=float(value('mask_threshold')),
            class_ids=self.label_map.resolve(value('classes') or []),
            max_detections=int(value('max_detections')))

    def _stage_policy(self, changes: dict | None = None) -> StagePolicy:
        """The pipeline's waits from the current parameters overridden by `changes`."""
        changes = changes or {}
        return StagePolicy(**{name: float(changes.get(name, self._param(name)))
                              for name in ('frame_wait_fraction', 'output_wait_fraction')})

    def _validate_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Reject values that the declared types and ranges let through but we cannot use."""
        changes = {p.name: p.value for p in parameters}
        if 'cameras' in changes:
            return SetParametersResult(successful=False, reason=(
                'cameras is read at start-up: restart the node with the new list'))
        if 'classes' in changes:
            try:
                self.label_map.resolve(changes['classes'] or [])
            except LabelMapError as error:
                return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _apply_parameters(self, parameters: list[Parameter]):
        """Swap in new settings as one object: a frame never sees a mix of old and new."""
        changes = {p.name: p.value for p in parameters}
        self._settings = self._settings_from(changes)
        if 'overlay_alpha' in changes:
            self._overlay_alpha = float(changes['overlay_alpha'])
        if 'jpeg_quality' in changes:
            self._jpeg_quality = int(changes['jpeg_quality'])
        if self.pipeline is None:  # inactive: _activate reads the rest
            return
        self._depth_settings = self._depth_settings_now()
        stamp = self.get_clock().now().to_msg()
        for camera in self.cameras:
            if camera.depth is not None:
                camera.depth.tolerance_s = float(self._param('depth.sync_tolerance'))
                camera.depth.allow_frame_mismatch = bool(
                    self._param('depth.allow_frame_mismatch'))
            if 'score_threshold' in changes:
                camera.publish_label_info(self.label_map, changes['score_threshold'], stamp)
        self.pipeline.policy = self._stage_policy(changes)

    def _depth_settings_now(self) -> DepthSettings:
        return DepthSettings(percentile=float(self._param('depth.percentile')),
                             max_gap=float(self._param('depth.max_gap')),
                             min_points=int(self._param('depth.min_points')))

    def _checked_camera_names(self) -> list[str]:
        """`cameras`, each a valid and distinct topic namespace; [] is the one camera ''."""
        names = [name.strip() for name in self._param('cameras')]
        topics = {}
        for name in names:
            if not name:
                raise FatalError('cameras has an empty name: give each camera a namespace, '
                                 "e.g. cameras:='[left, right]'")
            try:
                topic = self.resolve_topic_name(f'{name}/image')
            except RuntimeError as error:  # rclpy's RCLError: the name's fault, said by rcl
                reason = str(error).removeprefix('failed to resolve name: ').split(', at ')[0]
                raise FatalError(f'cameras: {name!r} is not a valid topic namespace '
                                 f'({reason})') from None
            if topic in topics:
                raise FatalError(f'cameras: {topics[topic]!r} and {name!r} are the same '
                                 f'camera ({topic}): give each camera its own namespace')
            topics[topic] = name
        return names or ['']

    # Frames (called by the pipeline's stage threads) ----------------------------------

    def _infer(self, frame) -> _Detected:
        _, message = frame
        bgr = self._to_bgr(message)
        detections, inference_s = self.segmenter.detect(bgr)
        return _Detected(bgr, detections, inference_s)

    def _publish_outputs(self, frame, inferred: _Detected):
        camera, message = frame
        settings, alpha, quality = self._settings, self._overlay_alpha, self._jpeg_quality
        height, width = inferred.bgr.shape[:2]
        mask_buffer = camera.buffer('masks', height, width, 1)
        result = self.segmenter.finish(inferred.detections, inferred.inference_s,
                                       (height, width), settings, label_image=mask_buffer[1])
        located = (None if camera.depth is None
                   else camera.locate(message.header, result, self._depth_settings))
        camera.publish(message.header, inferred.bgr, result, self.segmenter, self.label_map,
                       located, alpha, quality, mask_buffer)

    def _frame_failed(self, frame, error: Exception):
        if frame is None:  # the pipeline's own, not a frame's
            self.get_logger().error(f'pipeline error: {error!r}',
                                    throttle_duration_sec=WARNING_INTERVAL_S)
            return
        camera, _ = frame
        camera.frame_failed(error, shutting_down=not rclpy.ok(context=self.context))

    def _publish_diagnostics(self):
        """One status per camera: its rates, latencies, drops and faults of the last period."""
        named = self._cameras_named
        figures = [self.pipeline.figures_of(camera) if named else self.pipeline.figures
                   for camera in self.cameras]
        periods = [each.take_period() for each in figures]
        model_calls = sum(period.processed for period in periods)
        message = DiagnosticArray()
        for camera, camera_figures, period in zip(self.cameras, figures, periods, strict=True):
            status = segmentation_status(period, camera_figures, camera.faults.take_period(),
                                         self.model.name, self.model.format)
            status.values['image_topic'] = camera.image_topic
            if named:
                status.values['camera'] = camera.name
                status.values['model_share'] = f'{period.processed / max(model_calls, 1):.3f}'
            message.status.append(DiagnosticStatus(
                name=f'{self.get_name()}: segmentation' + (f' {camera.name}' if named else ''),
                hardware_id=self.get_fully_qualified_name(), level=bytes([status.level]),
                message=status.message,
                values=[KeyValue(key=key, value=value) for key, value in status.values.items()]))
        message.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(message)

    def _deactivate(self):
        """Stop the pipeline, then destroy what _activate made; the model stays loaded."""
        self.pipeline.close()
        self.pipeline = None
        publishers, subscriptions, timers = self._inactive_entities
        for publisher in set(self.publishers) - publishers:
            self.destroy_publisher(publisher)
        for subscription in set(self.subscriptions) - subscriptions:
            self.destroy_subscription(subscription)
        for timer in set(self.timers) - timers:
            self.destroy_timer(timer)

    def _cleanup(self):
        """Free the model; TensorFlow keeps some memory (benchmarks/lifecycle_memory.py)."""
        self.model = self.segmenter = self.label_map = None
        release_memory()

    def destroy_node(self):
        """Stop the pipeline first, so that nothing publishes on a destroyed node."""
        if self.pipeline is not None:
            self.pipeline.close()
        super().destroy_node()


START_ERRORS = (InstanceSegmentationError, ParameterException)


def run(args: list[str] | None = None,
        node_factory: Callable[[], SegmentationNode] = SegmentationNode) -> int:
    """Run the node; returns 1 with one error line when it cannot start, else 0.

    0 also for Ctrl+C or SIGTERM at any moment, model load included (exit_guard).
    `node_factory` makes the node: the benchmarks pass variants of SegmentationNode.
    """
    def start() -> SegmentationNode:
        try:
            return node_factory()
        except START_ERRORS as error:  # a model, label map or parameter that cannot work
            raise FatalError(parameter_error_text(error)) from None

    return run_node('segmentation_node', start, args)


def main(args: list[str] | None = None,
         node_factory: Callable[[], SegmentationNode] = SegmentationNode) -> None:
    """Console script: run the node, then leave at once, skipping the interpreter's teardown.

    The only os._exit of the nodes, because TensorFlow's teardown is slow: with the built-in
    model loaded, SIGINT to process exit took 0.12 s this way (median of 4, 0.11-0.17 s) and
    1.8 s (1.4-1.8 s) through a normal interpreter exit, on 2 shared CPU cores. When run()
    returns, DDS and logging are shut down; exit_guard.leave flushes the output.
    `node_factory`: segmentation_lifecycle_node passes its node.
    """
    exit_guard.install()
    exit_guard.leave(run(args, node_factory))


if __name__ == '__main__':
    main()
