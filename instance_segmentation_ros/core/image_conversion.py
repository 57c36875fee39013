"""sensor_msgs/Image <-> numpy conversion without cv_bridge.

ROS 2's cv_bridge is built against numpy 1 and breaks under numpy 2, and its Python layer copies
every frame more than it has to. This module does the same job in pure Python on top of numpy and
OpenCV. It never imports ROS: it works by duck typing on any object with the sensor_msgs/Image
fields ``height, width, encoding, is_bigendian, step, data``, so it is usable (and testable) with
or without a ROS installation.

Everything a message claims is validated before its data is touched, and every fault raises
:class:`ImageConversionError`, whose ``kind`` lets a node count or throttle warnings per kind of
fault instead of flooding its log with one line per frame.
"""

import array as arraymod
import operator

import cv2
import numpy as np

from ..errors import InstanceSegmentationError

__all__ = [
    'ERROR_KINDS',
    'ImageConversionError',
    'OUTPUT_ENCODINGS',
    'SUPPORTED_ENCODINGS',
    'fill_image_msg',
    'fill_image_msg_from_buffer',
    'image_msg_to_bgr',
    'new_image_buffer',
]

#: Every value :attr:`ImageConversionError.kind` can take, so a node can pre-create counters.
ERROR_KINDS = (
    'encoding',  # unknown or non-string encoding
    'empty',  # height or width is 0
    'size',  # height/width negative, not an integer, or odd width for yuv422
    'step',  # step not an integer or smaller than width * bytes per pixel
    'data_length',  # len(data) != step * height
    'data',  # data is not bytes-like / a list of ints 0..255
    'endianness',  # is_bigendian is not an integer
    'field',  # the message object lacks a field or refuses a value
    'shape',  # fill_image_msg: array shape does not match the encoding
    'dtype',  # fill_image_msg: array dtype does not match the encoding
    'decode',  # OpenCV refused validated input (should not happen)
)


class ImageConversionError(InstanceSegmentationError):
    """An image message or array that cannot be converted.

    ``kind`` is a short stable identifier (one of :data:`ERROR_KINDS`) meant for counting and
    throttling; the message text holds the numbers a human needs to find the fault.
    """

    def __init__(self, message, kind='invalid'):
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):
        # Keep ``kind`` across pickling (e.g. when errors travel between processes).
        return (type(self), (str(self), self.kind))


# encoding -> (bytes per pixel, channels of the raw view, OpenCV code to BGR or None).
# ROS Bayer names give the colours of the top-left 2x2 block (row 0: R G for rggb), while
# OpenCV's classic COLOR_Bayer?? names are taken from the second row and column, so ROS
# 'rggb' is OpenCV 'BG'. Verified with uniformly coloured synthetic mosaics in the tests.
# ROS 'yuv422' is UYVY byte order; 'yuv422_yuy2' is YUYV.
_MONO16 = -1
_DECODE = {
    'bgr8': (3, 3, None),
    'rgb8': (3, 3, cv2.COLOR_RGB2BGR),
    'bgra8': (4, 4, cv2.COLOR_BGRA2BGR),
    'rgba8': (4, 4, cv2.COLOR_RGBA2BGR),
    'mono8': (1, 1, cv2.COLOR_GRAY2BGR),
    'mono16': (2, 1, _MONO16),
    'bayer_rggb8': (1, 1, cv2.COLOR_BayerBG2BGR),
    'bayer_bggr8': (1, 1, cv2.COLOR_BayerRG2BGR),
    'bayer_gbrg8': (1, 1, cv2.COLOR_BayerGR2BGR),
    'bayer_grbg8': (1, 1, cv2.COLOR_BayerGB2BGR),
    'yuv422': (2, 2, cv2.COLOR_YUV2BGR_UYVY),
    'uyvy': (2, 2, cv2.COLOR_YUV2BGR_UYVY),
    'yuv422_yuy2': (2, 2, cv2.COLOR_YUV2BGR_YUY2),
    'yuyv': (2, 2, cv2.COLOR_YUV2BGR_YUY2),
}
_YUV422 = frozenset(('yuv422', 'uyvy', 'yuv422_yuy2', 'yuyv'))

