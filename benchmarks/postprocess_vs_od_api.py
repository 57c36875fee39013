"""Benchmark 1: per-frame post-processing, this package versus the original scripts' OD API path.

This package: `postprocess` (select, paste masks, label image) + `render_overlay` + `frame_json`
(COCO RLE of every instance) - what segmentation_node does per frame beside inference.
The original scripts: the TF Object Detection API's `reframe_box_masks_to_image_masks`, `> 0.5`,
then `visualize_boxes_and_labels_on_image_array` with the masks (as in the OD API tutorial).
Both get the same realistic inputs (boxes of objects, sigmoid masks of blobs, scores above the
threshold, COCO classes) and are timed interleaved in the same process; the pasted masks of
the two are compared (IoU per mask).

Needs the benchmark virtualenv (see benchmarks/README.md), because the OD API is installed
there and nowhere else:

    /tmp/bench_work/venv/bin/python benchmarks/postprocess_vs_od_api.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import cv2
import numpy as np
from bench_common import (
    markdown_table,
    median,
    percentile,
    print_header,
    save_json,
)

from instance_segmentation_ros.core.detections import PostprocessSettings, RawDetections
from instance_segmentation_ros.core.labels import coco_label_map
from instance_segmentation_ros.core.postprocess import paste_mask, postprocess
from instance_segmentation_ros.core.render import render_overlay
from instance_segmentation_ros.core.results import frame_json

SCENARIOS = [  # (name, height, width, instances, mask size)
    ('640x480, 10 x 15x15', 480, 640, 10, 15),
    ('1280x720, 20 x 33x33', 720, 1280, 20, 33),
    ('1280x720, 100 x 33x33', 720, 1280, 100, 33),
]
MASK_THRESHOLD = 0.5
SCORE_THRESHOLD = 0.5


def import_od_api():
    """The OD API modules, with the one TF1 argument name its reframing still uses mapped."""
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    try:
        import tensorflow as tf
        from object_detection.utils import ops, visualization_utils
    except ImportError as error:
        raise SystemExit(
            f'{error}: run this with the benchmark virtualenv that has '
            f'tensorflow-object-detection-api installed (see benchmarks/README.md)') from None
    crop_and_resize = tf.image.crop_and_resize

    def crop_and_resize_tf1(image, boxes, box_ind=None, crop_size=None, **kwargs):
        return crop_and_resize(image, boxes, box_indices=box_ind, crop_size=crop_size, **kwargs)

    tf.image.crop_and_resize = crop_and_resize_tf1  # ops.py passes box_ind= (TF1 name)
    return tf, ops, visualization_utils


def realistic_inputs(rng, count, mask_size, height, width):
    """A frame as a Mask R-CNN reports it, plus a BGR camera image to draw on.

    Boxes: objects of 8-35 % of the image side anywhere in it, clipped to the image as the OD
    API clips them. Masks: 1-3 elliptic blobs per box through a sigmoid (soft edges, noise),
    like a mask head's output. Scores above the threshold (so every instance is drawn), best
    first; classes from the COCO label map.
    """
    centre = rng.uniform(0.05, 0.95, (count, 2))
    size = rng.uniform(0.08, 0.35, (count, 2))
    boxes = np.clip(np.concatenate([centre - size / 2, centre + size / 2], axis=1), 0.0, 1.0)
    grid = np.linspace(0.0, 1.0, mask_size, dtype=np.float32)
    yy, xx = np.meshgrid(grid, grid, indexing='ij')
    logits = np.full((count, mask_size, mask_size), -5.0, np.float32)
    for blob in range(3):
        present = rng.uniform(size=count) < (1.0 if blob == 0 else 0.4)
        cy, cx = (rng.uniform(0.3, 0.7, count)[:, None, None] for _ in range(2))
        ry, rx = (rng.uniform(0.2, 0.5, count)[:, None, None] for _ in range(2))
        distance = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        logits = np.maximum(logits, np.where(present[:, None, None], 8.0 * (1.0 - distance),
                                             -5.0))
    logits += rng.normal(0.0, 0.7, logits.shape).astype(np.float32)
    masks = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    scores = np.sort(rng.uniform(0.55, 0.99, count))[::-1].astype(np.float32)
    coco_ids = sorted(coco_label_map().names)
    classes = rng.choice(coco_ids, count).astype(np.int32)
    image = np.clip(rng.normal(128, 40, (height // 8, width // 8, 3)), 0, 255).astype(np.uint8)
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    return RawDetections(boxes=boxes.astype(np.float32), classes=classes, scores=scores,
                         masks=masks), image


class OursPath:
    """The per-frame work of this package, with the node's reused buffers."""

    def __init__(self, height, width):
        self.label_map = coco_label_map()
        self.settings = PostprocessSettings(score_threshold=SCORE_THRESHOLD,
                                            mask_threshold=MASK_THRESHOLD, max_detections=100)
        self.label_image = np.zeros((height, width), np.uint8)
        self.overlay = np.zeros((height, width, 3), np.uint8)

    def __call__(self, detections, bgr):
        height, width = bgr.shape[:2]
        started = time.perf_counter()
        instances = postprocess(detections, height, width, self.settings,
                                label_image=self.label_image)
        pasted = time.perf_counter()
        render_overlay(bgr, instances, self.label_map, 0.5, out=self.overlay)
        drawn = time.perf_counter()
        text = frame_json(instances, self.label_map, 1, 2, 'camera', 'mask_rcnn', 0.0)
        done = time.perf_counter()
        assert len(instances) == len(detections) and text
        return {'total': done - started, 'postprocess': pasted - started,
                'overlay': drawn - pasted, 'json': done - drawn}


