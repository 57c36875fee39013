"""Benchmark: what compressed images cost the node per 1280x720 frame, against raw images.

In: a raw bgr8 sensor_msgs/Image converted as the node converts it (the baseline, in the same
run), against the same frame as a JPEG (compressed_image_transport's default quality 95, and 80)
and as a PNG decoded by `compressed.compressed_msg_to_bgr`. Out: the label image encoded as PNG
(`masks/compressed`) and the overlay as JPEG (`overlay/compressed`). The frame is the package's
sample photo scaled to 1280x720; the label image holds 20 instances. Timed interleaved, medians
and p95 over the runs:

    .venv/bin/python benchmarks/compressed_decode.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from importlib import resources

import cv2
import numpy as np
from bench_common import markdown_table, median, percentile, print_header, save_json
from sensor_msgs.msg import CompressedImage, Image

from instance_segmentation_ros.core.compressed import (
    compressed_msg_to_bgr,
    encode_jpeg,
    encode_png,
)
from instance_segmentation_ros.core.image_conversion import fill_image_msg, image_msg_to_bgr

HEIGHT, WIDTH = 720, 1280


def sample_frame() -> np.ndarray:
    data = resources.files('instance_segmentation_ros').joinpath('data', 'sample.jpg')
    photo = cv2.imdecode(np.frombuffer(data.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    return cv2.resize(photo, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)


def label_image(instances: int = 20) -> np.ndarray:
    rng = np.random.default_rng(3)
    labels = np.zeros((HEIGHT, WIDTH), np.uint8)
    for k in range(instances, 0, -1):
        centre = (int(rng.integers(100, WIDTH - 100)), int(rng.integers(100, HEIGHT - 100)))
        axes = (int(rng.integers(30, 150)), int(rng.integers(30, 150)))
        cv2.ellipse(labels, centre, axes, float(rng.integers(0, 180)), 0, 360, k, -1)
    return labels


def compressed(fmt: str, data: bytes) -> CompressedImage:
    msg = CompressedImage()
    msg.format, msg.data = fmt, data
    return msg


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=300)
    parser.add_argument('--quick', action='store_true', help='50 runs')
    args = parser.parse_args()
    runs = 50 if args.quick else args.runs
    print_header('Compressed images: decode and encode per 1280x720 frame')

    frame, labels = sample_frame(), label_image()
    raw = fill_image_msg(Image(), frame, 'bgr8')
    inputs = {
        'raw bgr8 (baseline)': lambda: image_msg_to_bgr(raw),
        'JPEG q95': compressed('bgr8; jpeg compressed bgr8', encode_jpeg(frame, 95)),
        'JPEG q80': compressed('bgr8; jpeg compressed bgr8', encode_jpeg(frame, 80)),
        'PNG': compressed('bgr8; png compressed bgr8', encode_png(frame)),
    }
    outputs = {
        'masks -> PNG (20 instances)': lambda: encode_png(labels),
        'overlay -> JPEG q80': lambda: encode_jpeg(frame, 80),
        'overlay -> JPEG q95': lambda: encode_jpeg(frame, 95),
    }
    jobs = {name: (job if callable(job) else (lambda msg=job: compressed_msg_to_bgr(msg)))
            for name, job in {**inputs, **outputs}.items()}
    sizes = {name: len(msg.data) for name, msg in inputs.items() if not callable(msg)}
    sizes['raw bgr8 (baseline)'] = len(raw.data)
    sizes['masks -> PNG (20 instances)'] = len(encode_png(labels))
    sizes['overlay -> JPEG q80'] = len(encode_jpeg(frame, 80))
    sizes['overlay -> JPEG q95'] = len(encode_jpeg(frame, 95))

    times = {name: [] for name in jobs}
    for _ in range(runs):
        for name, job in jobs.items():
            started = time.perf_counter()
            job()
            times[name].append((time.perf_counter() - started) * 1000)
    baseline = median(times['raw bgr8 (baseline)'])
    rows = [[name, f'{sizes[name] / 1024:.0f}', f'{median(values):.2f}',
             f'{percentile(values, 95):.2f}',
             f'+{median(values) - baseline:.2f}' if name in inputs else '']
            for name, values in times.items()]
    print(markdown_table(['step', 'KiB', 'median ms', 'p95 ms', 'added over raw ms'], rows))
    print(f'\n{runs} runs each, interleaved')
    save_json('compressed_decode.json', {'runs': runs, 'times_ms': times, 'bytes': sizes})


if __name__ == '__main__':
    main()
