"""The bag command's depth: each camera's aligned depth, paired and measured as the node does.

A camera topic gets the 3D outputs when the bag has a depth image aligned to it and that
image's camera_info: the topic named by --depth-topic, else the first of these beside it
(REP-118 names) that the bag holds, a ``sensor_msgs/Image`` with a ``camera_info`` beside it:

- ``<P>/aligned_depth_to_color/image_raw`` for ``<P>/color/image_raw`` (a RealSense driver's
  aligned depth, as the README remaps the node's inputs to);
- ``<N>/depth/image`` for ``<N>/image`` (the node's own input names, what folder_player plays).

Depth frames are kept as the node keeps them (`core.depth_input.DepthInput`, the node's
default depth.history and depth.sync_tolerance): a colour frame is paired with the depth frame
of the nearest stamp within the tolerance among those logged before it or up to LOOKAHEAD_NS
after it (the node pairs after the model call, so depth that comes a little later counts),
and measured with `core.depth3d.locate_instances` (the node's defaults). Its outputs are the
node's: the 3D fields of ``detections_json`` and, under the camera's results, ``markers``
(visualization_msgs/MarkerArray) and ``points`` (sensor_msgs/PointCloud2); ``detections_3d``
where vision_msgs is installed (`bag_vision`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from .common import EXIT_USAGE, CliError

DEPTH_IMAGE_TYPE = 'sensor_msgs/msg/Image'
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
SYNC_TOLERANCE_S = 0.02  # segmentation_node's depth.sync_tolerance default
HISTORY = 30  # its depth.history default
LOOKAHEAD_NS = 250_000_000  # depth logged this long after its colour frame is still paired


def depth_candidates(camera_topic: str) -> list[str]:
    """The REP-118 names of a depth image aligned to `camera_topic`, most specific first."""
    raw = camera_topic[:-len('/compressed')] if camera_topic.endswith('/compressed') else (
        camera_topic)
    path = PurePosixPath(raw)
    found = []
    if path.name == 'image_raw' and path.parent.name == 'color':
        found.append(str(path.parent.parent / 'aligned_depth_to_color' / 'image_raw'))
    found.append(str(path.parent / 'depth' / path.name))
    return found


def info_topic(depth_topic: str) -> str:
    """The camera_info beside a depth image topic."""
    return str(PurePosixPath(depth_topic).parent / 'camera_info')


def check_depth_topic(depth_topic: str, types: dict[str, str]):
    """CliError unless --depth-topic is a depth image of the bag with a camera_info beside it."""
    if types.get(depth_topic) != DEPTH_IMAGE_TYPE:
        raise CliError(f'--depth-topic: {depth_topic} is not a sensor_msgs/Image topic of the '
                       f'bag', EXIT_USAGE)
    if types.get(info_topic(depth_topic)) != CAMERA_INFO_TYPE:
        raise CliError(f'--depth-topic: the bag has no {info_topic(depth_topic)} '
                       f'(sensor_msgs/CameraInfo) beside {depth_topic}', EXIT_USAGE)


def find_depth(depth_topic: str | None, camera_topics: list[str], types: dict[str, str]
               ) -> dict[str, str]:
    """Camera topic -> its depth image topic: --depth-topic's (one camera), else those found."""
    if depth_topic:
        if len(camera_topics) != 1:
            raise CliError(f'--depth-topic needs one camera topic, not {len(camera_topics)}: '
                           f'name it with --topics', EXIT_USAGE)
        return {camera_topics[0]: depth_topic}
    found = {}
    for camera in camera_topics:
        for candidate in depth_candidates(camera):
            if (types.get(candidate) == DEPTH_IMAGE_TYPE
                    and types.get(info_topic(candidate)) == CAMERA_INFO_TYPE):
                found[camera] = candidate
                break
    return found


@dataclass
class CameraDepth:
    """One camera's depth frames and camera_info as read so far, and the frames without 3D."""

    depth_topic: str
    frames: object  # core.depth_input.DepthInput
    refused: Counter = field(default_factory=Counter)  # DepthError kind -> frames


