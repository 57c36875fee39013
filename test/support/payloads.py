"""Image payloads for the tests: malformed and EXIF-carrying.

Malformed CompressedImage data for the decoder's tests and the node's over DDS, and JPEGs with
EXIF blocks as cameras and phones write them.
"""

import numpy as np

from instance_segmentation_ros.core.compressed import encode_jpeg, encode_png


def malformed_payloads(bgr, count):
    """(kind, payload) x `count` that a broken driver, a cut network or an attacker could send.

    Every kind but 'damaged' (a flipped header byte, which OpenCV may still read) is unreadable.
    """
    rng = np.random.default_rng(5)
    jpeg, png = encode_jpeg(bgr, 80), encode_png(bgr)
    huge = bytearray(png)
    huge[16:24] = (100_000).to_bytes(4, 'big') * 2
    fixed = [b'', b'\xff\xd8', b'\x89PNG\r\n\x1a\n', bytes(huge), b'\x00' * 100_000]
    for index in range(count):
        if index < len(fixed):
            yield 'fixed', fixed[index]
        elif index % 3 == 0:
            yield 'random', rng.integers(0, 256, int(rng.integers(1, 5000)), np.uint8).tobytes()
        elif index % 3 == 1:
            source = jpeg if index % 2 else png
            yield 'truncated', source[:int(rng.integers(1, len(source) - 1))]
        else:
            corrupt = bytearray(png if index % 2 else jpeg)
            corrupt[int(rng.integers(8, 40))] ^= 0xFF
            yield 'damaged', bytes(corrupt)


def with_exif_thumbnail(jpeg: bytes, thumbnail: bytes) -> bytes:
    """`jpeg` with an APP1 segment right after its start marker that holds `thumbnail`."""
    payload = b'Exif\x00\x00' + thumbnail
    return jpeg[:2] + b'\xff\xe1' + (len(payload) + 2).to_bytes(2, 'big') + payload + jpeg[2:]


def with_orientation(jpeg: bytes, orientation: int, byte_order: str = 'little') -> bytes:
    """`jpeg` with an EXIF block (APP1) whose first IFD holds the orientation tag, as phones write.

    The tag follows another (the camera maker) so that it is not found by its position alone.
    """
    order = {'little': b'II', 'big': b'MM'}[byte_order]

    def entry(tag, kind, value):  # one IFD entry, count 1, SHORT value left-aligned
        return (tag.to_bytes(2, byte_order) + kind.to_bytes(2, byte_order)
                + (1).to_bytes(4, byte_order) + value.to_bytes(2, byte_order) + bytes(2))

    tiff = (order + (42).to_bytes(2, byte_order) + (8).to_bytes(4, byte_order)
            + (2).to_bytes(2, byte_order) + entry(0x010F, 2, 0) + entry(0x0112, 3, orientation)
            + bytes(4))
    return with_exif_thumbnail(jpeg, tiff)
