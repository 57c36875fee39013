"""sensor_msgs/CompressedImage <-> numpy, as compressed_image_transport writes and reads them.

Python on Jazzy has no image_transport, so the node reads ``image/compressed`` itself. Like
`image_conversion`, this module never imports ROS: it works on any object with the
CompressedImage fields ``format`` and ``data``.

``format`` is what compressed_image_transport writes, ``"<encoding>; <jpeg|png> compressed
<encoding>"`` (``"bgr8; jpeg compressed bgr8"``, ``"rgb8; png compressed"``), or a bare
``"jpeg"``/``"png"`` as older publishers and OpenCV-based drivers write it. The payload decides
how it is decoded (a format that names the other codec is no reason to drop a good frame); a
format naming another codec (``compressedDepth``, ``theora``) is refused. Decoding follows
`image_files`: a cut-short JPEG or PNG, or a header claiming an absurd size, is refused before
OpenCV allocates anything. 16-bit PNGs and grey JPEGs come out as 8-bit BGR, as raw ``mono16``
and ``mono8`` images do.

Image files (folder_player, the CLI's bags): a JPEG or PNG of 8-bit colour or grey pixels goes
as it is, so nothing is lost or spent on encoding; anything else (BMP, TIFF, WebP, alpha,
16 bits, a JPEG that its EXIF orientation turns) as a lossless PNG of the BGR image it decodes
to. A message's JPEG is decoded without its EXIF orientation, as compressed_image_transport
decodes it, so that the masks lie on the image every subscriber sees.

Outputs: a label image must never be JPEG-compressed (lossy compression changes instance ids),
so masks are published as lossless PNG; the overlay, a picture for people, as JPEG.
"""

from __future__ import annotations

import cv2
import numpy as np

from .image_conversion import ImageConversionError
from .image_files import decode_image, stored_encoding

CODECS = ('jpeg', 'jpg', 'png')
MASK_FORMAT = 'mono8; png compressed mono8'
TRACK_MASK_FORMAT = '16UC1; png compressed 16UC1'  # track ids: a 16-bit grey PNG
OVERLAY_FORMAT = 'bgr8; jpeg compressed bgr8'
PNG_FORMAT = 'bgr8; png compressed bgr8'
PNG_SPEED = [cv2.IMWRITE_PNG_COMPRESSION, 1]  # label images are flat: level 1 is small enough


def compressed_codec(fmt: str) -> str:
    """The codec a CompressedImage ``format`` names ('jpeg' or 'png'), or '' when it names none.

    Raises ImageConversionError (kind 'compressed') for a codec this package cannot decode.
    """
    if not isinstance(fmt, str):
        raise ImageConversionError(f'format must be a string, got {type(fmt).__name__}',
                                   'compressed')
    words = fmt.lower().replace(';', ' ').split()
    if any('compresseddepth' in word for word in words):
        raise ImageConversionError(
            f"format {fmt!r} is compressed_depth_image_transport's, for depth images; "
            'subscribe to a colour image', 'compressed')
    named = [word for word in words if word in CODECS]
    if named:
        return 'png' if named[0] == 'png' else 'jpeg'
    if words:
        raise ImageConversionError(f'format {fmt!r} names no JPEG or PNG compression',
                                   'compressed')
    return ''


def compressed_msg_to_bgr(msg) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (duck typed) into an (H, W, 3) uint8 BGR array.

    Raises ImageConversionError (kind 'compressed') for a format or payload that cannot be
    decoded, with the reason in its text.
    """
    compressed_codec(getattr(msg, 'format', None))
    try:
        with memoryview(msg.data) as view:
            data = view.tobytes()
    except (AttributeError, TypeError, ValueError, BufferError):
        raise ImageConversionError(
            f'compressed data must be bytes-like, got {type(getattr(msg, "data", None)).__name__}',
            'compressed') from None
    image, reason = decode_image(data, exif_orientation=False)
    if image is None:
        raise ImageConversionError(f'compressed image of {len(data)} bytes: {reason}',
                                   'compressed')
    return image


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG bytes of a mono8 label image, a uint16 track-id image or any 8-bit image."""
    ok, encoded = cv2.imencode('.png', image, PNG_SPEED)
    if not ok:
        raise ImageConversionError(f'OpenCV could not encode a {image.shape} PNG', 'compressed')
    return encoded.tobytes()


def encode_jpeg(bgr: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of a BGR image at `quality` (1-100)."""
    ok, encoded = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ImageConversionError(f'OpenCV could not encode a {bgr.shape} JPEG', 'compressed')
    return encoded.tobytes()


def file_payload(data: bytes, bgr: np.ndarray) -> tuple[str, bytes]:
    """(format, data) of a CompressedImage carrying the image file ``data``, decoded to ``bgr``."""
    codec, encoding = stored_encoding(data)
    if codec:
        return f'{encoding}; {codec} compressed {encoding}', data
    return PNG_FORMAT, encode_png(bgr)
