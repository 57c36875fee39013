"""The bag command's vision_msgs outputs: `detections`, `label_info` and `detections_3d`.

rosbags' Jazzy type store has no vision_msgs, so their definitions come from where vision_msgs
is installed (a ROS 2 install, or the README's ROS tools): ``share/vision_msgs/msg/*.msg``
found through the ament index, registered into the output bag's type store. Where they are not
installed these outputs are not written, and the command says so once, as the node does.
The field values are the node's (`core.vision_outputs`); `label_info`, which the node
publishes latched, is written once per camera, at its first frame's log time.
"""

from __future__ import annotations

import os
from pathlib import Path

from .bag_messages import new_message, pose, xyz
from .bag_output import VISION_3D_TYPES, VISION_TYPES

PACKAGE = 'vision_msgs'
DETECTIONS_TYPE = VISION_TYPES['detections']
DETECTIONS_3D_TYPE = VISION_3D_TYPES['detections_3d']
LABEL_INFO_TYPE = VISION_TYPES['label_info']
NOT_INSTALLED = ('vision_msgs not installed (no share/vision_msgs/msg in the ament index): '
                 'detections, label_info and detections_3d not written')


def message_folder() -> Path | None:
    """share/vision_msgs/msg of the first prefix of the ament index that has it, or None."""
    try:
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )
    except ImportError:
        prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
        found = [Path(p) / 'share' / PACKAGE / 'msg' for p in prefixes]
    else:
        try:
            found = [Path(get_package_share_directory(PACKAGE)) / 'msg']
        except (PackageNotFoundError, OSError):  # OSError: AMENT_PREFIX_PATH unset
            found = []
    return next((folder for folder in found if folder.is_dir() and any(folder.glob('*.msg'))),
                None)


def definitions(folder: Path | None = None) -> dict | None:
    """vision_msgs' types as rosbags parses them (to register into a type store), or None."""
    from rosbags.typesys import get_types_from_msg

    folder = message_folder() if folder is None else folder
    if folder is None:
        return None
    types = {}
    for path in sorted(folder.glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'{PACKAGE}/msg/{path.stem}'))
    return types


def write_detections(bag, camera, log_time: int, header, instances, label_map):
    """A frame's `detections` (Detection2DArray), as the node publishes them."""
    from ..core.vision_outputs import detections_2d

    store = bag.typestore
    detections = []
    for values in detections_2d(instances, label_map):
        x, y = values.centre
        centre = new_message(store, 'vision_msgs/msg/Pose2D', position=new_message(
            store, 'vision_msgs/msg/Point2D', x=x, y=y))
        bbox = new_message(store, 'vision_msgs/msg/BoundingBox2D', center=centre,
                           size_x=values.size[0], size_y=values.size[1])
        detections.append(new_message(
            store, 'vision_msgs/msg/Detection2D', header=header, id=values.detection_id,
            bbox=bbox, results=[_hypothesis(store, values)]))
    bag.write_result(camera.outputs['detections'], DETECTIONS_TYPE, log_time,
                     new_message(store, DETECTIONS_TYPE, header=header, detections=detections))


def write_detections_3d(bag, camera, log_time: int, header, instances, located, label_map):
    """A frame's `detections_3d` (Detection3DArray), as the node publishes them."""
    from ..core.vision_outputs import detections_3d

    store = bag.typestore
    detections = []
    for values in detections_3d(instances, located, label_map):
        bbox = new_message(store, 'vision_msgs/msg/BoundingBox3D',
                           center=pose(store, values.centre),
                           size=xyz(store, 'geometry_msgs/msg/Vector3', values.size))
        detections.append(new_message(
            store, 'vision_msgs/msg/Detection3D', header=header, id=values.detection_id,
            bbox=bbox, results=[_hypothesis(store, values, values.centroid)]))
    bag.write_result(camera.outputs['detections_3d'], DETECTIONS_3D_TYPE, log_time,
                     new_message(store, DETECTIONS_3D_TYPE, header=header,
                                 detections=detections))


def write_label_info(bag, camera, log_time: int, header, label_map, threshold: float):
    """The camera's `label_info`: class ids and names, and the score threshold."""
    from ..core.vision_outputs import label_classes

    store = bag.typestore
    class_map = [new_message(store, 'vision_msgs/msg/VisionClass', class_id=class_id,
                             class_name=name) for class_id, name in label_classes(label_map)]
    stamped = new_message(store, 'std_msgs/msg/Header', stamp=header.stamp)
    bag.write_result(camera.outputs['label_info'], LABEL_INFO_TYPE, log_time, new_message(
        store, LABEL_INFO_TYPE, header=stamped, class_map=class_map, threshold=float(threshold)))


def _hypothesis(store, values, position=None):
    hypothesis = new_message(store, 'vision_msgs/msg/ObjectHypothesis',
                             class_id=values.class_name, score=values.score)
    with_covariance = new_message(store, 'geometry_msgs/msg/PoseWithCovariance',
                                  pose=pose(store, position or (0.0, 0.0, 0.0)))
    return new_message(store, 'vision_msgs/msg/ObjectHypothesisWithPose',
                       hypothesis=hypothesis, pose=with_covariance)
