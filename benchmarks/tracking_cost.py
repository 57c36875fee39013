"""What the mask tracker costs per 1280x720 frame at 5, 20 and 100 instances.

In-process: `MaskTracker.update` alone (the instances are made beforehand), and the 16UC1
track-id image (`track_id_image`) the node would publish beside it. Each frame holds N shapes
(circles, squares, triangles, 40 to 140 px, as Mask R-CNN finds people and cars at 720p) that
move at 50 to 400 px/s, cross and hide one another; frames are 1/30 s apart, and the tracker
also runs on every 5th frame (bigger jumps: more pairs overlap after prediction, more reach
the distance stage). Target: at most 2 ms per frame at 20 instances.

    python benchmarks/tracking_cost.py [--quick] [--frames N]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from bench_common import markdown_table, median, percentile, print_header, save_json

from instance_segmentation_ros.core.detections import Instances
from instance_segmentation_ros.core.tracking import MaskTracker, track_id_image
from instance_segmentation_ros.demo.scenes import shape_mask

WIDTH, HEIGHT = 1280, 720
COUNTS = (5, 20, 100)


def moving_frames(count: int, frames: int, seed: int = 0) -> list[tuple[float, Instances]]:
    """`frames` frames of `count` shapes moving in straight lines, bouncing at the borders."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(40, 140, count)
    classes = rng.integers(1, 4, count)
    start = rng.uniform([70, 70], [WIDTH - 70, HEIGHT - 70], (count, 2))
    heading = rng.uniform(0, 2 * math.pi, count)
    speed = rng.uniform(50, 400, count)
    velocity = np.stack([np.cos(heading), np.sin(heading)], axis=1) * speed[:, None]
    angle = rng.uniform(0, 2 * math.pi, count)
    made = []
    for number in range(frames):
        stamp = number / 30.0
        position = start + velocity * stamp
        for axis, high in ((0, WIDTH), (1, HEIGHT)):  # fold into the frame
            phase = np.mod(position[:, axis], 2 * high)
            position[:, axis] = np.where(phase <= high, phase, 2 * high - phase)
        label_image = np.zeros((HEIGHT, WIDTH), np.uint8)
        boxes = np.zeros((count, 4), np.float32)
        for k in range(count):
            reach = int(size[k]) // 2 + 2
            x, y = position[k]
            left, top = max(int(x) - reach, 0), max(int(y) - reach, 0)
            right, bottom = min(int(x) + reach, WIDTH), min(int(y) + reach, HEIGHT)
            if right <= left or bottom <= top:
                continue
            mask = shape_mask(bottom - top, right - left, int(classes[k]),
                              (x - left, y - top), float(size[k]), float(angle[k]))
            label_image[top:bottom, left:right][mask] = k + 1
            boxes[k] = (left, top, right, bottom)
        areas = np.bincount(label_image.ravel(), minlength=count + 1)[1:count + 1]
        made.append((stamp, Instances(label_image, boxes, classes.astype(np.int64),
                                      np.ones(count, np.float32), areas.astype(np.int64))))
    return made


def time_tracker(frames: list[tuple[float, Instances]], stride: int) -> list[float]:
    """Milliseconds of each `update` on every `stride`-th frame, after a first frame."""
    tracker = MaskTracker()
    times = []
    for number, (stamp, instances) in enumerate(frames[::stride]):
        started = time.perf_counter()
        tracker.update(stamp, instances)
        if number:  # the first frame only starts tracks
            times.append(1000 * (time.perf_counter() - started))
    return times


def time_id_image(frames: list[tuple[float, Instances]]) -> list[float]:
    """Milliseconds of each track-id image (into a reused buffer)."""
    out = np.zeros((HEIGHT, WIDTH), np.uint16)
    times = []
    for _, instances in frames:
        ids = np.arange(1, len(instances) + 1, dtype=np.uint16)
        started = time.perf_counter()
        track_id_image(instances.label_image, ids, out=out)
        times.append(1000 * (time.perf_counter() - started))
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='60 frames per count')
    parser.add_argument('--frames', type=int, default=300)
    args = parser.parse_args(argv)
    frames = 60 if args.quick else args.frames
    print_header('mask tracker cost per 1280x720 frame', argv)
    rows, results = [], {}
    for count in COUNTS:
        made = moving_frames(count, frames)
        found = float(np.mean([np.count_nonzero(i.areas) for _, i in made]))
        every, fifth = time_tracker(made, 1), time_tracker(made, 5)
        image = time_id_image(made)
        results[count] = {'every': every, 'every_5th': fifth, 'id_image': image}
        rows.append([count, f'{found:.1f}', f'{median(every):.2f}',
                     f'{percentile(every, 95):.2f}', f'{median(fifth):.2f}',
                     f'{percentile(fifth, 95):.2f}', f'{median(image):.2f}'])
    print(markdown_table(['instances', 'with pixels', 'update p50 ms', 'p95',
                          'every 5th: p50 ms', 'p95', 'track-id image p50 ms'], rows))
    print(f'raw results: {save_json("tracking_cost.json", results)}')


if __name__ == '__main__':
    main()
