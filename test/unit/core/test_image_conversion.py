"""Tests for the cv_bridge replacement in instance_segmentation_ros.core.image_conversion."""

import array
import pickle
import time
import types

import cv2
import numpy as np
import pytest

from instance_segmentation_ros.core.image_conversion import (
    ERROR_KINDS,
    OUTPUT_ENCODINGS,
    SUPPORTED_ENCODINGS,
    ImageConversionError,
    fill_image_msg,
    fill_image_msg_from_buffer,
    image_msg_to_bgr,
    new_image_buffer,
)
from instance_segmentation_ros.errors import InstanceSegmentationError

try:
    from sensor_msgs.msg import Image
except ImportError:  # pragma: no cover - the ROS wheels are part of the test environment
    Image = None

# A real message with the default (unchecked) setters, one with ROS_PYTHON_CHECK_FIELDS
# behaviour, and a plain duck-typed object.
MSG_TYPES = ['ros', 'ros_checked', 'ns']

# Written down independently of the module: bytes per pixel of each encoding.
BPP = {
    'bgr8': 3, 'rgb8': 3, 'bgra8': 4, 'rgba8': 4, 'mono8': 1, 'mono16': 2,
    'bayer_rggb8': 1, 'bayer_bggr8': 1, 'bayer_gbrg8': 1, 'bayer_grbg8': 1,
    'yuv422': 2, 'uyvy': 2, 'yuv422_yuy2': 2, 'yuyv': 2,
}
YUV = {'yuv422', 'uyvy', 'yuv422_yuy2', 'yuyv'}
UYVY = {'yuv422', 'uyvy'}
BAYER = {
    'bayer_rggb8': 'RGGB', 'bayer_bggr8': 'BGGR', 'bayer_gbrg8': 'GBRG', 'bayer_grbg8': 'GRBG',
}


def empty_msg(msg_type):
    if msg_type == 'ns':
        return types.SimpleNamespace()
    if Image is None:
        pytest.skip('sensor_msgs is not importable')
    return Image(check_fields=msg_type == 'ros_checked')


def make_msg(msg_type, height, width, encoding, step, data, is_bigendian=0):
    """Build a real sensor_msgs/Image or a SimpleNamespace with the same fields."""
    if msg_type != 'ns':
        msg = empty_msg(msg_type)
        msg.height, msg.width, msg.encoding = height, width, encoding
        msg.is_bigendian, msg.step = is_bigendian, step
        buf = array.array('B')
        buf.frombytes(bytes(data))
        msg.data = buf
        return msg
    return types.SimpleNamespace(
        height=height, width=width, encoding=encoding, is_bigendian=is_bigendian, step=step,
        data=data,
    )


def mosaic(bgr, pattern):
    """Sample a BGR scene through a Bayer filter whose top-left 2x2 block is ``pattern``."""
    plane = {'B': 0, 'G': 1, 'R': 2}
    out = np.empty(bgr.shape[:2], np.uint8)
    for dy in range(2):
        for dx in range(2):
            out[dy::2, dx::2] = bgr[dy::2, dx::2, plane[pattern[2 * dy + dx]]]
    return out


def bt601_yuv(bgr):
    """Limited-range BT.601 YUV of one BGR colour, computed by hand (not by OpenCV)."""
    b, g, r = (float(c) for c in bgr)
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    return tuple(int(round(c)) for c in (y, u, v))


