"""segmentation_node's parameters: the table, and the typed settings read from it.

`PARAMETERS` is what the node declares (name -> default, descriptor). What it reads once, at
configure and activate, is `StartSettings`; what may change at run time is `RunSettings`,
made whole from the current values with a change applied: the on-set callback refuses a value
with the very error that reading it gives (`SettingError`), and a frame never sees a mix of old
and new. `classes` is read whatever type the `ros2` command guessed for it (`class_entries`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import yaml
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.parameter import Parameter

from ..core.detections import PostprocessSettings
from ..core.labels import LabelMap
from ..core.postprocess import MAX_INSTANCES
from ..engine.mailboxes import PROCESSING_MODES
from ..engine.pipeline import StagePolicy
from ..errors import InstanceSegmentationError
from .adaptive_input import RELIABILITIES, TRANSPORTS
from .node_support import FatalError
from .parameters import descriptor
from .served_camera import camera_names

CHOICES = {'input_reliability': ('auto', *RELIABILITIES), 'input_transport': tuple(TRANSPORTS),
           'processing_mode': PROCESSING_MODES}
CLASSES_EXAMPLE = 'a list of class names or ids, e.g. "[person, 3]"; "[]" keeps every class'


class SettingError(InstanceSegmentationError):
    """A run-time parameter value that its declared type lets through but the node cannot use."""


def classes_descriptor(description: str) -> ParameterDescriptor:
    """`classes` is dynamically typed: `ros2 param set` sends "[]" as a bool array."""
    result = descriptor(description)
    result.dynamic_typing = True
    return result


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
    'classes': ([], classes_descriptor(
        'Class names or ids to keep, e.g. [person, 3] (ros2 param set: "[1, square]"); '
        '[] = all')),
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


def class_entries(parameter: Parameter) -> list[str]:
    """The class names and ids that `classes` lists, from any type the value came as.

    `ros2 param set` guesses the type from YAML: "[]" comes as an empty bool array, "[1, 3]" as
    integers and "[1, square]" (ids with names) as one string, read here as a YAML list.
    """
    kind, value = parameter.type_, parameter.value
    if kind == Parameter.Type.NOT_SET:  # -p classes:=[] and YAML's [] give no value
        return []
    if kind == Parameter.Type.STRING:
        try:
            value = yaml.load(value, Loader=yaml.BaseLoader) if value.strip() else []
        except yaml.YAMLError:
            raise SettingError(f'classes {value!r} is not {CLASSES_EXAMPLE}') from None
        value = value if isinstance(value, list) else [value]
    elif kind == Parameter.Type.INTEGER:
        value = [value]
    elif kind not in (Parameter.Type.STRING_ARRAY, Parameter.Type.INTEGER_ARRAY) and value:
        raise SettingError(f'classes {list(value)!r} is not {CLASSES_EXAMPLE}')
    entries = [str(entry).strip() if isinstance(entry, str | int) else '' for entry in value]
    if not all(entries):
        raise SettingError(f'classes {list(value)!r} has an empty or nested entry: give '
                           f'{CLASSES_EXAMPLE}')
    return entries


def classes_as_names(parameters: list[Parameter]) -> list[Parameter]:
    """A pre-set callback: `classes` as the string array it stands for, where it can be read.

    So `ros2 param get` shows the names and ids as given; a value that cannot be read is left
    for the on-set callback to refuse with the reason.
    """
    def as_names(parameter: Parameter) -> Parameter:
        if parameter.name != 'classes':
            return parameter
        try:
            return Parameter('classes', Parameter.Type.STRING_ARRAY, class_entries(parameter))
        except SettingError:
            return parameter
    return [as_names(parameter) for parameter in parameters]


@dataclass(frozen=True)
class DepthSettings:
    """How 3D is measured from a camera's depth, and how depth is paired with colour."""

    percentile: float
    max_gap: float
    min_points: int
    sync_tolerance: float
    allow_frame_mismatch: bool


@dataclass(frozen=True)
class RunSettings:
    """The parameters that apply from the next frame on; replaced whole when one changes."""

    postprocess: PostprocessSettings
    overlay_alpha: float
    jpeg_quality: int
    policy: StagePolicy
    depth: DepthSettings


def run_settings(read: Callable[[str], Parameter], label_map: LabelMap) -> RunSettings:
    """The run-time settings from `read(name)`; SettingError or LabelMapError says why not."""
    def value(name: str):
        return read(name).value

    return RunSettings(
        postprocess=PostprocessSettings(
            score_threshold=float(value('score_threshold')),
            mask_threshold=float(value('mask_threshold')),
            class_ids=label_map.resolve(class_entries(read('classes'))),
            max_detections=int(value('max_detections'))),
        overlay_alpha=float(value('overlay_alpha')), jpeg_quality=int(value('jpeg_quality')),
        policy=StagePolicy(frame_wait_fraction=float(value('frame_wait_fraction')),
                           output_wait_fraction=float(value('output_wait_fraction'))),
        depth=DepthSettings(
            percentile=float(value('depth.percentile')), max_gap=float(value('depth.max_gap')),
            min_points=int(value('depth.min_points')),
            sync_tolerance=float(value('depth.sync_tolerance')),
            allow_frame_mismatch=bool(value('depth.allow_frame_mismatch'))))


@dataclass(frozen=True)
class StartSettings:
    """The parameters read once, when the node configures and activates."""

    input_reliability: str
    input_transport: str
    processing_mode: str
    queue_size: int
    cameras: list[str]  # each a distinct topic namespace; [''] is the one camera on `image`
    depth_history: int | None  # None: depth off

    @property
    def cameras_named(self) -> bool:
        """Whether `cameras` named the cameras: each then has its own figures and status."""
        return self.cameras != ['']


def start_settings(read: Callable[[str], Parameter],
                   resolve_topic: Callable[[str], str]) -> StartSettings:
    """The start-up settings; FatalError for a choice or a camera name that cannot work."""
    for name, choices in CHOICES.items():
        if read(name).value not in choices:
            raise FatalError(f'{name} {read(name).value!r} is not one of {", ".join(choices)}')
    return StartSettings(
        read('input_reliability').value, read('input_transport').value,
        read('processing_mode').value, read('queue_size').value,
        camera_names(read('cameras').value, resolve_topic),
        read('depth.history').value if read('depth.enabled').value else None)
