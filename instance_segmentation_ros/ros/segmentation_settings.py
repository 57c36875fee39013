"""segmentation_node's settings, read from its parameters and checked.

What the node reads once, at configure and activate, is `StartSettings`; what may change at run
time is `RunSettings`, made whole from the current values with a change applied: the on-set
callback refuses a value with the very error that reading it gives (`SettingError`), and a
frame never sees a mix of old and new. `classes` is read whatever type the `ros2` command
guessed for it (`class_entries`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import yaml
from rclpy.parameter import Parameter

from ..core.detections import PostprocessSettings
from ..core.labels import LabelMap
from ..core.tracking import TrackerSettings
from ..engine.pipeline import StagePolicy
from ..errors import InstanceSegmentationError
from .node_support import FatalError
from .segmentation_parameters import CHOICES, CLASSES_EXAMPLE


class SettingError(InstanceSegmentationError):
    """A run-time parameter value that its declared type lets through but the node cannot use."""


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
    tracking: TrackerSettings  # used only with tracking.enabled


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
            allow_frame_mismatch=bool(value('depth.allow_frame_mismatch'))),
        tracking=tracker_settings(value))


def tracker_settings(value: Callable[[str], object]) -> TrackerSettings:
    """The tracking.* parameters as the tracker's settings; SettingError for a value it refuses."""
    try:
        return TrackerSettings(max_age=float(value('tracking.max_age')),
                               min_hits=int(value('tracking.min_hits')),
                               min_iou=float(value('tracking.min_iou')))
    except ValueError as error:
        raise SettingError(f'tracking.{error}') from None


@dataclass(frozen=True)
class StartSettings:
    """The parameters read once, when the node configures and activates."""

    input_reliability: str
    input_transport: str
    processing_mode: str
    queue_size: int
    cameras: list[str]  # each a distinct topic namespace; [''] is the one camera on `image`
    depth_history: int | None  # None: depth off
    tracking: bool  # tracking.enabled

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
        read('depth.history').value if read('depth.enabled').value else None,
        read('tracking.enabled').value)


def camera_names(names: list[str], resolve_topic: Callable[[str], str]) -> list[str]:
    """`cameras`, each a valid and distinct topic namespace; [] is the one camera ''."""
    names = [name.strip() for name in names]
    topics = {}
    for name in names:
        if not name:
            raise FatalError('cameras has an empty name: give each camera a namespace, '
                             "e.g. cameras:='[left, right]'")
        try:
            topic = resolve_topic(f'{name}/image')
        except RuntimeError as error:  # rclpy's RCLError: the name's fault, said by rcl
            reason = str(error).removeprefix('failed to resolve name: ').split(', at ')[0]
            raise FatalError(f'cameras: {name!r} is not a valid topic namespace ({reason})'
                             ) from None
        if topic in topics:
            raise FatalError(f'cameras: {topics[topic]!r} and {name!r} are the same camera '
                             f'({topic}): give each camera its own namespace')
        topics[topic] = name
    return names or ['']
