"""Segmentation results as a rosbag2 (mcap storage), written without ROS by `rosbags`.

One frame = four messages with the same header (stamp and frame_id), on the topics that
`folder.launch.py record:=true` records (a folder player on ``/image``, the node in the launch
files' ``/segmentation`` namespace):

- ``/image`` (sensor_msgs/msg/Image, bgr8): the input image; in a bag made with
  ``image_transport='compressed'`` ``/image/compressed`` (sensor_msgs/msg/CompressedImage)
  instead, a JPEG or PNG file's own bytes or else a lossless PNG (see `compressed`), as
  ``folder.launch.py transport:=compressed record:=true`` records it;
- ``/segmentation/masks`` (sensor_msgs/msg/Image, mono8): the instance label image;
- ``/segmentation/overlay`` (sensor_msgs/msg/Image, bgr8);
- ``/segmentation/detections_json`` (std_msgs/msg/String);
- with ``tracks`` (the CLI's ``--track``), ``/segmentation/track_masks`` (sensor_msgs/msg/Image,
  16UC1): each instance's pixels hold its track id, as segmentation_node's ``track_masks``.

Each message's bag timestamp is its header stamp, so `ros2 bag play` replays the frames at the
spacing of the stamps. The bag is rosbag2 format version 8 (what ROS 2 Jazzy writes) with the
Jazzy message definitions, which `ros2 bag info`/`play` and `rosbags` read.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability
from rosbags.interfaces import QosTime as _QosTime
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.typesys import Stores, get_typestore

from ..core.compressed import file_payload
from ..core.topics import FOLDER_COMPRESSED_IMAGE_TOPIC, FOLDER_IMAGE_TOPIC, segmentation_topic
from ..errors import InstanceSegmentationError

IMAGE_TOPIC = FOLDER_IMAGE_TOPIC
COMPRESSED_IMAGE_TOPIC = FOLDER_COMPRESSED_IMAGE_TOPIC
MASKS_TOPIC = segmentation_topic('masks')
OVERLAY_TOPIC = segmentation_topic('overlay')
JSON_TOPIC = segmentation_topic('detections_json')
TRACK_MASKS_TOPIC = segmentation_topic('track_masks')
IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE_TYPE = 'sensor_msgs/msg/CompressedImage'
STRING_TYPE = 'std_msgs/msg/String'
RESULT_TOPICS = {MASKS_TOPIC: IMAGE_TYPE, OVERLAY_TOPIC: IMAGE_TYPE, JSON_TOPIC: STRING_TYPE}
TOPICS = {IMAGE_TOPIC: IMAGE_TYPE, **RESULT_TOPICS}
COMPRESSED_TOPICS = {COMPRESSED_IMAGE_TOPIC: COMPRESSED_IMAGE_TYPE, **RESULT_TOPICS}
IMAGE_TRANSPORTS = {'raw': TOPICS, 'compressed': COMPRESSED_TOPICS}  # the bag's topics
BAG_VERSION = 8

_NO_TIME = _QosTime(0, 0)  # RMW_DURATION_UNSPECIFIED: the middleware default (infinite)
OFFERED_QOS = Qos(QosHistory.KEEP_LAST, 5, QosReliability.RELIABLE, QosDurability.VOLATILE,
                  _NO_TIME, _NO_TIME, QosLiveliness.AUTOMATIC, _NO_TIME, False)
"""The QoS the node's publishers offer (reliable, volatile, keep last 5); replayed as such."""


class BagWriterError(InstanceSegmentationError):
    """A bag that cannot be created or written; the message says what to fix."""