def bgr_to_yuv422(bgr, order):
    """Packed YUV 4:2:2 ('UYVY' or 'YUY2') of a BGR scene with even width, shape (H, W, 2).

    OpenCV 4.7 added COLOR_BGR2YUV_UYVY/_YUY2; OpenCV 4.6 (Ubuntu 24.04, ROS 2 Jazzy) has only
    the decoding direction, so pack the bytes here: Y per pixel, U and V averaged per pair.
    """
    code = getattr(cv2, f'COLOR_BGR2YUV_{order}', None)
    if code is not None:
        return cv2.cvtColor(bgr, code)
    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV).astype(np.uint16)
    u = ((yuv[:, 0::2, 1] + yuv[:, 1::2, 1] + 1) // 2).astype(np.uint8)
    v = ((yuv[:, 0::2, 2] + yuv[:, 1::2, 2] + 1) // 2).astype(np.uint8)
    y_channel, uv_channel = (1, 0) if order == 'UYVY' else (0, 1)
    out = np.empty(bgr.shape[:2] + (2,), np.uint8)
    out[..., y_channel] = yuv[..., 0]
    out[:, 0::2, uv_channel] = u
    out[:, 1::2, uv_channel] = v
    return out


def encode(scene, encoding, rng, big_endian=False):
    """Return (raw rows of shape (H, W*bpp), expected BGR decode) for a BGR scene."""
    h, w, _ = scene.shape
    if encoding == 'bgr8':
        raw, expected = scene, scene
    elif encoding == 'rgb8':
        raw, expected = cv2.cvtColor(scene, cv2.COLOR_BGR2RGB), scene
    elif encoding == 'bgra8':
        raw, expected = cv2.cvtColor(scene, cv2.COLOR_BGR2BGRA), scene
    elif encoding == 'rgba8':
        raw, expected = cv2.cvtColor(scene, cv2.COLOR_BGR2RGBA), scene
    elif encoding == 'mono8':
        raw = cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY)
        expected = cv2.cvtColor(raw, cv2.COLOR_GRAY2BGR)
    elif encoding == 'mono16':
        values = rng.integers(0, 65536, size=(h, w), dtype=np.uint16)
        raw = values.astype('>u2' if big_endian else '<u2').view(np.uint8)
        expected = cv2.cvtColor((values >> 8).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    elif encoding in BAYER:
        pattern = BAYER[encoding]
        raw = mosaic(scene, pattern)
        expected = cv2.cvtColor(raw, getattr(cv2, f'COLOR_Bayer{pattern}2BGR'))
    elif encoding in UYVY:
        raw = bgr_to_yuv422(scene, 'UYVY')
        expected = cv2.cvtColor(raw, cv2.COLOR_YUV2BGR_UYVY)
    else:
        raw = bgr_to_yuv422(scene, 'YUY2')
        expected = cv2.cvtColor(raw, cv2.COLOR_YUV2BGR_YUY2)
    return np.ascontiguousarray(raw).reshape(h, -1), expected


def padded(raw, pad):
    """Rows of ``raw`` followed by ``pad`` junk bytes each, as bytes, with the new step."""
    h, row = raw.shape
    out = np.full((h, row + pad), 0xAB, np.uint8)
    out[:, :row] = raw
    return out.tobytes(), row + pad


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def scene(rng):
    return rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)


def test_supported_encodings_are_the_documented_ones():
    assert set(SUPPORTED_ENCODINGS) == set(BPP)
    assert set(OUTPUT_ENCODINGS) == {'bgr8', 'rgb8', 'bgra8', 'rgba8', 'mono8', 'mono16'}


@pytest.mark.parametrize('msg_type', MSG_TYPES)
@pytest.mark.parametrize('encoding', sorted(BPP))
def test_round_trip_every_encoding(msg_type, encoding, scene, rng):
    raw, expected = encode(scene, encoding, rng)
    h, w, _ = scene.shape
    msg = make_msg(msg_type, h, w, encoding, w * BPP[encoding], raw.tobytes())
    out = image_msg_to_bgr(msg)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize('msg_type', MSG_TYPES)
@pytest.mark.parametrize('encoding', ['bgr8', 'rgb8', 'bgra8', 'mono8', 'mono16', 'bayer_rggb8',
                                      'yuv422', 'yuv422_yuy2'])
@pytest.mark.parametrize('pad', [1, 2, 7, 64])
def test_padded_rows(msg_type, encoding, pad, scene, rng):
    raw, expected = encode(scene, encoding, rng)
    h, w, _ = scene.shape
    data, step = padded(raw, pad)
    out = image_msg_to_bgr(make_msg(msg_type, h, w, encoding, step, data))
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize('wrap', [bytes, bytearray, memoryview, lambda b: array.array('B', b)])
def test_bgr8_is_a_zero_copy_read_only_view(wrap, scene):
    h, w, _ = scene.shape
    data = wrap(scene.tobytes())
    out = image_msg_to_bgr(make_msg('ns', h, w, 'bgr8', w * 3, data))
    assert np.shares_memory(out, np.frombuffer(data, np.uint8))
    np.testing.assert_array_equal(out, scene)
    assert not out.flags.writeable  # drawing on it must not silently alter the message
    assert out.copy().flags.writeable


def test_bgr8_zero_copy_on_a_real_image(scene):
    h, w, _ = scene.shape
    msg = make_msg('ros', h, w, 'bgr8', w * 3, scene.tobytes())
    out = image_msg_to_bgr(msg)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


def test_padded_bgr8_is_a_strided_view(scene):
    h, w, _ = scene.shape
    data, step = padded(scene.reshape(h, -1), 5)
    out = image_msg_to_bgr(make_msg('ns', h, w, 'bgr8', step, data))
    assert np.shares_memory(out, np.frombuffer(data, np.uint8))
    assert out.strides == (step, 3, 1)
    np.testing.assert_array_equal(out, scene)
    # OpenCV takes the strided view as is.
    np.testing.assert_array_equal(cv2.cvtColor(out, cv2.COLOR_BGR2RGB), scene[..., ::-1])


@pytest.mark.parametrize('msg_type', MSG_TYPES)
def test_bgr8_and_rgb8_of_one_scene_decode_identically(msg_type, scene):
    h, w, _ = scene.shape
    rgb = np.ascontiguousarray(scene[..., ::-1])
    from_bgr = image_msg_to_bgr(make_msg(msg_type, h, w, 'bgr8', w * 3, scene.tobytes()))
    from_rgb = image_msg_to_bgr(make_msg(msg_type, h, w, 'rgb8', w * 3, rgb.tobytes()))
    np.testing.assert_array_equal(from_bgr, from_rgb)


@pytest.mark.parametrize('msg_type', MSG_TYPES)
@pytest.mark.parametrize('big_endian', [0, 1])
def test_mono16_honours_endianness(msg_type, big_endian):
    values = np.array([[0x0000, 0x00FF, 0x0100, 0x1234], [0x8000, 0xABCD, 0xFF00, 0xFFFF]],
                      np.uint16)
    data = values.astype('>u2' if big_endian else '<u2').tobytes()
    msg = make_msg(msg_type, 2, 4, 'mono16', 8, data, is_bigendian=big_endian)
    out = image_msg_to_bgr(msg)
    high = np.array([[0x00, 0x00, 0x01, 0x12], [0x80, 0xAB, 0xFF, 0xFF]], np.uint8)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], high)