class BagDepth:
    """The depth of every camera that has one: fed the depth messages, it gives frames 3D."""

    def __init__(self, depth_topics: dict[str, str]):
        from ..core.depth_input import DepthInput

        self.cameras = {camera: CameraDepth(topic, DepthInput(HISTORY, SYNC_TOLERANCE_S, False))
                        for camera, topic in depth_topics.items()}
        self._inputs = {}  # depth or camera_info topic -> (CameraDepth, is the camera_info)
        for depth in self.cameras.values():
            self._inputs[depth.depth_topic] = (depth, False)
            self._inputs[info_topic(depth.depth_topic)] = (depth, True)

    def reads(self, topic: str) -> bool:
        """Whether messages of `topic` are depth or camera_info that a camera needs."""
        return topic in self._inputs

    def add(self, reader, connection, data: bytes):
        """Keep a depth frame or camera_info; a depth frame that can never be used is counted."""
        from rosbags.highlevel import AnyReaderError

        from ..core.depth3d import DepthError

        depth, is_info = self._inputs[connection.topic]
        try:
            message = reader.deserialize(data, connection.msgtype)
            if is_info:
                depth.frames.add_camera_info(message)
            else:
                depth.frames.add_depth(message)
        except AnyReaderError:
            depth.refused['data_length'] += 1
        except DepthError as error:
            depth.refused[error.kind] += 1

    def locate(self, camera_topic: str, header, instances):
        """The instances' Instances3D from the paired depth frame, or None (counted) without."""
        from ..core.depth3d import DepthError, locate_instances

        depth = self.cameras[camera_topic]
        try:
            paired = depth.frames.pair(header, instances.label_image)
        except DepthError as error:
            depth.refused[error.kind] += 1
            return None
        return locate_instances(paired.labels, paired.depth, paired.metres_per_unit,
                                paired.intrinsics, len(instances), with_cloud=True)

    def refusals(self) -> list[str]:
        """One line per camera that had frames or depth without 3D: how many of each kind."""
        return [f'{camera}: ' + ', '.join(f'{kind} {count}' for kind, count in sorted(
            depth.refused.items())) for camera, depth in self.cameras.items() if depth.refused]


def with_3d(result, stamp: tuple[int, int, str], located, labels) -> tuple[str, list]:
    """A frame's detections_json and COCO entries with the 3D fields, as the node gives them.

    `labels` is the frame engine's segmenter (its label map and model name).
    """
    from ..core.results import add_3d, frame_json

    sec, nanosec, frame_id = stamp
    text = frame_json(result.instances, labels.label_map, sec, nanosec, frame_id,
                      labels.model.name, result.inference_s * 1000.0, located)
    coco = [dict(entry) for entry in result.coco]
    add_3d(coco, located)
    return text, coco


def write_3d(bag, camera, log_time: int, header, instances, located, label_map):
    """A frame's `markers` and `points` into the output bag, as the node publishes them."""
    from ..core.depth_outputs import (
        BOX_ALPHA,
        LABEL_HEIGHT,
        POINT_DTYPE,
        POINT_FIELDS,
        cloud_points,
        instance_markers,
    )
    from .bag_messages import constants, new_message, pose, xyz
    from .bag_output import DEPTH_TYPES

    store = bag.typestore
    marker_type = 'visualization_msgs/msg/Marker'
    marker = constants(store, marker_type)
    markers = [new_message(store, marker_type, header=header, action=marker['DELETEALL'])]
    for spec in instance_markers(instances, located, label_map):
        colour = {'r': spec.rgb[0], 'g': spec.rgb[1], 'b': spec.rgb[2]}
        markers.append(new_message(
            store, marker_type, header=header, ns='boxes', id=spec.marker_id,
            type=marker['CUBE'], action=marker['ADD'], pose=pose(store, spec.box_centre),
            scale=xyz(store, 'geometry_msgs/msg/Vector3', spec.box_scale),
            color=new_message(store, 'std_msgs/msg/ColorRGBA', **colour, a=BOX_ALPHA)))
        markers.append(new_message(
            store, marker_type, header=header, ns='labels', id=spec.marker_id,
            type=marker['TEXT_VIEW_FACING'], action=marker['ADD'],
            pose=pose(store, spec.label_position),
            scale=xyz(store, 'geometry_msgs/msg/Vector3', (0.0, 0.0, LABEL_HEIGHT)),
            color=new_message(store, 'std_msgs/msg/ColorRGBA', **colour, a=1.0),
            text=spec.text))
    bag.write_result(camera.outputs['markers'], DEPTH_TYPES['markers'], log_time,
                     new_message(store, DEPTH_TYPES['markers'], markers=markers))
    points = cloud_points(located.cloud)
    datatypes = constants(store, 'sensor_msgs/msg/PointField')
    fields = [new_message(store, 'sensor_msgs/msg/PointField', name=name, offset=4 * index,
                          datatype=datatypes[datatype], count=1)
              for index, (name, datatype) in enumerate(POINT_FIELDS)]
    bag.write_result(camera.outputs['points'], DEPTH_TYPES['points'], log_time, new_message(
        store, DEPTH_TYPES['points'], header=header, height=1, width=len(points),
        fields=fields, is_bigendian=False, point_step=POINT_DTYPE.itemsize,
        row_step=POINT_DTYPE.itemsize * len(points), is_dense=True,
        data=np.frombuffer(points.tobytes(), np.uint8)))
