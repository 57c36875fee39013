"""Messages of the output bag's rosbags type store, with ROS's defaults where not given.

rosbags' message classes take every field; the bag command's depth and vision_msgs outputs
give only the fields the node sets, as rclpy's message classes allow.
"""

from __future__ import annotations

import numpy as np


def constants(store, msgtype: str) -> dict[str, int]:
    """A message type's constants by name (Marker.CUBE, PointField.FLOAT32, ...)."""
    return {name: value for name, _, value in store.fielddefs[msgtype][0]}


def pose(store, position):
    """A geometry_msgs/Pose at `position` (x, y, z), not rotated."""
    return new_message(store, 'geometry_msgs/msg/Pose',
                       position=xyz(store, 'geometry_msgs/msg/Point', position))


def xyz(store, msgtype: str, values):
    """A message of `msgtype` with fields x, y, z (Point, Vector3) from `values`."""
    x, y, z = values
    return new_message(store, msgtype, x=x, y=y, z=z)


def new_message(store, msgtype: str, **values):
    """A message of rosbags' `store` with `values` and every other field at its ROS default.

    rosbags' message classes take every field; ROS gives a Quaternion w = 1, the others 0.
    """
    if msgtype == 'geometry_msgs/msg/Quaternion':
        values.setdefault('w', 1.0)
    _, fields = store.fielddefs[msgtype]
    for name, (nodetype, detail) in fields:
        if name not in values:
            values[name] = _default(store, nodetype, detail)
    return store.types[msgtype](**values)


def _default(store, nodetype, detail):
    from rosbags.typesys.base import Nodetype

    if nodetype == Nodetype.NAME:
        return new_message(store, detail)
    if nodetype == Nodetype.BASE:
        kind = detail[0]
        return '' if kind in ('string', 'wstring') else False if kind == 'bool' else (
            0.0 if kind.startswith('float') else 0)
    (inner_type, inner), length = detail
    if nodetype == Nodetype.SEQUENCE:
        length = 0
    if inner_type == Nodetype.BASE and inner[0] not in ('string', 'wstring'):
        return np.zeros(length, np.dtype('uint8' if inner[0] in ('byte', 'char', 'octet')
                                         else 'bool' if inner[0] == 'bool' else inner[0]))
    return [_default(store, inner_type, inner) for _ in range(length)]