@pytest.mark.parametrize('encoding', sorted(BAYER))
@pytest.mark.parametrize('colour', [(0, 0, 200), (0, 200, 0), (200, 0, 0), (30, 90, 210)])
def test_bayer_pattern_recovers_a_uniform_colour(encoding, colour):
    # ROS names give the top-left 2x2 block; OpenCV's classic names are offset by one.
    scene = np.empty((16, 20, 3), np.uint8)
    scene[:] = colour
    raw = mosaic(scene, BAYER[encoding])
    out = image_msg_to_bgr(make_msg('ns', 16, 20, encoding, 20, raw.tobytes()))
    interior = out[2:-2, 2:-2].reshape(-1, 3)
    assert (np.abs(interior.astype(int) - colour) <= 1).all(), (encoding, interior[0], colour)


@pytest.mark.parametrize('encoding', sorted(YUV))
@pytest.mark.parametrize('colour', [(0, 0, 200), (0, 200, 0), (200, 0, 0), (60, 120, 180)])
def test_yuv422_recovers_a_uniform_colour(encoding, colour):
    y, u, v = bt601_yuv(colour)
    pair = [u, y, v, y] if encoding in UYVY else [y, u, y, v]  # UYVY vs YUYV byte order
    data = bytes(pair * 2 * 3)  # width 4 = two 2-pixel groups per row, three rows
    out = image_msg_to_bgr(make_msg('ns', 3, 4, encoding, 8, data))
    assert (np.abs(out.reshape(-1, 3).astype(int) - colour) <= 4).all(), (encoding, out[0, 0])


def test_list_data_is_accepted(scene):
    h, w, _ = scene.shape
    out = image_msg_to_bgr(make_msg('ns', h, w, 'bgr8', w * 3, scene.reshape(-1).tolist()))
    np.testing.assert_array_equal(out, scene)


