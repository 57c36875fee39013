"""Evaluate an exported model with the package's own pipeline on held-out synthetic scenes.

Runs in the package's runtime environment (not the training one):

    python training/evaluate.py --model instance_segmentation_ros/data/demo_model

Scenes come from `synthetic_scenes` with a seed that neither training (1) nor validation (2)
used; every scene goes through `Segmenter.segment` and `coco_detections`, exactly as the node
does, and pycocotools' COCOeval (segm) scores the results against the generated ground truth.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from instance_segmentation_ros.core.detections import PostprocessSettings  # noqa: E402
from instance_segmentation_ros.core.labels import load_label_map  # noqa: E402
from instance_segmentation_ros.demo import coco_truth  # noqa: E402
from instance_segmentation_ros.demo import scenes as synthetic_scenes  # noqa: E402
from instance_segmentation_ros.demo.evaluation import HELD_OUT_SEED, coco_mask_stats  # noqa: E402
from instance_segmentation_ros.model.segmenter import Segmenter  # noqa: E402
from instance_segmentation_ros.model.tensorflow_model import SegmentationModel  # noqa: E402


def evaluate(model_dir: Path, count: int, seed: int, score_thresholds, threads: int = 0):
    """Mask AP / AP50 per score threshold and per-image timings on `count` scenes."""
    saved_model = model_dir / 'saved_model' if (model_dir / 'saved_model').is_dir() else model_dir
    labels = model_dir / 'labels.txt'
    model = SegmentationModel(saved_model, intra_op_threads=threads)
    segmenter = Segmenter(model, load_label_map(labels if labels.is_file() else None))
    scenes = [synthetic_scenes.generate_scene(seed, index) for index in range(count)]
    names = [f'scene_{seed}_{index:05d}.png' for index in range(count)]
    ground_truth = coco_truth.coco_dataset(scenes, names)
    model.warm_up(*scenes[0].image.shape[:2])
    lowest = min(score_thresholds)
    settings = PostprocessSettings(score_threshold=lowest)
    results, inference, total = [], [], []
    for image_id, scene in enumerate(scenes, start=1):
        started = time.perf_counter()
        segmentation = segmenter.segment(scene.bgr, settings)
        total.append(time.perf_counter() - started)
        inference.append(segmentation.inference_s)
        results += segmenter.coco(segmentation, image_id)
    report = {'model': str(saved_model), 'format': model.format, 'images': count,
              'seed': seed, 'instances': len(ground_truth['annotations']),
              'inference_ms_mean': 1000 * float(np.mean(inference)),
              'inference_ms_median': 1000 * float(np.median(inference)),
              'pipeline_ms_mean': 1000 * float(np.mean(total)),
              'by_score_threshold': {}}
    for threshold in sorted(score_thresholds):
        kept = [r for r in results if r['score'] >= threshold]
        stats = coco_mask_stats(ground_truth, kept)
        report['by_score_threshold'][str(threshold)] = {
            'detections': len(kept), 'mask_AP': stats[0], 'mask_AP50': stats[1],
            'mask_AP75': stats[2], 'mask_AR100': stats[8]}
    return report


def main(argv=None):
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', type=Path,
                        default=HERE.parent / 'instance_segmentation_ros' / 'data' / 'demo_model')
    parser.add_argument('--images', type=int, default=200)
    parser.add_argument('--seed', type=int, default=HELD_OUT_SEED)
    parser.add_argument('--score-thresholds', type=float, nargs='+', default=[0.05, 0.5])
    parser.add_argument('--threads', type=int, default=0, help='TensorFlow intra-op threads')
    parser.add_argument('--json', type=Path, help='also write the report here')
    args = parser.parse_args(argv)
    report = evaluate(args.model, args.images, args.seed, args.score_thresholds, args.threads)
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + '\n')


if __name__ == '__main__':
    main()