#: Encodings :func:`image_msg_to_bgr` accepts.
SUPPORTED_ENCODINGS = tuple(_DECODE)

# encoding -> (channels, numpy dtype of one channel) for the fill functions.
_ENCODE = {
    'bgr8': (3, np.dtype(np.uint8)),
    'rgb8': (3, np.dtype(np.uint8)),
    'bgra8': (4, np.dtype(np.uint8)),
    'rgba8': (4, np.dtype(np.uint8)),
    'mono8': (1, np.dtype(np.uint8)),
    'mono16': (1, np.dtype('<u2')),
}

#: Encodings :func:`fill_image_msg` and :func:`fill_image_msg_from_buffer` can write.
OUTPUT_ENCODINGS = tuple(_ENCODE)


def _get(msg, name):
    """Read one message field, turning a missing field into an ImageConversionError."""
    try:
        return getattr(msg, name)
    except AttributeError:
        raise ImageConversionError(
            f'message of type {type(msg).__name__} has no field {name!r}', 'field'
        ) from None


def _as_int(value, name, kind):
    """Return ``value`` as a Python int; bool, float, str and friends are rejected."""
    if isinstance(value, (bool, np.bool_)):
        raise ImageConversionError(f'{name} must be an integer, got bool {value!r}', kind)
    try:
        return operator.index(value)
    except TypeError:
        raise ImageConversionError(
            f'{name} must be an integer, got {type(value).__name__} {value!r:.40}', kind
        ) from None


def _check_encoding(encoding, table, what):
    if not isinstance(encoding, str):
        raise ImageConversionError(
            f'encoding must be a string, got {type(encoding).__name__} {encoding!r:.40}',
            'encoding',
        )
    if encoding not in table:
        raise ImageConversionError(
            f'unsupported encoding {encoding!r:.40}{what}; supported: {", ".join(table)}',
            'encoding',
        )


def _check_size(height, width):
    """Validate height and width; return them as Python ints."""
    height = _as_int(height, 'height', 'size')
    width = _as_int(width, 'width', 'size')
    if height < 0 or width < 0:
        raise ImageConversionError(
            f'image size {width}x{height} is negative (width {width}, height {height})', 'size'
        )
    if height == 0 or width == 0:
        raise ImageConversionError(f'image is empty ({width}x{height})', 'empty')
    return height, width


def _data_as_uint8(data, expected):
    """Return ``data`` as a flat uint8 array of exactly ``expected`` bytes, copying only lists.

    The length is checked before anything is allocated, so a message that declares a huge size
    over a short buffer costs nothing.
    """
    if isinstance(data, (list, tuple)):
        if len(data) != expected:
            return len(data), None
        try:
            values = np.asarray(data)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ImageConversionError(
                f'image data list could not be read as integers: {exc}', 'data'
            ) from None
        if values.ndim != 1 or values.dtype.kind not in 'iu':
            raise ImageConversionError(
                f'image data list must hold integers 0..255, got dtype {values.dtype}', 'data'
            )
        if values.size and (values.min() < 0 or values.max() > 255):
            raise ImageConversionError(
                f'image data list must hold integers 0..255, got values in '
                f'[{values.min()}, {values.max()}]',
                'data',
            )
        return expected, values.astype(np.uint8)
    try:
        with memoryview(data) as view:
            nbytes = view.nbytes
            contiguous = view.c_contiguous
    except (TypeError, ValueError, BufferError):
        raise ImageConversionError(
            f'image data must be bytes-like or a list of ints, got {type(data).__name__}', 'data'
        ) from None
    if nbytes != expected:
        return nbytes, None
    if not contiguous:
        raise ImageConversionError('image data buffer is not contiguous', 'data')
    # Zero copy: a uint8 view on the message's own memory.
    return nbytes, np.frombuffer(data, dtype=np.uint8)


