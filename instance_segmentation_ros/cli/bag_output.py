"""The bag command's output bag: the input's messages copied, and each camera's results.

Output names: a camera topic ``T`` (``T/compressed`` for a CompressedImage) gets its results
under ``<parent of T>/segmentation/``, as segmentation_node publishes them when started with
``-r __ns:=<parent of T>/segmentation -r image:=T``: ``/cam/image_raw`` gives
``/cam/segmentation/masks``, ``/image`` gives ``/segmentation/masks`` (the launch files' names).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from rosbags.convert.converter import create_connections_converters
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.typesys import Stores, get_typestore

from ..core.compressed import MASK_FORMAT, OVERLAY_FORMAT, encode_jpeg, encode_png
from ..core.topics import COMPRESSED_SUFFIX, SEGMENTATION_NAMESPACE
from .bag_reader import error_text as _reason
from .bag_writer import BAG_VERSION, OFFERED_QOS, BagWriterError

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
STRING_TYPE = 'std_msgs/msg/String'
CAMERA_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)
RESULT_TYPES = {'masks': IMAGE_TYPE, 'masks/compressed': COMPRESSED_TYPE,
                'detections_json': STRING_TYPE}
OVERLAY_TYPES = {'overlay': IMAGE_TYPE, 'overlay/compressed': COMPRESSED_TYPE}
DEPTH_TYPES = {'markers': 'visualization_msgs/msg/MarkerArray',
               'points': 'sensor_msgs/msg/PointCloud2'}
VISION_TYPES = {'detections': 'vision_msgs/msg/Detection2DArray',
                'label_info': 'vision_msgs/msg/LabelInfo'}  # where vision_msgs is installed
VISION_3D_TYPES = {'detections_3d': 'vision_msgs/msg/Detection3DArray'}
JPEG_QUALITY = 95  # segmentation_node's jpeg_quality default
PROGRESS_KEY = 'instance_segmentation'  # custom_data: where an interrupted run stopped


def output_namespace(camera_topic: str, msgtype: str) -> str:
    """`<parent of the raw image topic>/segmentation`: where a camera's results go."""
    raw = camera_topic
    if msgtype == COMPRESSED_TYPE and raw.endswith(COMPRESSED_SUFFIX):
        raw = raw[:-len(COMPRESSED_SUFFIX)]
    parent = str(PurePosixPath(raw).parent).rstrip('/')
    return f'{parent}/{SEGMENTATION_NAMESPACE}'


def is_result_topic(topic: str) -> bool:
    """Whether an image topic is one of the node's image outputs (never a camera)."""
    parts = topic.rstrip('/').split('/')
    if parts[-1] == 'compressed':
        parts = parts[:-1]
    return len(parts) >= 2 and parts[-2] == SEGMENTATION_NAMESPACE and parts[-1] in (
        'masks', 'overlay')


@dataclass(frozen=True)
class Camera:
    """One segmented image topic and the names of its outputs."""

    topic: str
    msgtype: str
    outputs: dict[str, str]  # output name (masks, ...) -> absolute topic

    @classmethod
    def of(cls, topic: str, msgtype: str, overlay: bool, depth: bool = False,
           vision: bool = False) -> Camera:
        """The camera of an image topic, with or without the overlay, 3D and vision_msgs."""
        namespace = output_namespace(topic, msgtype)
        names = {**RESULT_TYPES, **(OVERLAY_TYPES if overlay else {}),
                 **(DEPTH_TYPES if depth else {}), **(VISION_TYPES if vision else {}),
                 **(VISION_3D_TYPES if vision and depth else {})}
        return cls(topic, msgtype, {name: f'{namespace}/{name}' for name in names})


