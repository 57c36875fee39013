"""vision_msgs outputs (Detection2DArray, Detection3DArray, LabelInfo), where it is installed.

vision_msgs has no PyPI wheel, so the import is optional; the node publishes `detections` and
`label_info` only when it succeeds, and `detections_json` carries the same content everywhere.
"""

from __future__ import annotations

import numpy as np

from ..core.depth3d import Instances3D
from ..core.detections import Instances
from ..core.labels import LabelMap

try:
    from vision_msgs.msg import (
        Detection2D,
        Detection2DArray,
        Detection3D,
        Detection3DArray,
        LabelInfo,
        ObjectHypothesisWithPose,
        VisionClass,
    )
except ImportError:  # no PyPI wheel: a ROS install, or the README's overlay, brings it
    Detection2D = Detection2DArray = Detection3D = Detection3DArray = None
    LabelInfo = ObjectHypothesisWithPose = VisionClass = None

AVAILABLE = Detection2DArray is not None


def detection_id(number: int, track_ids: np.ndarray | None) -> str:
    """A detection's id: its track id where tracking ('' while unconfirmed), else its number.

    Without tracking the number is the instance's value in the label image (`masks`); with
    it, the object's id over frames, its value in `track_masks`.
    """
    if track_ids is None:
        return str(number)
    track_id = int(track_ids[number - 1])
    return str(track_id) if track_id else ''


def to_detection2d_array(instances: Instances, label_map: LabelMap, header,
                         track_ids: np.ndarray | None = None):
    """One Detection2D per instance: id as `detection_id` says, bbox in pixels."""
    message = Detection2DArray(header=header)
    for number in range(1, len(instances) + 1):
        x0, y0, x1, y1 = (float(v) for v in instances.boxes[number - 1])
        detection = Detection2D(header=header, id=detection_id(number, track_ids))
        detection.bbox.center.position.x = (x0 + x1) / 2.0
        detection.bbox.center.position.y = (y0 + y1) / 2.0
        detection.bbox.size_x = x1 - x0
        detection.bbox.size_y = y1 - y0
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = label_map.name(instances.classes[number - 1])
        hypothesis.hypothesis.score = float(instances.scores[number - 1])
        detection.results.append(hypothesis)
        message.detections.append(detection)
    return message


def to_detection3d_array(instances: Instances, located: Instances3D, label_map: LabelMap,
                         header, track_ids: np.ndarray | None = None):
    """One Detection3D per instance with a 3D position, with the id of its 2D detection.

    The hypothesis pose is the centroid; the bbox is the axis-aligned box in the header's
    (optical) frame, so its orientation is the identity.
    """
    message = Detection3DArray(header=header)
    for number in range(1, len(instances) + 1):
        if not located.located(number):
            continue
        row = number - 1
        low, high = located.box_min[row].astype(float), located.box_max[row].astype(float)
        detection = Detection3D(header=header, id=detection_id(number, track_ids))
        position = detection.bbox.center.position
        position.x, position.y, position.z = ((low + high) / 2.0).tolist()
        size = detection.bbox.size
        size.x, size.y, size.z = (high - low).tolist()
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = label_map.name(instances.classes[row])
        hypothesis.hypothesis.score = float(instances.scores[row])
        centroid = hypothesis.pose.pose.position
        centroid.x, centroid.y, centroid.z = located.centroids[row].astype(float).tolist()
        detection.results.append(hypothesis)
        message.detections.append(detection)
    return message


def to_label_info(label_map: LabelMap, threshold: float, stamp):
    """The label map as vision_msgs/LabelInfo: class id -> name, and the score threshold."""
    message = LabelInfo(threshold=float(threshold))
    message.header.stamp = stamp
    message.class_map = [VisionClass(class_id=class_id, class_name=name)
                         for class_id, name in sorted(label_map.names.items())]
    return message