def image_msg_to_bgr(msg):
    """Decode a sensor_msgs/Image (duck typed) into an (H, W, 3) uint8 BGR array.

    ``bgr8`` comes back as a zero-copy view on ``msg.data`` (strided when rows are padded),
    marked read-only so that drawing on it cannot silently alter the message: call ``.copy()``
    to get a canvas. Other encodings are converted by OpenCV into a new contiguous array.
    ``mono16`` is scaled to 8 bits by keeping the high byte, honouring ``is_bigendian``.

    Raises ImageConversionError (with a ``kind``) for any malformed message.
    """
    encoding = _get(msg, 'encoding')
    _check_encoding(encoding, _DECODE, '')
    bpp, channels, code = _DECODE[encoding]
    height, width = _check_size(_get(msg, 'height'), _get(msg, 'width'))
    if encoding in _YUV422 and width % 2:
        raise ImageConversionError(
            f'width {width} is odd; {encoding} packs two pixels in 4 bytes, so width must be '
            'even',
            'size',
        )
    step = _as_int(_get(msg, 'step'), 'step', 'step')
    min_step = width * bpp
    if step < min_step:
        raise ImageConversionError(
            f'step {step} is smaller than width*bytes per pixel = {min_step} '
            f'(width {width}, {bpp} bytes per pixel for {encoding})',
            'step',
        )
    big_endian = False
    if code == _MONO16:
        flag = _get(msg, 'is_bigendian')
        big_endian = bool(_as_int(flag, 'is_bigendian', 'endianness'))

    expected = step * height
    nbytes, flat = _data_as_uint8(_get(msg, 'data'), expected)
    if flat is None:
        raise ImageConversionError(
            f'image data has {nbytes} bytes but step*height = {expected} '
            f'(step {step}, height {height})',
            'data_length',
        )

    if code == _MONO16:
        # The high byte of each 16-bit sample, read in place: offset 0 when big-endian.
        raw = np.ndarray(
            (height, width), np.uint8, flat, offset=0 if big_endian else 1, strides=(step, 2)
        )
    elif channels == 1:
        raw = np.ndarray((height, width), np.uint8, flat, strides=(step, 1))
    else:
        raw = np.ndarray((height, width, channels), np.uint8, flat, strides=(step, channels, 1))
    if code is None:
        raw.flags.writeable = False
        return raw
    try:
        return cv2.cvtColor(raw, cv2.COLOR_GRAY2BGR if code == _MONO16 else code)
    except cv2.error as exc:
        raise ImageConversionError(
            f'OpenCV could not convert {width}x{height} {encoding}: {exc}', 'decode'
        ) from None


def _assign_data(msg, data):
    """Store an ``array.array('B')`` as ``msg.data`` without the setter's copy.

    rosidl-generated messages (Jazzy and later) copy an array.array assigned to ``data`` unless
    ROS_PYTHON_CHECK_FIELDS=1, which would defeat the zero-copy buffer. The value is already the
    exact type the setter stores, so it goes straight into the generated ``_data`` slot; any other
    object gets a plain assignment.
    """
    cls = type(msg)
    if isinstance(getattr(cls, 'data', None), property) and '_data' in getattr(
        cls, '__slots__', ()
    ):
        msg._data = data
    else:
        msg.data = data


def _set_fields(msg, height, width, encoding, step, data):
    try:
        msg.height = height
        msg.width = width
        msg.encoding = encoding
        msg.is_bigendian = 0
        msg.step = step
        _assign_data(msg, data)
    except (AttributeError, AssertionError, TypeError) as exc:
        raise ImageConversionError(
            f'could not set the image fields of a {type(msg).__name__}: {exc}', 'field'
        ) from None
    return msg


