"""segmentation_node: Mask R-CNN instance segmentation of a camera image topic.

Subscribes `image`; publishes `masks` (mono8 instance labels), `detections_json`,
`detections` and `label_info` (vision_msgs, where installed), `overlay` (bgr8) and
`/diagnostics`. The names are relative, as image_proc's are: a namespace places the outputs and
`-r image:=/camera/image_raw` picks the camera.

The subscription only drops each frame into a one-slot mailbox. Two threads do the work in a
pipeline: one runs the model on the newest frame, the other post-processes and publishes the
frame before it, so a slow model never builds a queue and the executor stays free to answer
parameter requests while the model runs. Where the outputs are cheap next to the model call
(`output_wait_fraction`), the model stage lets them be published before it starts the next
call, because on shared CPU cores the two would slow each other; otherwise the outputs of one
frame overlap the model call of the next, for throughput. A model stage that comes free just
before the next frame is due may wait for it (`frame_wait_fraction`) rather than start on a
frame over half a period old. Every output carries the input header.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (
    DurabilityPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import Image
from std_msgs.msg import String

from . import detection_msgs, exit_guard
from .demo import DEMO_MODEL_NAME, with_builtin_defaults
from .frame_slot import LatestFrameSlot, StageHandOff
from .image_conversion import (
    ImageConversionError,
    fill_image_msg_from_buffer,
    image_msg_to_bgr,
    new_image_buffer,
)
from .labels import LabelMapError, load_label_map
from .model import ModelError, RawDetections, SegmentationModel
from .node_support import FatalError, descriptor, parameter_error_text, run_node
from .pipeline import Segmenter
from .postprocess import MAX_INSTANCES, PostprocessSettings

OUTPUT_QOS = QoSProfile(depth=5)
# Latched, as vision_msgs intends for LabelInfo: a late subscriber gets the current map.
LABEL_INFO_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
WARNING_INTERVAL_S = 5.0
DIAGNOSTICS_PERIOD_S = 1.0
INPUT_CHECK_PERIOD_S = 0.5
NO_PUBLISHER_NOTICE_S = 5.0
RELIABILITIES = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
                 'reliable': ReliabilityPolicy.RELIABLE}


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
    'input_reliability': ('auto', descriptor(
        'QoS reliability of the image subscription: auto (reliable when every publisher of '
        'the topic is, else best effort), best_effort or reliable', read_only=True)),
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


def running_mean(mean: float, sample: float) -> float:
    """Exponential running mean, the newest sample weighted 0.2; a first sample (mean 0) as is."""
    return sample if not mean else 0.8 * mean + 0.2 * sample


@dataclass
class _Window:
    """Counters over one diagnostics period."""

    processed: int = 0
    inference_s: float = 0.0
    latency_s: float = 0.0
    latency_max_s: float = 0.0

    def add(self, inference_s: float, latency_s: float):
        self.processed += 1
        self.inference_s += inference_s
        self.latency_s += latency_s
        self.latency_max_s = max(self.latency_max_s, latency_s)


@dataclass
class _Inferred:
    """A frame between the two stages: the model has run, the outputs are still to come."""

    message: Image
    received: float
    bgr: np.ndarray
    detections: RawDetections
    inference_s: float


class SegmentationNode(Node):
    """Thin ROS adapter around the model, post-processing and rendering modules."""

    def __init__(self, **kwargs):
        super().__init__('segmentation_node', **kwargs)
        declared = {name: self.declare_parameter(name, default, descriptor)
                    for name, (default, descriptor) in PARAMETERS.items()}
        # A string array is declared by type (an empty list would make it a byte array), so it
        # has no value unless one was given: default it to [] = all classes.
        if declared['classes'].type_ == Parameter.Type.NOT_SET:
            self.set_parameters([Parameter('classes', Parameter.Type.STRING_ARRAY, [])])

        self._input_reliability = self._param('input_reliability')
        if self._input_reliability not in ('auto', *RELIABILITIES):
            raise FatalError(f'input_reliability {self._input_reliability!r} is not one of '
                             f'auto, {", ".join(RELIABILITIES)}')
        model_path, label_map_path, builtin = with_builtin_defaults(
            self._param('model_path'), self._param('label_map_path'))
        if builtin:
            self.get_logger().warning(
                f'model_path is empty: using the {DEMO_MODEL_NAME}; set model_path to a zoo '
                f'Mask R-CNN to segment real scenes')
        self.label_map = load_label_map(label_map_path)
        # Before the model, which takes seconds to load: an unknown class is a typo to say now.
        self._settings = self._settings_from({})
        self.model = SegmentationModel(
            model_path, self._tf_device(),
            intra_op_threads=self._param('intra_op_threads'),
            inter_op_threads=self._param('inter_op_threads'))
        self.segmenter = Segmenter(self.model, self.label_map)
        self.get_logger().info(
            f'loaded {self.model.format} model {self.model.name!r} from '
            f'{self.model.source.path} in {self.model.load_seconds:.1f} s; class names from '
            f'{label_map_path or "the COCO label map"}')
        if self._param('warmup'):
            seconds = self.model.warm_up(self._param('warmup_height'), self._param('warmup_width'))
            self.get_logger().info(f'warm-up run took {seconds:.2f} s')

        self._overlay_alpha = self._param('overlay_alpha')
        self._frame_wait_fraction = self._param('frame_wait_fraction')
        self._output_wait_fraction = self._param('output_wait_fraction')
        self._model_seconds = 0.0  # running means of the model call and of the outputs'
        self._output_seconds = 0.0  # own CPU time, for the two waits
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)

        self._masks_pub = self.create_publisher(Image, 'masks', OUTPUT_QOS)
        self._json_pub = self.create_publisher(String, 'detections_json', OUTPUT_QOS)
        self._overlay_pub = self.create_publisher(Image, 'overlay', OUTPUT_QOS)
        self._detections_pub = self._label_info_pub = None
        if detection_msgs.AVAILABLE:
            self._detections_pub = self.create_publisher(
                detection_msgs.Detection2DArray, 'detections', OUTPUT_QOS)
            self._label_info_pub = self.create_publisher(
                detection_msgs.LabelInfo, 'label_info', LABEL_INFO_QOS)
            self._publish_label_info()
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)

        self._received = 0
        self._processed = 0
        self._rejected = {}
        self._last_warning = {}
        self._errors = 0
        self._window = _Window()
        self._window_lock = threading.Lock()
        self._window_started = time.monotonic()
        self._buffers = {}
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)

        self._slot = LatestFrameSlot()
        self._handoff = StageHandOff()
        self._stages = []
        self._start_stages()
        self._image_topic = self.resolve_topic_name('image')
        self._subscription = None
        self._input_checked_since = time.monotonic()
        self._told_no_publisher = False
        self._check_input()
        self.create_timer(INPUT_CHECK_PERIOD_S, self._check_input)
        self.get_logger().info(
            f'segmenting {self._image_topic} (input_reliability {self._input_reliability}); '
            f'outputs under {self.resolve_topic_name("masks").rpartition("/")[0] or "/"}; '
            'vision_msgs ' + ('available' if detection_msgs.AVAILABLE
                              else 'not installed: detections and label_info off'))

    def _start_stages(self):
        """The newest-frame design: the callback fills the slot, the stage threads work."""
        self._stages = [
            threading.Thread(target=self._run_stage, args=(step,), name=name, daemon=True)
            for name, step in (('inference', self._infer_next), ('outputs', self._output_next))]
        for stage in self._stages:
            stage.start()

    def _subscribe(self, qos: QoSProfile):
        self._subscription = self.create_subscription(Image, 'image', self._on_image, qos)

    def _check_input(self):
        """Subscribe with the reliability the image publishers need; say if there are none.

        With `input_reliability: auto` the subscription follows the publishers found on the
        topic (and is made again if they change); a fixed setting subscribes at once. A node
        that has seen no publisher for a while says once which topic it listens on, the usual
        sign of a missing remap.
        """
        publishers = self.get_publishers_info_by_topic(self._image_topic)
        if not publishers and not self._told_no_publisher and (
                time.monotonic() - self._input_checked_since >= NO_PUBLISHER_NOTICE_S):
            self._told_no_publisher = True
            self.get_logger().warning(
                f'no publisher on {self._image_topic} after {NO_PUBLISHER_NOTICE_S:g} s: '
                'remap image to the camera topic, e.g. -r image:=/camera/image_raw')
        wanted = input_reliability(self._input_reliability,
                                   [info.qos_profile.reliability for info in publishers])
        if wanted is None or (self._subscription is not None
                              and self._subscription.qos_profile.reliability == wanted):
            return
        if self._subscription is not None:
            self.destroy_subscription(self._subscription)
        self._subscribe(QoSProfile(
            depth=1, history=qos_profile_sensor_data.history,
            durability=qos_profile_sensor_data.durability, reliability=wanted))
        if self._input_reliability == 'auto':
            self.get_logger().info(
                f'{len(publishers)} publisher(s) on {self._image_topic}: subscribing '
                f'{"reliable" if wanted == ReliabilityPolicy.RELIABLE else "best effort"}')

    def _publish_label_info(self):
        """The class ids and names of the label map, with the score threshold in force."""
        self._label_info_pub.publish(detection_msgs.to_label_info(
            self.label_map, self._param('score_threshold'), self.get_clock().now().to_msg()))

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

    def _validate_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Reject values that the declared types and ranges let through but we cannot use."""
        changes = {p.name: p.value for p in parameters}
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
        if 'frame_wait_fraction' in changes:
            self._frame_wait_fraction = float(changes['frame_wait_fraction'])
        if 'output_wait_fraction' in changes:
            self._output_wait_fraction = float(changes['output_wait_fraction'])
        if 'score_threshold' in changes and self._label_info_pub is not None:
            self._publish_label_info()

    # Frames ---------------------------------------------------------------------------

    def _on_image(self, message: Image):
        self._received += 1
        self._slot.put(message)

    def _run_stage(self, step):
        """Call one stage's step until shutdown; one bad frame never stops it."""
        while not self._slot.closed:
            try:
                step()
            except ImageConversionError as error:
                self._reject(error)
            except Exception as error:  # one bad frame must never stop the node
                if not rclpy.ok(context=self.context) or self._slot.closed:
                    return
                with self._window_lock:
                    self._errors += 1
                self.get_logger().error(f'failed to process a frame: {error!r}',
                                        throttle_duration_sec=WARNING_INTERVAL_S)

    def _infer_next(self):
        """Model stage: the newest frame through the model, then on to the output stage."""
        taken = self._slot.take(
            timeout=0.5, max_wait=self._frame_wait_fraction * self._model_seconds)
        if taken is None:
            return
        self._handoff.put(self._infer(*taken))
        fraction = self._output_wait_fraction
        if fraction and self._output_seconds <= fraction * self._model_seconds:
            self._handoff.wait_until_done()

    def _output_next(self):
        """Output stage: post-process and publish what the model stage handed over."""
        inferred = self._handoff.get(timeout=0.5)
        if inferred is None:
            return
        started = time.thread_time()
        try:
            self._publish_outputs(inferred)
        finally:
            self._handoff.done()
            self._output_seconds = running_mean(self._output_seconds,
                                                time.thread_time() - started)

    def _reject(self, error: ImageConversionError):
        """Count a malformed image; warn at most every few seconds for each kind of fault."""
        with self._window_lock:  # the diagnostics timer reads these counts
            count = self._rejected[error.kind] = self._rejected.get(error.kind, 0) + 1
        now = time.monotonic()
        if now - self._last_warning.get(error.kind, -WARNING_INTERVAL_S) >= WARNING_INTERVAL_S:
            self._last_warning[error.kind] = now
            self.get_logger().warning(
                f'rejected an image ({error.kind}, {count} so far): {error}')

    def _infer(self, message: Image, received: float) -> _Inferred:
        bgr = image_msg_to_bgr(message)
        detections, inference_s = self.segmenter.detect(bgr)
        self._model_seconds = running_mean(self._model_seconds, inference_s)
        return _Inferred(message, received, bgr, detections, inference_s)

    def _publish_outputs(self, inferred: _Inferred):
        settings, alpha = self._settings, self._overlay_alpha
        message, bgr = inferred.message, inferred.bgr
        height, width = bgr.shape[:2]
        mask_data, mask_view = self._buffer('masks', height, width, 1)
        result = self.segmenter.finish(inferred.detections, inferred.inference_s,
                                       (height, width), settings, label_image=mask_view)
        if self._masks_pub.get_subscription_count():
            mask_msg = Image(header=message.header)
            fill_image_msg_from_buffer(mask_msg, mask_data, height, width, 'mono8')
            self._masks_pub.publish(mask_msg)
        if self._json_pub.get_subscription_count():
            stamp = message.header.stamp
            self._json_pub.publish(String(data=self.segmenter.frame_json(
                result, stamp.sec, stamp.nanosec, message.header.frame_id)))
        if self._detections_pub is not None and self._detections_pub.get_subscription_count():
            self._detections_pub.publish(detection_msgs.to_detection2d_array(
                result.instances, self.label_map, message.header))
        if self._overlay_pub.get_subscription_count():
            overlay_data, overlay_view = self._buffer('overlay', height, width, 3)
            self.segmenter.overlay(bgr, result, alpha, out=overlay_view)
            overlay_msg = Image(header=message.header)
            fill_image_msg_from_buffer(overlay_msg, overlay_data, height, width, 'bgr8')
            self._overlay_pub.publish(overlay_msg)
        with self._window_lock:
            self._processed += 1
            self._window.add(result.inference_s, time.monotonic() - inferred.received)

    def _buffer(self, name: str, height: int, width: int, channels: int):
        """A message buffer reused across frames of one size (publish copies it out)."""
        key = (name, height, width)
        if key not in self._buffers:
            self._buffers = {k: v for k, v in self._buffers.items() if k[0] != name}
            self._buffers[key] = new_image_buffer(height, width, channels)
        return self._buffers[key]

    # Diagnostics ----------------------------------------------------------------------

    def _publish_diagnostics(self):
        now = time.monotonic()
        with self._window_lock:
            window, self._window = self._window, _Window()
            elapsed, self._window_started = now - self._window_started, now
            rejected_by_kind = dict(self._rejected)
        count = max(window.processed, 1)
        rejected = sum(rejected_by_kind.values())
        status = DiagnosticStatus(
            name=f'{self.get_name()}: segmentation', hardware_id=self.model.name,
            level=DiagnosticStatus.OK, message='ok')
        if self._errors:
            status.level, status.message = DiagnosticStatus.ERROR, 'frames failed to process'
        elif rejected:
            status.level, status.message = DiagnosticStatus.WARN, 'malformed images rejected'
        elif self._received == 0:
            status.message = 'waiting for images'
        values = {
            'rate_hz': f'{window.processed / max(elapsed, 1e-9):.2f}',
            'inference_ms': f'{window.inference_s / count * 1000:.1f}',
            'outputs_cpu_ms': f'{self._output_seconds * 1000:.1f}',
            'latency_ms': f'{window.latency_s / count * 1000:.1f}',
            'latency_max_ms': f'{window.latency_max_s * 1000:.1f}',
            'frames_received': str(self._received),
            'frames_processed': str(self._processed),
            'frames_dropped': str(self._slot.replaced),
            'frames_rejected': str(rejected),
            'frames_failed': str(self._errors),
            'model': self.model.name,
            'model_format': self.model.format,
        }
        values.update({f'rejected_{kind}': str(n) for kind, n in sorted(rejected_by_kind.items())})
        status.values = [KeyValue(key=key, value=value) for key, value in values.items()]
        message = DiagnosticArray(status=[status])
        message.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(message)

    def destroy_node(self):
        """Stop the stage threads first, so that nothing publishes on a destroyed node."""
        self._slot.close()
        self._handoff.close()
        # The model stage may be inside a long model call; the threads are daemons and stop by
        # themselves, so waiting for them would only delay shutdown.
        for stage in self._stages:
            stage.join(timeout=0.1)
        super().destroy_node()


START_ERRORS = (ModelError, LabelMapError, FileNotFoundError, ParameterException)


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


def main(args: list[str] | None = None) -> None:
    """Console script: run the node, then leave at once, skipping the interpreter's teardown.

    The only os._exit of the nodes, because TensorFlow's teardown is slow: with the built-in
    model loaded, SIGINT to process exit took 0.12 s this way (median of 4, 0.11-0.17 s) and
    1.8 s (1.4-1.8 s) through a normal interpreter exit, on 2 shared CPU cores. When run()
    returns, DDS and logging are shut down; exit_guard.leave flushes the output.
    """
    exit_guard.install()
    exit_guard.leave(run(args))


if __name__ == '__main__':
    main()