def valid_fields(**changes):
    fields = dict(height=4, width=6, encoding='bgr8', is_bigendian=0, step=18, data=bytes(72))
    fields.update(changes)
    return fields


MALFORMED = [
    ('unknown encoding', valid_fields(encoding='foo'), 'encoding', ["'foo'", 'bgr8', 'yuv422']),
    ('encoding case', valid_fields(encoding='BGR8'), 'encoding', ["'BGR8'"]),
    ('encoding not str', valid_fields(encoding=3), 'encoding', ['int']),
    ('0x0', valid_fields(height=0, width=0, step=0, data=b''), 'empty', ['0x0']),
    ('0 rows', valid_fields(height=0, data=b''), 'empty', ['6x0']),
    ('0 columns', valid_fields(width=0, step=0, data=b''), 'empty', ['0x4']),
    ('negative height', valid_fields(height=-4), 'size', ['-4']),
    ('negative width', valid_fields(width=-6), 'size', ['-6']),
    ('float height', valid_fields(height=4.0), 'size', ['height', 'float']),
    ('str width', valid_fields(width='6'), 'size', ['width', 'str']),
    ('bool height', valid_fields(height=True), 'size', ['height', 'bool']),
    ('None step', valid_fields(step=None), 'step', ['step', 'NoneType']),
    ('step too small', valid_fields(step=17), 'step', ['17', '18']),
    ('negative step', valid_fields(step=-18), 'step', ['-18', '18']),
    ('data short by one', valid_fields(data=bytes(71)), 'data_length', ['71', '72', '18', '4']),
    ('data long by one', valid_fields(data=bytes(73)), 'data_length', ['73', '72']),
    ('padded step, data unpadded', valid_fields(step=20), 'data_length', ['72', '80']),
    ('huge height, short data', valid_fields(height=2**31, step=2**31), 'data_length',
     ['72', str(2**62)]),
    ('huge width, short data', valid_fields(width=2**40, step=3 * 2**40), 'data_length', ['72']),
    ('odd width yuv422', valid_fields(encoding='yuv422', width=5, step=10, data=bytes(40)),
     'size', ['5', 'even']),
    ('odd width yuy2', valid_fields(encoding='yuv422_yuy2', width=7, step=14, data=bytes(56)),
     'size', ['7']),
    ('data None', valid_fields(data=None), 'data', ['NoneType']),
    ('data str', valid_fields(data='x' * 72), 'data', ['str']),
    ('data list out of range', valid_fields(data=[256] * 72), 'data', ['255']),
    ('data list of floats', valid_fields(data=[0.5] * 72), 'data', ['float']),
    ('data list of str', valid_fields(data=['a'] * 72), 'data', []),
    ('data list short', valid_fields(data=[0] * 70), 'data_length', ['70', '72']),
    ('mono16 endianness', valid_fields(encoding='mono16', step=12, data=bytes(48),
                                       is_bigendian='yes'), 'endianness', ['is_bigendian']),
]


