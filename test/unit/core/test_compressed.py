"""compressed: CompressedImage payloads as compressed_image_transport writes them, and faults."""

import types

import cv2
import numpy as np
import pytest
from payloads import malformed_payloads, with_orientation

from instance_segmentation_ros.core.compressed import (
    MASK_FORMAT,
    PNG_FORMAT,
    compressed_codec,
    compressed_msg_to_bgr,
    encode_jpeg,
    encode_png,
    file_payload,
)
from instance_segmentation_ros.core.image_conversion import ImageConversionError, image_msg_to_bgr
from instance_segmentation_ros.core.image_files import decode_image


def message(fmt, data):
    return types.SimpleNamespace(format=fmt, data=data)


@pytest.fixture(scope='module')
def bgr():
    """A smooth colour picture (JPEG keeps it close) with distinct channels."""
    y, x = np.mgrid[0:120, 0:160]
    return np.dstack([x * 255 // 159, y * 255 // 119, (x + y) * 255 // 278]).astype(np.uint8)


@pytest.mark.parametrize('fmt,codec', [
    ('bgr8; jpeg compressed bgr8', 'jpeg'),
    ('rgb8; jpeg compressed bgr8', 'jpeg'),
    ('rgb8; png compressed', 'png'),
    ('mono16; png compressed mono16', 'png'),
    ('jpeg', 'jpeg'),
    ('JPG', 'jpeg'),
    ('png', 'png'),
    ('', ''),
])
def test_formats_compressed_image_transport_writes(fmt, codec):
    assert compressed_codec(fmt) == codec


@pytest.mark.parametrize('fmt,reason', [
    ('16UC1; compressedDepth png', 'depth'),
    ('theora', 'names no JPEG or PNG'),
    ('bgr8; zstd compressed bgr8', 'names no JPEG or PNG'),
    (None, 'must be a string'),
])
def test_formats_this_package_cannot_decode_are_refused(fmt, reason):
    with pytest.raises(ImageConversionError, match=reason) as error:
        compressed_codec(fmt)
    assert error.value.kind == 'compressed'


def test_jpeg_and_png_decode_to_bgr(bgr):
    png = compressed_msg_to_bgr(message('rgb8; png compressed', encode_png(bgr)))
    assert np.array_equal(png, bgr)
    jpeg = compressed_msg_to_bgr(message('bgr8; jpeg compressed bgr8', encode_jpeg(bgr, 95)))
    assert jpeg.shape == bgr.shape and np.abs(jpeg.astype(int) - bgr).mean() < 2


def test_a_payload_under_the_other_codec_s_name_is_still_decoded(bgr):
    decoded = compressed_msg_to_bgr(message('jpeg', encode_png(bgr)))
    assert np.array_equal(decoded, bgr)


def test_grey_jpeg_and_16_bit_png_come_out_as_raw_mono_images_do():
    grey = np.tile(np.arange(0, 256, 2, dtype=np.uint8), (64, 1))
    decoded = compressed_msg_to_bgr(message('mono8; jpeg compressed mono8',
                                            encode_jpeg(grey, 100)))
    assert decoded.shape == (64, 128, 3) and np.abs(decoded[..., 1].astype(int) - grey).max() <= 2
    deep = (np.arange(64 * 128, dtype=np.uint32).reshape(64, 128) * 8).astype(np.uint16)
    ok, png = cv2.imencode('.png', deep)
    assert ok
    decoded = compressed_msg_to_bgr(message('mono16; png compressed mono16', png.tobytes()))
    raw = types.SimpleNamespace(height=64, width=128, encoding='mono16', is_bigendian=0,
                                step=256, data=deep.tobytes())
    assert np.array_equal(decoded, image_msg_to_bgr(raw))


def test_mask_png_decodes_to_exactly_the_label_image():
    labels = np.zeros((480, 640), np.uint8)
    for k in range(1, 101):
        labels[(k * 37) % 440:(k * 37) % 440 + 40, (k * 53) % 600:(k * 53) % 600 + 40] = k
    data = encode_png(labels)
    assert MASK_FORMAT.split(';')[1].strip().startswith('png')
    assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED),
                          labels)


