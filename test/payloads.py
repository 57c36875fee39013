"""Malformed CompressedImage payloads, for the decoder's tests and the node's over DDS."""

import numpy as np

from instance_segmentation_ros.compressed import encode_jpeg, encode_png


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