@pytest.mark.parametrize('fields,kind,words', [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_messages_raise_with_kind_and_numbers(fields, kind, words):
    with pytest.raises(ImageConversionError) as info:
        image_msg_to_bgr(types.SimpleNamespace(**fields))
    assert info.value.kind == kind
    assert info.value.kind in ERROR_KINDS
    for word in words:
        assert word in str(info.value)


def test_error_messages_read_well():
    fields = valid_fields(height=720, width=1280, step=3840, data=bytes(100))
    with pytest.raises(ImageConversionError, match=r'^image data has 100 bytes but step\*height '
                       r'= 2764800 \(step 3840, height 720\)$'):
        image_msg_to_bgr(types.SimpleNamespace(**fields))
    fields = valid_fields(height=720, width=1280, step=100, data=bytes(100))
    with pytest.raises(ImageConversionError, match=r'^step 100 is smaller than width\*bytes per '
                       r'pixel = 3840'):
        image_msg_to_bgr(types.SimpleNamespace(**fields))
    with pytest.raises(ImageConversionError, match=r'^image is empty \(0x0\)$'):
        image_msg_to_bgr(types.SimpleNamespace(**valid_fields(height=0, width=0)))
    with pytest.raises(ImageConversionError, match=r"^unsupported encoding 'foo'; supported: "
                       r'bgr8, rgb8, '):
        image_msg_to_bgr(types.SimpleNamespace(**valid_fields(encoding='foo')))


def test_malformed_real_image_message():
    msg = make_msg('ros', 720, 1280, 'bgr8', 3840, bytes(100))
    with pytest.raises(ImageConversionError) as info:
        image_msg_to_bgr(msg)
    assert info.value.kind == 'data_length'


def test_missing_field_and_non_message():
    fields = valid_fields()
    del fields['step']
    with pytest.raises(ImageConversionError) as info:
        image_msg_to_bgr(types.SimpleNamespace(**fields))
    assert info.value.kind == 'field' and 'step' in str(info.value)
    with pytest.raises(ImageConversionError):
        image_msg_to_bgr(None)


def test_error_is_a_package_error_and_pickles_with_kind():
    err = ImageConversionError('step 1 is smaller', 'step')
    assert isinstance(err, InstanceSegmentationError)
    copy = pickle.loads(pickle.dumps(err))
    assert copy.kind == 'step' and str(copy) == 'step 1 is smaller'


def fill_cases(rng):
    h, w = 5, 6
    bgr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
    deep = rng.integers(0, 65536, size=(h, w), dtype=np.uint16)
    return {
        'bgr8': (bgr, bgr),
        'rgb8': (bgr[..., ::-1].copy(), bgr),
        'bgra8': (cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA), bgr),
        'rgba8': (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA), bgr),
        'mono8': (gray, cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)),
        'mono16': (deep, cv2.cvtColor((deep >> 8).astype(np.uint8), cv2.COLOR_GRAY2BGR)),
    }


FILL_LAYOUTS = [(e, layout) for e in OUTPUT_ENCODINGS for layout in ('contiguous', 'strided')]
FILL_LAYOUTS.append(('mono16', 'big_endian'))


@pytest.mark.parametrize('msg_type', MSG_TYPES)
@pytest.mark.parametrize('encoding,layout', FILL_LAYOUTS)
def test_fill_image_msg_round_trips(msg_type, encoding, layout, rng):
    source, expected = fill_cases(rng)[encoding]
    if layout == 'strided':
        wide = np.zeros((source.shape[0], source.shape[1] * 2) + source.shape[2:], source.dtype)
        wide[:, ::2] = source
        source = wide[:, ::2]
        assert not source.flags.c_contiguous
    elif layout == 'big_endian':
        source = source.astype('>u2')
    msg = empty_msg(msg_type)
    assert fill_image_msg(msg, source, encoding) is msg
    h, w = source.shape[:2]
    bpp = BPP[encoding]
    assert (msg.height, msg.width, msg.encoding, msg.is_bigendian, msg.step) == (
        h, w, encoding, 0, w * bpp)
    assert type(msg.data) is array.array and msg.data.typecode == 'B'
    assert len(msg.data) == h * w * bpp
    assert not np.shares_memory(np.frombuffer(msg.data, np.uint8), source)
    np.testing.assert_array_equal(image_msg_to_bgr(msg), expected)


def test_fill_image_msg_accepts_single_channel_mono(rng):
    gray = rng.integers(0, 256, size=(3, 4, 1), dtype=np.uint8)
    msg = fill_image_msg(types.SimpleNamespace(), gray, 'mono8')
    assert (msg.height, msg.width, msg.step) == (3, 4, 4)
    np.testing.assert_array_equal(image_msg_to_bgr(msg)[..., 0], gray[..., 0])


def test_fill_real_image_msg_at_720p_is_fast():
    # Assigning bytes to a real Image costs ~100 ms per frame; array.array must not.
    if Image is None:
        pytest.skip('sensor_msgs is not importable')
    frame = np.zeros((720, 1280, 3), np.uint8)
    for check_fields in (False, True):
        msg = Image(check_fields=check_fields)
        start = time.perf_counter()
        fill_image_msg(msg, frame, 'bgr8')
        assert time.perf_counter() - start < 0.05
        assert image_msg_to_bgr(msg).shape == (720, 1280, 3)