def test_jpeg_quality_trades_size_for_fidelity(bgr):
    noisy = np.clip(bgr.astype(int) + np.random.default_rng(1).integers(-30, 30, bgr.shape),
                    0, 255).astype(np.uint8)
    assert len(encode_jpeg(noisy, 30)) < len(encode_jpeg(noisy, 90))


def test_a_thousand_malformed_payloads_raise_only_conversion_errors(bgr):
    formats = ['bgr8; jpeg compressed bgr8', 'rgb8; png compressed', 'jpeg', 'png', '']
    for index, (kind, data) in enumerate(malformed_payloads(bgr, 1000)):
        try:
            image = compressed_msg_to_bgr(message(formats[index % len(formats)], data))
        except ImageConversionError as error:
            assert error.kind == 'compressed' and str(error)
        else:
            assert kind == 'damaged', f'payload {index} ({kind}) was decoded'
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def image_file(bgr, kind):
    """The bytes of an image file of `bgr` as `kind` ('.jpg', 'grey.png', 'alpha.png', ...)."""
    variant, _, extension = kind.rpartition('.')
    picture = {'': bgr, 'grey': cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
               'alpha': cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
               '16bit': bgr.astype(np.uint16) * 257}[variant]
    ok, data = cv2.imencode(f'.{extension}', picture)
    assert ok
    return data.tobytes()


@pytest.mark.parametrize('kind, fmt', [
    ('.jpg', 'bgr8; jpeg compressed bgr8'),
    ('grey.jpg', 'mono8; jpeg compressed mono8'),
    ('.png', 'bgr8; png compressed bgr8'),
    ('grey.png', 'mono8; png compressed mono8'),
])
def test_a_jpeg_or_png_of_8_bit_colour_or_grey_goes_as_it_is(bgr, kind, fmt):
    data = image_file(bgr, kind)
    decoded, _ = decode_image(data)
    assert file_payload(data, decoded) == (fmt, data)
    # What compressed_image_transport's subscriber decodes (unchanged) is what fmt names.
    unchanged = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert unchanged.dtype == np.uint8
    assert unchanged.ndim == (3 if fmt.startswith('bgr8') else 2)


def test_a_jpeg_its_exif_orientation_turns_goes_upright_as_png_and_others_as_they_are(bgr):
    """A phone's portrait photo: shown upright as a file, and so it must reach subscribers."""
    turned = with_orientation(image_file(bgr, '.jpg'), 6)
    upright, _ = decode_image(turned)
    assert upright.shape[:2] == bgr.shape[1::-1]
    fmt, payload = file_payload(turned, upright)
    assert fmt == PNG_FORMAT
    unchanged = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(unchanged, upright)
    plain = with_orientation(image_file(bgr, '.jpg'), 1)
    assert file_payload(plain, decode_image(plain)[0]) == ('bgr8; jpeg compressed bgr8', plain)


def test_a_message_jpeg_is_decoded_without_its_exif_orientation_as_image_transport_does(bgr):
    data = with_orientation(image_file(bgr, '.jpg'), 6)
    decoded = compressed_msg_to_bgr(message('jpeg', data))
    unchanged = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.shape == bgr.shape and np.array_equal(decoded, unchanged)


@pytest.mark.parametrize('kind', ['.bmp', '.tif', '.webp', 'alpha.png', '16bit.png'])
def test_other_files_go_as_lossless_png_of_what_they_decode_to(bgr, kind):
    data = image_file(bgr, kind)
    decoded, _ = decode_image(data)
    fmt, payload = file_payload(data, decoded)
    assert fmt == PNG_FORMAT and payload != data
    unchanged = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_UNCHANGED)
    assert unchanged.dtype == np.uint8 and np.array_equal(unchanged, decoded)