class SegmentationBag:
    """Write segmentation frames to a new rosbag2 folder; use as a context manager.

    The bag is closed properly (index and metadata.yaml written) however the `with` block is
    left, KeyboardInterrupt included, so an interrupted run leaves a readable bag.
    `image_transport` 'compressed' writes the input image as a CompressedImage on
    ``/image/compressed`` (see `write_frame`); `topics` are the bag's topics and types;
    `tracks` adds the track_masks topic.
    """

    def __init__(self, path: str | os.PathLike, frame_id: str = 'camera',
                 image_transport: str = 'raw', tracks: bool = False):
        if image_transport not in IMAGE_TRANSPORTS:
            raise BagWriterError(f'image_transport {image_transport!r} is not one of '
                                 f'{", ".join(IMAGE_TRANSPORTS)}')
        self.path = Path(path)
        self.frame_id = frame_id
        self.topics = dict(IMAGE_TRANSPORTS[image_transport])
        if tracks:
            self.topics[TRACK_MASKS_TOPIC] = IMAGE_TYPE
        self._compressed = image_transport == 'compressed'
        self.frames = 0
        self._typestore = get_typestore(Stores.ROS2_JAZZY)
        self._writer: Writer | None = None
        self._connections = {}

    def open(self) -> SegmentationBag:
        """Create the bag folder; BagWriterError when it exists or cannot be created."""
        if self.path.exists() or self.path.is_symlink():
            raise BagWriterError(f'bag {self.path} exists already: rosbag2 bags are never '
                                 f'overwritten, choose a new folder or delete it')
        ancestor = self.path.absolute().parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent  # missing parent folders are created
        if not ancestor.is_dir():
            raise BagWriterError(f'cannot create bag {self.path}: {ancestor} is a file, not a '
                                 f'folder')
        try:
            writer = Writer(self.path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
            writer.open()
        except (WriterError, OSError) as error:
            raise BagWriterError(f'cannot create bag {self.path}: {_reason(error)}') from error
        try:
            for topic, msgtype in self.topics.items():
                self._connections[topic] = writer.add_connection(
                    topic, msgtype, typestore=self._typestore,
                    offered_qos_profiles=[OFFERED_QOS])
        except BaseException:
            writer.abort()
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        self._writer = writer
        return self

    def write_frame(self, stamp_ns: int, bgr: np.ndarray, label_image: np.ndarray,
                    overlay: np.ndarray, detections_json: str,
                    image_file: bytes | None = None,
                    track_image: np.ndarray | None = None) -> None:
        """Write one frame's messages, all stamped `stamp_ns` (nanoseconds since epoch).

        `track_image` (uint16 track ids, `core.tracking.track_id_image`) goes on track_masks,
        which a bag made with `tracks` needs in every frame.

        `detections_json` should carry the same stamp (see `stamp_parts`). A compressed bag
        stores `image_file`, the bytes of the file `bgr` was read from, as they are when they
        are a JPEG or PNG (`compressed.file_payload`), else `bgr` as lossless PNG; a raw bag
        stores `bgr` and has no use for `image_file`.
        """
        if self._writer is None:
            raise BagWriterError(f'bag {self.path} is not open')
        sec, nanosec = stamp_parts(stamp_ns)
        if self._compressed:
            image_topic = COMPRESSED_IMAGE_TOPIC
            fmt, data = file_payload(image_file or b'', bgr)
            image = self._typestore.types[COMPRESSED_IMAGE_TYPE](
                header=self._header(sec, nanosec), format=fmt,
                data=np.frombuffer(data, np.uint8))
        else:
            image_topic, image = IMAGE_TOPIC, self._image(bgr, 'bgr8', sec, nanosec)
        messages = (
            (image_topic, image),
            (MASKS_TOPIC, self._image(label_image, 'mono8', sec, nanosec)),
            (OVERLAY_TOPIC, self._image(overlay, 'bgr8', sec, nanosec)),
            (JSON_TOPIC, self._typestore.types[STRING_TYPE](data=detections_json)),
        )
        if TRACK_MASKS_TOPIC in self.topics:
            if track_image is None:
                raise BagWriterError(f'bag {self.path} has track_masks: every frame needs its '
                                     'track image')
            messages += ((TRACK_MASKS_TOPIC, self._image(track_image, '16UC1', sec, nanosec)),)
        serialized = [(topic, self._typestore.serialize_cdr(message, self.topics[topic]))
                      for topic, message in messages]
        try:
            for topic, data in serialized:
                self._writer.write(self._connections[topic], int(stamp_ns), data)
        except OSError as error:
            raise BagWriterError(f'cannot write to bag {self.path}: {_reason(error)}') from error
        self.frames += 1

    def close(self) -> None:
        """Finish the bag (mcap index and metadata.yaml); safe to call twice."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def discard(self) -> None:
        """Close and delete the bag (for a run that wrote nothing)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abort()
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> SegmentationBag:
        return self.open() if self._writer is None else self

    def __exit__(self, *exc_info) -> bool:
        self.close()
        return False

    def _header(self, sec: int, nanosec: int):
        types = self._typestore.types
        return types['std_msgs/msg/Header'](
            stamp=types['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec),
            frame_id=self.frame_id)

    def _image(self, array: np.ndarray, encoding: str, sec: int, nanosec: int):
        height, width = array.shape[:2]
        channels = 1 if array.ndim == 2 else array.shape[2]
        if array.dtype != np.uint16:
            array = array.astype(np.uint8, copy=False)
        # Little-endian samples (is_bigendian 0), as bytes.
        data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder('<')).view(
            np.uint8).reshape(-1)
        return self._typestore.types[IMAGE_TYPE](
            header=self._header(sec, nanosec), height=height, width=width, encoding=encoding,
            is_bigendian=0, step=width * channels * array.dtype.itemsize, data=data)


@contextmanager
def bag_for_frames(path: str | None, image_transport: str, tracks: bool = False):
    """The --bag to write (None without --bag): closed at the end, deleted if it got no frame."""
    if not path:
        yield None
        return
    with SegmentationBag(path, image_transport=image_transport, tracks=tracks) as bag:
        try:
            yield bag
        finally:
            if not bag.frames:
                bag.discard()


def stamp_parts(stamp_ns: int) -> tuple[int, int]:
    """(sec, nanosec) of a stamp in nanoseconds."""
    return divmod(int(stamp_ns), 1_000_000_000)


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return (str(error).strip() or type(error).__name__).splitlines()[0]