class OdApiPath:
    """The original scripts' per-frame work with the OD API (tutorial style)."""

    def __init__(self, tf, ops, vis):
        self.tf, self.ops, self.vis = tf, ops, vis
        self.category_index = {i: {'id': i, 'name': name}
                               for i, name in coco_label_map().names.items()}

    def reframe(self, detections, height, width):
        tf = self.tf
        reframed = self.ops.reframe_box_masks_to_image_masks(
            tf.convert_to_tensor(detections.masks), tf.convert_to_tensor(detections.boxes),
            height, width)
        return tf.cast(reframed > MASK_THRESHOLD, tf.uint8).numpy()

    def __call__(self, detections, bgr):
        height, width = bgr.shape[:2]
        started = time.perf_counter()
        masks = self.reframe(detections, height, width)
        reframed = time.perf_counter()
        image = bgr[..., ::-1].copy()  # the scripts drew on the RGB array
        self.vis.visualize_boxes_and_labels_on_image_array(
            image, detections.boxes, detections.classes, detections.scores,
            self.category_index, instance_masks=masks, use_normalized_coordinates=True,
            line_thickness=8, max_boxes_to_draw=len(detections),
            min_score_thresh=SCORE_THRESHOLD)
        done = time.perf_counter()
        return {'total': done - started, 'reframe': reframed - started,
                'visualize': done - reframed}


def agreement(od_api, detections, height, width):
    """IoU per mask of `paste_mask` against the OD API's reframed mask (same inputs)."""
    theirs = od_api.reframe(detections, height, width).astype(bool)
    ious = []
    for i in range(len(detections)):
        ours = np.zeros((height, width), bool)
        pasted = paste_mask(detections.masks[i], detections.boxes[i], height, width,
                            MASK_THRESHOLD)
        if pasted is not None:
            top, left, patch = pasted
            ours[top:top + patch.shape[0], left:left + patch.shape[1]] = patch
        union = np.count_nonzero(ours | theirs[i])
        ious.append(1.0 if union == 0 else np.count_nonzero(ours & theirs[i]) / union)
    return ious


