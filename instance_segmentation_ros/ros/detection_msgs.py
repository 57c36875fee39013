"""vision_msgs outputs (Detection2DArray, Detection3DArray, LabelInfo), where it is installed.

vision_msgs has no PyPI wheel, so the import is optional; the node publishes `detections` and
`label_info` only when it succeeds, and `detections_json` carries the same content everywhere.
"""

from __future__ import annotations

import numpy as np

from ..core.depth3d import Instances3D
from ..core.detections import Instances
from ..core.labels import LabelMap
from ..core.vision_outputs import detections_2d, detections_3d, label_classes

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


def to_detection2d_array(instances: Instances, label_map: LabelMap, header,
                         track_ids: np.ndarray | None = None):
    """One Detection2D per instance (`vision_outputs.detections_2d`): bbox in pixels."""
    message = Detection2DArray(header=header)
    for values in detections_2d(instances, label_map, track_ids):
        detection = Detection2D(header=header, id=values.detection_id)
        detection.bbox.center.position.x, detection.bbox.center.position.y = values.centre
        detection.bbox.size_x, detection.bbox.size_y = values.size
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = values.class_name
        hypothesis.hypothesis.score = values.score
        detection.results.append(hypothesis)
        message.detections.append(detection)
    return message


def to_detection3d_array(instances: Instances, located: Instances3D, label_map: LabelMap,
                         header, track_ids: np.ndarray | None = None):
    """One Detection3D per located instance (`vision_outputs.detections_3d`).

    The hypothesis pose is the centroid; the bbox is the axis-aligned box in the header's
    (optical) frame, so its orientation is the identity.
    """
    message = Detection3DArray(header=header)
    for values in detections_3d(instances, located, label_map, track_ids):
        detection = Detection3D(header=header, id=values.detection_id)
        position = detection.bbox.center.position
        position.x, position.y, position.z = values.centre
        size = detection.bbox.size
        size.x, size.y, size.z = values.size
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = values.class_name
        hypothesis.hypothesis.score = values.score
        centroid = hypothesis.pose.pose.position
        centroid.x, centroid.y, centroid.z = values.centroid
        detection.results.append(hypothesis)
        message.detections.append(detection)
    return message


def to_label_info(label_map: LabelMap, threshold: float, stamp):
    """The label map as vision_msgs/LabelInfo: class id -> name, and the score threshold."""
    message = LabelInfo(threshold=float(threshold))
    message.header.stamp = stamp
    message.class_map = [VisionClass(class_id=class_id, class_name=name)
                         for class_id, name in label_classes(label_map)]
    return message
