"""One camera that segmentation_node serves: its topics, its depth pairing and its faults.

The node serves one camera on the relative topics `image`, `masks`, ... or, with its `cameras`
parameter, several, each under its own name (`left/image`, `left/masks`, ...), all from one
model. Everything that belongs to one camera is here: the names of its input topics, its
publishers and how each frame's results become their messages (only for outputs someone
subscribes to), the depth frames waiting to be paired with its colour frames, and the counts
of its rejected frames for /diagnostics. With tracking on, its `MaskTracker` too: each camera
keeps its own tracks and ids, fed its processed frames with their header stamps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import CompressedImage, Image, PointCloud2
from std_msgs.msg import String

from ..core.compressed import MASK_FORMAT, OVERLAY_FORMAT, encode_jpeg, encode_png
from ..core.depth3d import DepthError, Instances3D, locate_instances
from ..core.depth_input import DepthInput
from ..core.detections import RawDetections
from ..core.image_conversion import (
    ImageConversionError,
    fill_image_msg_from_buffer,
    new_image_buffer,
)
from ..engine.diagnostics import FaultCounts
from ..model.segmenter import Segmenter
from . import depth_msgs, detection_msgs
from .camera_tracks import CameraTracks

if TYPE_CHECKING:
    from .segmentation_settings import DepthSettings, RunSettings

OUTPUT_QOS = QoSProfile(depth=5)
# Latched, as vision_msgs intends for LabelInfo: a late subscriber gets the current map.
LABEL_INFO_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
WARNING_INTERVAL_S = 5.0


@dataclass
class Detected:
    """One frame after the model call: its header, its image and the raw detections."""

    header: object
    bgr: np.ndarray
    detections: RawDetections
    inference_s: float


class ServedCamera:
    """The topics and state of one camera; `name` '' is the node's single camera.

    `input_suffix` is the image transport's (`/compressed`); with `depth_history` (depth on)
    `depth`, a `DepthInput`, pairs depth with colour. The `segmenter` finishes each frame with
    the `settings` in force, which `apply` replaces between frames. With `tracking`, `tracks`
    gives each instance its track id and publishes them as an image.
    """

    def __init__(self, node: Node, name: str, input_suffix: str, segmenter: Segmenter,
                 settings: RunSettings, depth_history: int | None, tracking: bool = False):
        self.name = name
        self._node = node
        self._segmenter = segmenter
        self.settings = settings
        self._prefix = f'{name}/' if name else ''
        self.image_name = self._prefix + 'image'  # what a remap to the camera's topic names
        self.image_topic = node.resolve_topic_name(self.image_name) + input_suffix
        self.depth = None if depth_history is None else DepthInput(
            depth_history, settings.depth.sync_tolerance, settings.depth.allow_frame_mismatch)
        self.faults = FaultCounts()
        self._last_warning = {}
        self._buffers = {}
        self.masks = self._publisher(Image, 'masks')
        self.detections_json = self._publisher(String, 'detections_json')
        self.overlay = self._publisher(Image, 'overlay')
        # Lossless PNG for the label image (JPEG would change instance ids), JPEG for people.
        self.masks_png = self._publisher(CompressedImage, 'masks/compressed')
        self.overlay_jpeg = self._publisher(CompressedImage, 'overlay/compressed')
        self.detections = self.label_info = None
        if detection_msgs.AVAILABLE:
            self.detections = self._publisher(detection_msgs.Detection2DArray, 'detections')
            self.label_info = self._publisher(detection_msgs.LabelInfo, 'label_info',
                                              LABEL_INFO_QOS)
        self.detections_3d = self.markers = self.points = None
        if self.depth is not None:
            self.points = self._publisher(PointCloud2, 'points')
            if detection_msgs.AVAILABLE:
                self.detections_3d = self._publisher(detection_msgs.Detection3DArray,
                                                     'detections_3d')
            if depth_msgs.MARKERS_AVAILABLE:
                self.markers = self._publisher(depth_msgs.MarkerArray, 'markers')
        self.tracks = CameraTracks(self._publisher, settings.tracking) if tracking else None

    def topic(self, relative: str) -> str:
        """The resolved name of one of this camera's topics (`masks`, `depth/image`, ...)."""
        return self._node.resolve_topic_name(self._prefix + relative)

    def _publisher(self, message_type, relative: str, qos: QoSProfile = OUTPUT_QOS):
        return self._node.create_publisher(message_type, self._prefix + relative, qos)

    def label(self, text: str) -> str:
        """`text` naming this camera where the node serves several."""
        return f'{self.name}: {text}' if self.name else text

    def apply(self, settings: RunSettings, stamp):
        """Use new settings from the next frame on; label_info follows the score threshold."""
        threshold = self.settings.postprocess.score_threshold
        self.settings = settings
        if self.depth is not None:
            self.depth.tolerance_s = settings.depth.sync_tolerance
            self.depth.allow_frame_mismatch = settings.depth.allow_frame_mismatch
        if self.tracks is not None:
            self.tracks.apply(settings.tracking)
        if settings.postprocess.score_threshold != threshold:
            self.publish_label_info(stamp)

    def publish(self, detected: Detected):
        """Finish a frame and publish it on the outputs that have subscribers, with its header."""
        settings, header = self.settings, detected.header
        height, width = detected.bgr.shape[:2]
        mask_data, mask_view = self._buffer('masks', height, width, 1)
        result = self._segmenter.finish(detected.detections, detected.inference_s,
                                        (height, width), settings.postprocess,
                                        label_image=mask_view)
        located = None if self.depth is None else self._locate(header, result, settings.depth)
        track_ids = None if self.tracks is None else self.tracks.update(header, result.instances)
        if self.masks.get_subscription_count():
            mask_msg = Image(header=header)
            fill_image_msg_from_buffer(mask_msg, mask_data, height, width, 'mono8')
            self.masks.publish(mask_msg)
        if self.masks_png.get_subscription_count():
            self.masks_png.publish(CompressedImage(
                header=header, format=MASK_FORMAT, data=encode_png(mask_view)))
        if self.detections_json.get_subscription_count():
            self.detections_json.publish(String(data=self._segmenter.frame_json(
                result, header.stamp.sec, header.stamp.nanosec, header.frame_id, located,
                track_ids)))
        label_map = self._segmenter.label_map
        if self.detections is not None and self.detections.get_subscription_count():
            self.detections.publish(detection_msgs.to_detection2d_array(
                result.instances, label_map, header, track_ids))
        if located is not None:
            self._publish_3d(header, result.instances, located, label_map, track_ids)
        raw_overlay = self.overlay.get_subscription_count()
        jpeg_overlay = self.overlay_jpeg.get_subscription_count()
        if not (raw_overlay or jpeg_overlay):
            return  # nobody looks: not even rendered
        overlay_data, overlay_view = self._buffer('overlay', height, width, 3)
        self._segmenter.overlay(detected.bgr, result, settings.overlay_alpha, out=overlay_view,
                                track_ids=track_ids)
        if raw_overlay:
            overlay_msg = Image(header=header)
            fill_image_msg_from_buffer(overlay_msg, overlay_data, height, width, 'bgr8')
            self.overlay.publish(overlay_msg)
        if jpeg_overlay:
            self.overlay_jpeg.publish(CompressedImage(
                header=header, format=OVERLAY_FORMAT,
                data=encode_jpeg(overlay_view, settings.jpeg_quality)))

    def publish_label_info(self, stamp):
        """The class ids and names of the label map, with the score threshold in force."""
        if self.label_info is not None:
            self.label_info.publish(detection_msgs.to_label_info(
                self._segmenter.label_map, self.settings.postprocess.score_threshold, stamp))

    def _buffer(self, name: str, height: int, width: int, channels: int):
        """A message buffer reused across frames of one size (publish copies it out)."""
        key = (name, height, width)
        if key not in self._buffers:
            self._buffers = {k: v for k, v in self._buffers.items() if k[0] != name}
            self._buffers[key] = new_image_buffer(height, width, channels)
        return self._buffers[key]

    def receive_depth(self, message):
        """Keep a depth frame for pairing, or refuse one that can never be used."""
        try:
            self.depth.add_depth(message)
        except DepthError as error:
            self.refuse_depth(error)

    def _locate(self, header, result, settings: DepthSettings) -> Instances3D | None:
        """The instances in 3D from the depth frame paired with this one, if anyone listens."""
        listeners = (self.detections_json, self.detections_3d, self.markers, self.points)
        if not any(p is not None and p.get_subscription_count() for p in listeners):
            return None
        try:
            paired = self.depth.pair(header, result.instances.label_image)
        except DepthError as error:
            self.refuse_depth(error)
            return None
        return locate_instances(paired.labels, paired.depth, paired.metres_per_unit,
                                paired.intrinsics, len(result.instances),
                                percentile=settings.percentile, max_gap=settings.max_gap,
                                min_points=settings.min_points,
                                with_cloud=bool(self.points.get_subscription_count()))

    def _publish_3d(self, header, instances, located: Instances3D, label_map, track_ids):
        if self.detections_3d is not None and self.detections_3d.get_subscription_count():
            self.detections_3d.publish(detection_msgs.to_detection3d_array(
                instances, located, label_map, header, track_ids))
        if self.markers is not None and self.markers.get_subscription_count():
            self.markers.publish(depth_msgs.to_marker_array(instances, located, label_map,
                                                            header, track_ids))
        if located.cloud is not None:
            self.points.publish(depth_msgs.to_point_cloud(located.cloud, header))

    def refuse_depth(self, error: DepthError):
        """Count a refused depth frame or 3D result; say so once every few seconds per kind."""
        count = self.faults.depth_refused(error.kind)
        self._warn(('depth', error.kind), f'no 3D ({error.kind}, {count} so far): {error}')

    def frame_failed(self, error: Exception, shutting_down: bool):
        """Count a malformed image or a failed frame; say so at most every few seconds."""
        if isinstance(error, ImageConversionError):
            count = self.faults.rejected(error.kind)
            self._warn(error.kind, f'rejected an image ({error.kind}, {count} so far): {error}')
        elif not shutting_down:  # else not the frame's fault
            self.faults.failed()
            self._node.get_logger().error(self.label(f'failed to process a frame: {error!r}'),
                                          throttle_duration_sec=WARNING_INTERVAL_S)

    def _warn(self, key, text: str):
        now = time.monotonic()
        if now - self._last_warning.get(key, -WARNING_INTERVAL_S) >= WARNING_INTERVAL_S:
            self._last_warning[key] = now
            self._node.get_logger().warning(self.label(text))