@pytest.mark.parametrize('msg_type', ['ros', 'ros_checked'])
def test_filled_real_messages_serialise_like_rclpy_publishes_them(msg_type, rng):
    serialization = pytest.importorskip('rclpy.serialization')
    source = rng.integers(0, 256, size=(5, 6, 3), dtype=np.uint8)
    filled = fill_image_msg(empty_msg(msg_type), source, 'rgb8')
    buf, view = new_image_buffer(5, 6, 3)
    view[:] = source
    buffered = fill_image_msg_from_buffer(empty_msg(msg_type), buf, 5, 6, 'bgr8')
    for msg, expected in [(filled, source[..., ::-1]), (buffered, source)]:
        back = serialization.deserialize_message(serialization.serialize_message(msg), Image)
        assert (back.height, back.width, back.step) == (5, 6, 18)
        np.testing.assert_array_equal(image_msg_to_bgr(back), expected)


FILL_ERRORS = [
    ('mono8 needs 2-D', np.zeros((2, 3, 3), np.uint8), 'mono8', 'shape', ['(H, W)', '(2, 3, 3)']),
    ('bgr8 needs 3 channels', np.zeros((2, 3), np.uint8), 'bgr8', 'shape', ['(H, W, 3)']),
    ('bgra8 needs 4 channels', np.zeros((2, 3, 3), np.uint8), 'bgra8', 'shape', ['4']),
    ('float image', np.zeros((2, 3, 3), np.float32), 'bgr8', 'dtype', ['uint8', 'float32']),
    ('mono16 needs uint16', np.zeros((2, 3), np.uint8), 'mono16', 'dtype', ['uint16']),
    ('int16 is not uint16', np.zeros((2, 3), np.int16), 'mono16', 'dtype', ['int16']),
    ('empty image', np.zeros((0, 3, 3), np.uint8), 'bgr8', 'empty', ['3x0']),
    ('bayer is input only', np.zeros((2, 3), np.uint8), 'bayer_rggb8', 'encoding',
     ['bayer_rggb8']),
    ('unknown encoding', np.zeros((2, 3, 3), np.uint8), 'bgr', 'encoding', ["'bgr'"]),
    ('not an array', object(), 'bgr8', 'shape', []),
]


@pytest.mark.parametrize('array_,encoding,kind,words', [c[1:] for c in FILL_ERRORS],
                         ids=[c[0] for c in FILL_ERRORS])
def test_fill_image_msg_rejects_mismatches(array_, encoding, kind, words):
    with pytest.raises(ImageConversionError) as info:
        fill_image_msg(types.SimpleNamespace(), array_, encoding)
    assert info.value.kind == kind
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize('msg_type', MSG_TYPES)
@pytest.mark.parametrize('channels,encoding', [(3, 'bgr8'), (1, 'mono8'), (4, 'rgba8')])
def test_new_image_buffer_writes_reach_the_message(msg_type, channels, encoding):
    buf, view = new_image_buffer(4, 5, channels)
    assert type(buf) is array.array and buf.typecode == 'B' and len(buf) == 4 * 5 * channels
    assert view.shape == ((4, 5) if channels == 1 else (4, 5, channels))
    assert view.flags.writeable and not view.any()
    msg = empty_msg(msg_type)
    assert fill_image_msg_from_buffer(msg, buf, 4, 5, encoding) is msg
    assert msg.data is buf
    assert (msg.height, msg.width, msg.step, msg.is_bigendian) == (4, 5, 5 * channels, 0)
    view[1, 2] = 200  # rendered after the message was filled: still visible, no copy anywhere
    assert msg.data[(1 * 5 + 2) * channels] == 200
    cv2.rectangle(view, (0, 0), (1, 1), (7,) * channels, -1)  # OpenCV draws into it in place
    assert msg.data[0] == 7
    decoded = image_msg_to_bgr(msg)
    if encoding == 'rgba8':
        assert tuple(decoded[1, 2]) == (200,) * 3
    else:
        assert decoded[1, 2, 0] == 200