class OutputBag:
    """A new rosbag2 bag (version 8, Jazzy definitions) of copies and results.

    Connections are made on first use, so that a resumed run can copy the interrupted run's
    messages first. `progress` goes into metadata.yaml's custom_data when the bag is closed.
    `extra_types` (rosbags definitions, as `bag_vision.definitions` gives them) are registered
    beside the Jazzy ones.
    """

    def __init__(self, path: Path, storage: str, extra_types: dict | None = None):
        self.path = path
        self.storage = storage
        self.typestore = get_typestore(Stores.ROS2_JAZZY)
        if extra_types:
            self.typestore.register(extra_types)
        self.written_topics: set[str] = set()  # topics with a message in OUT, copies included
        self.progress: dict[str, str] = {}
        self._writer: Writer | None = None
        self._connections = {}  # topic -> writer connection
        self._converters = {}  # input connection id -> (writer connection, converter)
        self.frames = 0

    def open(self) -> OutputBag:
        """Create the bag folder; BagWriterError when it cannot be created."""
        plugin = StoragePlugin.MCAP if self.storage == 'mcap' else StoragePlugin.SQLITE3
        try:
            writer = Writer(self.path, version=BAG_VERSION, storage_plugin=plugin)
            writer.open()
        except (WriterError, OSError) as error:
            raise BagWriterError(f'cannot create bag {self.path}: {_reason(error)}') from error
        self._writer = writer
        return self

    def copy_connections(self, reader, connections):
        """Prepare copies of `reader`'s `connections` (converted from ROS 1 where needed)."""
        if not connections:
            return
        connmap, convmap = create_connections_converters(connections, None, reader,
                                                         self._writer)
        for connection in connections:
            target = connmap[(connection.id, connection.owner)]
            self._connections.setdefault(connection.topic, target)
            self._converters[(connection.id, id(connection.owner))] = (
                target, convmap[connection.msgtype])

    def copy(self, connection, log_time: int, data: bytes):
        """Write one input message unchanged (in CDR) at its own log time."""
        target, convert = self._converters[(connection.id, id(connection.owner))]
        self._write(target, log_time, convert(data))
        self.written_topics.add(target.topic)

    def write_result(self, topic: str, msgtype: str, log_time: int, message):
        """Serialize and write one result message."""
        connection = self._connections.get(topic)
        if connection is None:
            connection = self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self.typestore, offered_qos_profiles=[OFFERED_QOS])
        self._write(connection, log_time, self.typestore.serialize_cdr(message, msgtype))
        self.written_topics.add(topic)

    def write_frame(self, camera: Camera, log_time: int, header, label_image: np.ndarray,
                    detections_json: str, overlay: np.ndarray | None):
        """One frame's results, with the input's header and log time."""
        types = self.typestore.types
        results = {
            'masks': self._image(header, label_image, 'mono8'),
            'masks/compressed': types[COMPRESSED_TYPE](
                header=header, format=MASK_FORMAT,
                data=np.frombuffer(encode_png(label_image), np.uint8)),
            'detections_json': types[STRING_TYPE](data=detections_json),
        }
        if overlay is not None:
            results['overlay'] = self._image(header, overlay, 'bgr8')
            results['overlay/compressed'] = types[COMPRESSED_TYPE](
                header=header, format=OVERLAY_FORMAT,
                data=np.frombuffer(encode_jpeg(overlay, JPEG_QUALITY), np.uint8))
        for name, message in results.items():
            topic = camera.outputs[name]
            self.write_result(topic, {**RESULT_TYPES, **OVERLAY_TYPES}[name], log_time, message)
        self.frames += 1

    def header(self, sec: int, nanosec: int, frame_id: str):
        """A Jazzy std_msgs/Header (an input's ROS 1 header has a seq besides)."""
        types = self.typestore.types
        return types['std_msgs/msg/Header'](
            stamp=types['builtin_interfaces/msg/Time'](sec=int(sec), nanosec=int(nanosec)),
            frame_id=str(frame_id))

    def close(self):
        """Finish the bag (index, metadata.yaml with `progress`); safe to call twice."""
        writer, self._writer = self._writer, None
        if writer is not None:
            for key, value in self.progress.items():
                writer.set_custom_data(f'{PROGRESS_KEY}.{key}', value)
            writer.close()

    def discard(self):
        """Close and delete the bag."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abort()
        shutil.rmtree(self.path, ignore_errors=True)

    def _write(self, connection, log_time: int, data):
        try:
            self._writer.write(connection, int(log_time), data)
        except OSError as error:
            raise BagWriterError(f'cannot write to bag {self.path}: {_reason(error)}') from error

    def _image(self, header, array: np.ndarray, encoding: str):
        height, width = array.shape[:2]
        channels = 1 if array.ndim == 2 else array.shape[2]
        return self.typestore.types[IMAGE_TYPE](
            header=header, height=height, width=width, encoding=encoding, is_bigendian=0,
            step=width * channels, data=np.ascontiguousarray(array, np.uint8).reshape(-1))
