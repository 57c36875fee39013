"""What the vision_msgs outputs (`detections`, `detections_3d`, `label_info`) hold.

The node (`ros.detection_msgs`, rclpy messages) and the bag command (`cli.bag_vision`,
rosbags messages) both fill their messages from these values, so that a bag's `detections`
are the node's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .depth3d import Instances3D
from .detections import Instances
from .labels import LabelMap


def detection_id(number: int, track_ids: np.ndarray | None) -> str:
    """A detection's id: its track id where tracking ('' while unconfirmed), else its number.

    Without tracking the number is the instance's value in the label image (`masks`); with
    it, the object's id over frames, its value in `track_masks`.
    """
    if track_ids is None:
        return str(number)
    track_id = int(track_ids[number - 1])
    return str(track_id) if track_id else ''


@dataclass(frozen=True)
class Detection2DValues:
    """One Detection2D: id, bbox centre and size in pixels, class name and score."""

    detection_id: str
    centre: tuple[float, float]
    size: tuple[float, float]
    class_name: str
    score: float


@dataclass(frozen=True)
class Detection3DValues:
    """One Detection3D: id, axis-aligned bbox (m, optical frame), class, score, centroid."""

    detection_id: str
    centre: tuple[float, float, float]
    size: tuple[float, float, float]
    class_name: str
    score: float
    centroid: tuple[float, float, float]


def detections_2d(instances: Instances, label_map: LabelMap,
                  track_ids: np.ndarray | None = None) -> list[Detection2DValues]:
    """One Detection2DValues per instance, in instance order."""
    found = []
    for number in range(1, len(instances) + 1):
        x0, y0, x1, y1 = (float(v) for v in instances.boxes[number - 1])
        found.append(Detection2DValues(
            detection_id(number, track_ids), ((x0 + x1) / 2.0, (y0 + y1) / 2.0),
            (x1 - x0, y1 - y0), label_map.name(instances.classes[number - 1]),
            float(instances.scores[number - 1])))
    return found


def detections_3d(instances: Instances, located: Instances3D, label_map: LabelMap,
                  track_ids: np.ndarray | None = None) -> list[Detection3DValues]:
    """One Detection3DValues per instance with a 3D position, with its 2D detection's id."""
    found = []
    for number in range(1, len(instances) + 1):
        if not located.located(number):
            continue
        row = number - 1
        low, high = located.box_min[row].astype(float), located.box_max[row].astype(float)
        found.append(Detection3DValues(
            detection_id(number, track_ids), tuple(((low + high) / 2.0).tolist()),
            tuple((high - low).tolist()), label_map.name(instances.classes[row]),
            float(instances.scores[row]),
            tuple(located.centroids[row].astype(float).tolist())))
    return found


def label_classes(label_map: LabelMap) -> list[tuple[int, str]]:
    """LabelInfo's class map: (class id, name), by class id."""
    return sorted(label_map.names.items())