def run(quick: bool):
    tf, ops, vis = import_od_api()
    rng = np.random.default_rng(2024)
    results = []
    for name, height, width, count, mask_size in SCENARIOS:
        od_api_reps = (2 if count > 50 else 3) if quick else (8 if count > 50 else 15)
        ours_per_od_api = 4 if quick else 12
        frames = [realistic_inputs(rng, count, mask_size, height, width) for _ in range(4)]
        ours, od_api = OursPath(height, width), OdApiPath(tf, ops, vis)
        for detections, bgr in frames:  # warm-up: first TF calls, caches
            ours(detections, bgr)
        od_api(*frames[0])
        ours_times, od_api_times = [], []
        for rep in range(od_api_reps):
            od_api_times.append(od_api(*frames[rep % len(frames)]))
            for k in range(ours_per_od_api):
                ours_times.append(ours(*frames[(rep + k) % len(frames)]))
        ious = [v for detections, _ in frames for v in agreement(od_api, detections, height,
                                                                 width)]
        ours_ms = {key: 1000 * median([t[key] for t in ours_times]) for key in ours_times[0]}
        od_api_ms = {key: 1000 * median([t[key] for t in od_api_times])
                     for key in od_api_times[0]}
        result = {
            'scenario': name, 'ours_ms': ours_ms, 'od_api_ms': od_api_ms,
            'ours_p95_ms': 1000 * percentile([t['total'] for t in ours_times], 95),
            'ratio': od_api_ms['total'] / ours_ms['total'],
            'iou_min': min(ious), 'iou_mean': float(np.mean(ious)), 'masks': len(ious),
            'ours_runs': len(ours_times), 'od_api_runs': len(od_api_times),
        }
        results.append(result)
        print(f'{name}: ours {ours_ms["total"]:.2f} ms, OD API {od_api_ms["total"]:.1f} ms, '
              f'x{result["ratio"]:.0f}', flush=True)
    return results


def report(results):
    print()
    print(markdown_table(
        ['frame', 'this package, median ms (p95)', 'paste + label', 'overlay', 'RLE + JSON',
         'OD API path, median ms', 'reframe', 'visualize', 'speed-up', 'mask IoU min / mean'],
        [[r['scenario'], f'{r["ours_ms"]["total"]:.2f} ({r["ours_p95_ms"]:.2f})',
          f'{r["ours_ms"]["postprocess"]:.2f}', f'{r["ours_ms"]["overlay"]:.2f}',
          f'{r["ours_ms"]["json"]:.2f}', f'{r["od_api_ms"]["total"]:.0f}',
          f'{r["od_api_ms"]["reframe"]:.0f}', f'{r["od_api_ms"]["visualize"]:.0f}',
          f'{r["ratio"]:.0f}x', f'{r["iou_min"]:.4f} / {r["iou_mean"]:.4f}']
         for r in results]))
    print()
    print('runs per scenario (this package / OD API): '
          + ', '.join(f'{r["ours_runs"]} / {r["od_api_runs"]}' for r in results))
    target = next(r for r in results if r['scenario'].startswith('1280x720, 20'))
    met_ratio = target['ratio'] >= 50
    met_time = target['ours_ms']['total'] <= 15
    print(f'target 1280x720/20: >= 50x faster: {"met" if met_ratio else "NOT met"} '
          f'({target["ratio"]:.0f}x); <= 15 ms: {"met" if met_time else "NOT met"} '
          f'({target["ours_ms"]["total"]:.2f} ms)')
    agree = all(r['iou_min'] >= 0.98 for r in results)
    print(f'agreement (IoU >= 0.98 per mask): {"yes" if agree else "NO"}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='few repetitions (smoke run)')
    args = parser.parse_args(argv)
    print_header('Post-processing per frame: this package vs the OD API path')
    results = run(args.quick)
    report(results)
    save_json('postprocess_vs_od_api.json', results)


if __name__ == '__main__':
    sys.exit(main())
