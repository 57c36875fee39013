"""The 3D outputs for rviz: `markers` (visualization_msgs, where installed) and `points`.

visualization_msgs is a separate wheel (`ros-jazzy-visualization-msgs`), so its import is
optional like vision_msgs': without it the node publishes no `markers`, and says so.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField

from ..core.depth3d import Instances3D
from ..core.labels import LabelMap
from ..core.postprocess import Instances
from ..core.render import class_colour

try:
    from visualization_msgs.msg import Marker, MarkerArray
except ImportError:  # not installed: requirements.txt names the wheel
    Marker = MarkerArray = None

MARKERS_AVAILABLE = MarkerArray is not None
BOX_ALPHA = 0.35
LABEL_HEIGHT = 0.08  # m, the text's height in rviz
UNCONFIRMED_MARKER_ID = 65536  # above every uint16 track id
POINT_FIELDS = [PointField(name=name, offset=4 * index, datatype=datatype, count=1)
                for index, (name, datatype) in enumerate((
                    ('x', PointField.FLOAT32), ('y', PointField.FLOAT32),
                    ('z', PointField.FLOAT32), ('id', PointField.UINT32)))]
POINT_DTYPE = np.dtype([('x', '<f4'), ('y', '<f4'), ('z', '<f4'), ('id', '<u4')])


def to_marker_array(instances: Instances, located: Instances3D, label_map: LabelMap, header,
                    track_ids: np.ndarray | None = None):
    """A translucent box in the class colour and a "name score" label per located instance.

    It starts with DELETEALL, so that the boxes of instances gone since the last frame go too;
    marker ids are the instance numbers (namespaces `boxes` and `labels`). With `track_ids`
    they are the track ids and the labels read "name #id score"; an instance not yet
    confirmed gets UNCONFIRMED_MARKER_ID + its number, which no track id reaches.
    """
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    for number in range(1, len(instances) + 1):
        if not located.located(number):
            continue
        row = number - 1
        track_id = 0 if track_ids is None else int(track_ids[row])
        marker_id = (number if track_ids is None
                     else track_id or UNCONFIRMED_MARKER_ID + number)
        low, high = located.box_min[row].astype(float), located.box_max[row].astype(float)
        blue, green, red = (channel / 255.0 for channel in class_colour(instances.classes[row]))
        box = Marker(header=header, ns='boxes', id=marker_id, type=Marker.CUBE, action=Marker.ADD)
        box.pose.position.x, box.pose.position.y, box.pose.position.z = (
            (low + high) / 2.0).tolist()
        box.pose.orientation.w = 1.0
        # rviz does not draw a cube with a zero side: a flat object gets a thin one.
        box.scale.x, box.scale.y, box.scale.z = np.maximum(high - low, 0.005).tolist()
        box.color.r, box.color.g, box.color.b, box.color.a = red, green, blue, BOX_ALPHA
        label = Marker(header=header, ns='labels', id=marker_id, type=Marker.TEXT_VIEW_FACING,
                       action=Marker.ADD)
        label.pose.position.x = float(low[0] + high[0]) / 2.0
        label.pose.position.y = float(low[1]) - LABEL_HEIGHT  # above the box: y points down
        label.pose.position.z = float(low[2])
        label.pose.orientation.w = 1.0
        label.scale.z = LABEL_HEIGHT
        label.color.r, label.color.g, label.color.b, label.color.a = red, green, blue, 1.0
        name = label_map.name(instances.classes[row])
        label.text = (f'{name} #{track_id} ' if track_id else f'{name} ') + (
            f'{float(instances.scores[row]):.2f}')
        markers += [box, label]
    return MarkerArray(markers=markers)


def to_point_cloud(cloud: np.ndarray, header) -> PointCloud2:
    """The (N, 4) x, y, z, instance points as an unordered PointCloud2 (fields x y z id)."""
    points = np.empty(len(cloud), POINT_DTYPE)
    points['x'], points['y'], points['z'] = cloud[:, 0], cloud[:, 1], cloud[:, 2]
    points['id'] = cloud[:, 3].astype(np.uint32)
    return PointCloud2(header=header, height=1, width=len(points), fields=POINT_FIELDS,
                       is_bigendian=False, point_step=POINT_DTYPE.itemsize,
                       row_step=POINT_DTYPE.itemsize * len(points), is_dense=True,
                       data=points.tobytes())
