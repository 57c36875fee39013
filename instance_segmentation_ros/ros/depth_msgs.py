"""The 3D outputs for rviz: `markers` (visualization_msgs, where installed) and `points`.

visualization_msgs is a separate wheel (`ros-jazzy-visualization-msgs`), so its import is
optional like vision_msgs': without it the node publishes no `markers`, and says so.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField

from ..core.depth3d import Instances3D
from ..core.depth_outputs import (
    BOX_ALPHA,
    LABEL_HEIGHT,
    POINT_DTYPE,
    POINT_FIELDS,
    cloud_points,
    instance_markers,
)
from ..core.labels import LabelMap
from ..core.postprocess import Instances

try:
    from visualization_msgs.msg import Marker, MarkerArray
except ImportError:  # not installed: requirements.txt names the wheel
    Marker = MarkerArray = None

MARKERS_AVAILABLE = MarkerArray is not None
MESSAGE_POINT_FIELDS = [
    PointField(name=name, offset=4 * index, datatype=getattr(PointField, datatype), count=1)
    for index, (name, datatype) in enumerate(POINT_FIELDS)]


def to_marker_array(instances: Instances, located: Instances3D, label_map: LabelMap, header,
                    track_ids: np.ndarray | None = None):
    """A translucent box in the class colour and a "name score" label per located instance.

    It starts with DELETEALL, so that the boxes of instances gone since the last frame go too;
    marker ids and labels are `depth_outputs.instance_markers`' (namespaces `boxes` and
    `labels`).
    """
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    for spec in instance_markers(instances, located, label_map, track_ids):
        red, green, blue = spec.rgb
        box = Marker(header=header, ns='boxes', id=spec.marker_id, type=Marker.CUBE,
                     action=Marker.ADD)
        box.pose.position.x, box.pose.position.y, box.pose.position.z = spec.box_centre
        box.pose.orientation.w = 1.0
        box.scale.x, box.scale.y, box.scale.z = spec.box_scale
        box.color.r, box.color.g, box.color.b, box.color.a = red, green, blue, BOX_ALPHA
        label = Marker(header=header, ns='labels', id=spec.marker_id,
                       type=Marker.TEXT_VIEW_FACING, action=Marker.ADD)
        label.pose.position.x, label.pose.position.y, label.pose.position.z = (
            spec.label_position)
        label.pose.orientation.w = 1.0
        label.scale.z = LABEL_HEIGHT
        label.color.r, label.color.g, label.color.b, label.color.a = red, green, blue, 1.0
        label.text = spec.text
        markers += [box, label]
    return MarkerArray(markers=markers)


def to_point_cloud(cloud: np.ndarray, header) -> PointCloud2:
    """The (N, 4) x, y, z, instance points as an unordered PointCloud2 (fields x y z id)."""
    points = cloud_points(cloud)
    return PointCloud2(header=header, height=1, width=len(points), fields=MESSAGE_POINT_FIELDS,
                       is_bigendian=False, point_step=POINT_DTYPE.itemsize,
                       row_step=POINT_DTYPE.itemsize * len(points), is_dense=True,
                       data=points.tobytes())