def test_new_image_buffer_and_fill_from_buffer_errors():
    for args, kind in [((0, 5, 3), 'empty'), ((-1, 5, 3), 'size'), ((4, 5, 0), 'size'),
                       ((4.0, 5, 3), 'size')]:
        with pytest.raises(ImageConversionError) as info:
            new_image_buffer(*args)
        assert info.value.kind == kind
    buf, _ = new_image_buffer(4, 5, 3)
    cases = [
        ((buf, 4, 6, 'bgr8'), 'data_length'),
        ((buf, 4, 5, 'mono8'), 'data_length'),
        ((bytes(60), 4, 5, 'bgr8'), 'data'),
        ((array.array('H', bytes(60)), 4, 5, 'bgr8'), 'data'),
        ((buf, 4, 5, 'yuv422'), 'encoding'),
        ((buf, 0, 5, 'bgr8'), 'empty'),
    ]
    for args, kind in cases:
        with pytest.raises(ImageConversionError) as info:
            fill_image_msg_from_buffer(types.SimpleNamespace(), *args)
        assert info.value.kind == kind, args[1:]
    with pytest.raises(ImageConversionError) as info:
        fill_image_msg_from_buffer(types.SimpleNamespace(), buf, 4, 6, 'bgr8')
    assert '60 bytes' in str(info.value) and '72' in str(info.value)


def random_message(rng):
    """A random, often malformed, message plus whether it should decode."""
    encodings = list(BPP) + ['foo', '', 'BGR8', '16UC1', 'bayer_rggb16']
    pick = rng.random()
    encoding = encodings[rng.integers(len(encodings))] if pick < 0.95 else [None, 8, b'bgr8'][
        rng.integers(3)]
    sizes = [0, 1, 2, 3, 4, 5, 7, 8, 16, 33, -1, -7, 2**31, 2**40]
    height = int(rng.choice(sizes)) if rng.random() < 0.3 else int(rng.integers(1, 24))
    width = int(rng.choice(sizes)) if rng.random() < 0.3 else int(rng.integers(1, 24))
    if rng.random() < 0.03:
        height = [4.0, '4', None, True][rng.integers(4)]
    if rng.random() < 0.03:
        width = [4.0, '4', None][rng.integers(3)]
    bpp = BPP.get(encoding, 3) if isinstance(encoding, str) else 3
    is_int = isinstance(height, int) and isinstance(width, int) and not isinstance(height, bool)
    min_step = width * bpp if is_int else 12
    roll = rng.random()
    if roll < 0.7:
        step = min_step
    elif roll < 0.9:
        step = min_step + int(rng.integers(1, 9))
    elif roll < 0.97:
        step = min_step - int(rng.integers(1, 4))
    else:
        step = [None, 1.5, '12'][rng.integers(3)]
    expected_len = step * height if is_int and isinstance(step, int) else 0
    roll = rng.random()
    if 0 <= expected_len <= 200_000 and roll < 0.8:
        length = expected_len
    elif 0 <= expected_len <= 200_000 and roll < 0.9:
        length = max(0, expected_len + int(rng.choice([-1, 1, -5, 7])))
    else:
        length = int(rng.integers(0, 300))
    payload = rng.integers(0, 256, size=length, dtype=np.uint8).tobytes()
    kind = rng.integers(8)
    is_big = int(rng.integers(2))
    data = [payload, bytearray(payload), memoryview(payload), array.array('B', payload),
            list(payload) if length < 3000 else payload, None, 'text', 3.0][kind]
    if rng.random() < 0.02:
        is_big = 'big'
    valid = (
        isinstance(encoding, str) and encoding in BPP and is_int
        and height > 0 and width > 0 and not (encoding in YUV and width % 2)
        and isinstance(step, int) and step >= width * BPP[encoding]
        and kind < 5 and length == step * height
        and (encoding != 'mono16' or isinstance(is_big, int))
    )
    msg = types.SimpleNamespace(height=height, width=width, encoding=encoding,
                                is_bigendian=is_big, step=step, data=data)
    return msg, valid


def test_random_messages_only_ever_raise_image_conversion_error():
    rng = np.random.default_rng(20240611)
    start = time.perf_counter()
    decoded = rejected = 0
    for _ in range(2000):
        msg, valid = random_message(rng)
        try:
            out = image_msg_to_bgr(msg)
        except ImageConversionError as err:
            assert not valid, (vars(msg) | {'data': type(msg.data)}, err)
            assert err.kind in ERROR_KINDS
            rejected += 1
            continue
        assert valid, vars(msg) | {'data': type(msg.data)}
        assert out.shape == (msg.height, msg.width, 3) and out.dtype == np.uint8
        decoded += 1
    assert decoded > 300 and rejected > 500
    assert time.perf_counter() - start < 5.0
