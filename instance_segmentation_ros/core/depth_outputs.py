"""What the 3D outputs `markers` and `points` hold, apart from any message class.

The node (`ros.depth_msgs`, rclpy messages) and the bag command (`cli.bag_depth`, rosbags
messages) both build them from these, so that a bag's markers and points are the node's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .depth3d import Instances3D
from .detections import Instances
from .labels import LabelMap
from .render import class_colour

BOX_ALPHA = 0.35
LABEL_HEIGHT = 0.08  # m, the text's height in rviz
UNCONFIRMED_MARKER_ID = 65536  # above every uint16 track id
THINNEST_BOX = 0.005  # m: rviz does not draw a cube with a zero side
POINT_DTYPE = np.dtype([('x', '<f4'), ('y', '<f4'), ('z', '<f4'), ('id', '<u4')])
POINT_FIELDS = (('x', 'FLOAT32'), ('y', 'FLOAT32'), ('z', 'FLOAT32'), ('id', 'UINT32'))
"""PointCloud2 fields of `POINT_DTYPE`: name and PointField datatype, 4 bytes apart."""


@dataclass(frozen=True)
class InstanceMarker:
    """One located instance in rviz: a translucent box in its class colour, and its label."""

    marker_id: int
    box_centre: tuple[float, float, float]
    box_scale: tuple[float, float, float]
    label_position: tuple[float, float, float]
    rgb: tuple[float, float, float]  # 0..1
    text: str


def instance_markers(instances: Instances, located: Instances3D, label_map: LabelMap,
                     track_ids: np.ndarray | None = None) -> list[InstanceMarker]:
    """The marker of each located instance, in instance order.

    Marker ids are the instance numbers; with `track_ids` they are the track ids and the
    labels read "name #id score", and an instance not yet confirmed gets
    UNCONFIRMED_MARKER_ID + its number, which no track id reaches.
    """
    markers = []
    for number in range(1, len(instances) + 1):
        if not located.located(number):
            continue
        row = number - 1
        track_id = 0 if track_ids is None else int(track_ids[row])
        marker_id = (number if track_ids is None
                     else track_id or UNCONFIRMED_MARKER_ID + number)
        low, high = located.box_min[row].astype(float), located.box_max[row].astype(float)
        blue, green, red = (channel / 255.0 for channel in class_colour(instances.classes[row]))
        name = label_map.name(instances.classes[row])
        text = (f'{name} #{track_id} ' if track_id else f'{name} ') + (
            f'{float(instances.scores[row]):.2f}')
        markers.append(InstanceMarker(
            marker_id, tuple(((low + high) / 2.0).tolist()),
            tuple(np.maximum(high - low, THINNEST_BOX).tolist()),
            # above the box (y points down), at its front
            (float(low[0] + high[0]) / 2.0, float(low[1]) - LABEL_HEIGHT, float(low[2])),
            (red, green, blue), text))
    return markers


def cloud_points(cloud: np.ndarray) -> np.ndarray:
    """The (N, 4) x, y, z, instance points of `Instances3D.cloud` as `POINT_DTYPE` records."""
    points = np.empty(len(cloud), POINT_DTYPE)
    points['x'], points['y'], points['z'] = cloud[:, 0], cloud[:, 1], cloud[:, 2]
    points['id'] = cloud[:, 3].astype(np.uint32)
    return points
