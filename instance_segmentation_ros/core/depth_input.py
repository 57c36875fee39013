"""The node's depth input: depth frames and camera_info in, checked; paired with colour frames.

Message objects are duck typed (sensor_msgs Image, CameraInfo, Header), so this runs and is
tested without DDS. Every case that cannot give a right answer is refused with a `DepthError`
whose `kind` the node counts in /diagnostics: an unknown encoding or malformed data, a zero
stamp, no depth frame near the colour frame's stamp, different frame_ids, no or uncalibrated
camera_info, a camera_info of another size than the depth, sizes not an integer multiple.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .depth3d import METRES_PER_UNIT, DepthError, Intrinsics, measurement_grid
from .image_conversion import _data_as_uint8
from .stamp_pairing import NearestStampPairing

DTYPES = {'16UC1': np.uint16, '32FC1': np.float32}


def stamp_ns(stamp) -> int:
    """A builtin_interfaces/Time as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def depth_array(message) -> np.ndarray:
    """The depth image as an (H, W) uint16 or float32 array: a view, a copy only if swapped."""
    encoding = message.encoding
    if encoding not in DTYPES:
        raise DepthError('encoding', f'depth encoding {encoding!r} is not 16UC1 (millimetres) '
                                     'or 32FC1 (metres), REP-118')
    dtype = np.dtype(DTYPES[encoding])
    height, width, step = int(message.height), int(message.width), int(message.step)
    if height <= 0 or width <= 0 or step < width * dtype.itemsize or step % dtype.itemsize:
        raise DepthError('data_length', f'depth image {width}x{height} with step {step} does '
                                        f'not hold {encoding} rows')
    _, flat = _data_as_uint8(message.data, step * height)
    if flat is None:
        raise DepthError('data_length', f'depth data has {len(message.data)} bytes, not '
                                        f'step*height = {step * height}')
    array = flat.view(dtype.newbyteorder('>' if message.is_bigendian else '<'))
    array = array.reshape(height, step // dtype.itemsize)[:, :width]
    return array if array.dtype.isnative else array.astype(dtype)


@dataclass
class PairedDepth:
    """A colour frame's label image and depth on one grid (thinned), with its intrinsics."""

    labels: np.ndarray
    depth: np.ndarray
    metres_per_unit: float
    intrinsics: Intrinsics


class DepthInput:
    """Depth frames (the newest `history`) and the latest camera_info, for pairing.

    `tolerance_s` and `allow_frame_mismatch` may be changed at any time.
    """

    def __init__(self, history: int, tolerance_s: float, allow_frame_mismatch: bool):
        self._frames = NearestStampPairing(history, round(tolerance_s * 1e9))
        self.allow_frame_mismatch = allow_frame_mismatch
        self._camera_info = None
        self._lock = threading.Lock()

    @property
    def tolerance_s(self) -> float:
        """The most seconds between the stamps of a colour frame and its depth frame."""
        return self._frames.tolerance_ns / 1e9

    @tolerance_s.setter
    def tolerance_s(self, seconds: float):
        self._frames.tolerance_ns = round(seconds * 1e9)

    def add_depth(self, message):
        """Keep a depth frame; DepthError (nothing kept) for one that can never be used."""
        stamp = stamp_ns(message.header.stamp)
        if stamp == 0:
            raise DepthError('zero_stamp', 'depth image has a zero stamp: it cannot be paired '
                                           'with a colour frame')
        self._frames.add(stamp, (message.header.frame_id, depth_array(message), message.encoding))

    def add_camera_info(self, message):
        """Keep the depth camera's calibration (the latest one counts)."""
        with self._lock:
            self._camera_info = message

    def pair(self, header, label_image: np.ndarray) -> PairedDepth:
        """The depth frame nearest the colour `header`'s stamp, on one grid with `label_image`."""
        stamp = stamp_ns(header.stamp)
        if stamp == 0:
            raise DepthError('zero_stamp', 'colour image has a zero stamp: no depth frame can '
                                           'be paired with it')
        found = self._frames.nearest(stamp)
        if found is None:
            raise DepthError('unpaired', f'no depth image within {self.tolerance_s:g} s of the '
                                         f'colour stamp {stamp / 1e9:.3f}')
        _, (frame_id, depth, encoding) = found
        if frame_id != header.frame_id and not self.allow_frame_mismatch:
            raise DepthError('frame_id', f'depth frame_id {frame_id!r} is not the colour '
                                         f"image's {header.frame_id!r} (aligned depth has the "
                                         'same; depth.allow_frame_mismatch overrides)')
        with self._lock:
            info = self._camera_info
        if info is None:
            raise DepthError('camera_info', 'no depth camera_info received yet')
        height, width = depth.shape
        if (int(info.height), int(info.width)) != (height, width):
            raise DepthError('size', f'depth camera_info is {info.width}x{info.height} but the '
                                     f'depth image {width}x{height}')
        labels, grid_depth, intrinsics = measurement_grid(label_image, depth,
                                                          Intrinsics.from_k(info.k))
        return PairedDepth(labels, grid_depth, METRES_PER_UNIT[encoding], intrinsics)