def fill_image_msg(msg, array, encoding):
    """Fill ``msg`` (duck typed sensor_msgs/Image) from a numpy array with exactly one copy.

    Shapes: (H, W, 3) for bgr8/rgb8, (H, W, 4) for bgra8/rgba8, (H, W) or (H, W, 1) uint8 for
    mono8 and uint16 for mono16 (written little-endian, ``is_bigendian`` = 0). ``data`` becomes an
    ``array.array('B')`` stored without a further copy; bytes or a list would be checked element
    by element in Python under ROS_PYTHON_CHECK_FIELDS=1 (about 100 ms for a 720p frame) and
    copied again otherwise. Returns ``msg``.
    """
    _check_encoding(encoding, _ENCODE, ' for output')
    channels, dtype = _ENCODE[encoding]
    if not isinstance(array, np.ndarray):
        try:
            array = np.asarray(array)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ImageConversionError(f'{encoding} needs a numpy array: {exc}', 'dtype') from None
    shape = array.shape
    if channels == 1:
        ok = len(shape) == 2 or (len(shape) == 3 and shape[2] == 1)
        wanted = '(H, W)'
    else:
        ok = len(shape) == 3 and shape[2] == channels
        wanted = f'(H, W, {channels})'
    if not ok:
        raise ImageConversionError(
            f'{encoding} needs an array of shape {wanted}, got {shape}', 'shape'
        )
    if array.dtype.kind != dtype.kind or array.dtype.itemsize != dtype.itemsize:
        raise ImageConversionError(
            f'{encoding} needs dtype {dtype.name}, got {array.dtype.name}', 'dtype'
        )
    height, width = _check_size(shape[0], shape[1])
    step = width * channels * dtype.itemsize

    buf = arraymod.array('B')
    if array.flags.c_contiguous and array.dtype == dtype:
        buf.frombytes(array.reshape(-1).view(np.uint8).data)
    else:
        # Strided or byte-swapped input: copy once, straight into the message buffer.
        buf = arraymod.array('B', [0]) * (step * height)
        target = np.frombuffer(buf, dtype=dtype).reshape(shape)
        target[...] = array
        del target  # release the buffer export so the array stays resizable
    return _set_fields(msg, height, width, encoding, step, buf)


def new_image_buffer(height, width, channels):
    """Allocate a zeroed ``array.array('B')`` plus a writable numpy view of it.

    The view has shape (H, W, C), or (H, W) when ``channels`` is 1. Render into the view, then
    hand the buffer to :func:`fill_image_msg_from_buffer`: the pixels reach the message with no
    copy at all. rclpy serialises a message inside ``publish()``, so the buffer may be reused once
    publish has returned, but a fresh one per frame is cheap and harder to misuse.
    """
    height, width = _check_size(height, width)
    channels = _as_int(channels, 'channels', 'size')
    if channels < 1:
        raise ImageConversionError(f'channels must be at least 1, got {channels}', 'size')
    buf = arraymod.array('B', [0]) * (height * width * channels)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return buf, np.frombuffer(buf, dtype=np.uint8).reshape(shape)


def fill_image_msg_from_buffer(msg, buffer, height, width, encoding):
    """Set ``msg``'s image fields to a buffer from :func:`new_image_buffer` without copying.

    ``buffer`` must be an ``array.array('B')`` of exactly height*width*bytes-per-pixel bytes
    (rows unpadded; mono16 samples little-endian). Returns ``msg``.
    """
    _check_encoding(encoding, _ENCODE, ' for output')
    channels, dtype = _ENCODE[encoding]
    height, width = _check_size(height, width)
    if not isinstance(buffer, arraymod.array) or buffer.typecode != 'B':
        described = (
            f"array.array('{buffer.typecode}')"
            if isinstance(buffer, arraymod.array)
            else type(buffer).__name__
        )
        raise ImageConversionError(
            f"image buffer must be an array.array('B') (see new_image_buffer), got {described}",
            'data',
        )
    step = width * channels * dtype.itemsize
    if len(buffer) != step * height:
        raise ImageConversionError(
            f'image buffer has {len(buffer)} bytes but {width}x{height} {encoding} needs '
            f'{step * height} (step {step}, height {height})',
            'data_length',
        )
    return _set_fields(msg, height, width, encoding, step, buffer)
