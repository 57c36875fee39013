"""The built-in demo model's evaluation on generated scenes with known answers.

The package ships a small Model Garden Mask R-CNN trained on `synthetic_scenes` (circle,
square, triangle), so it does its job offline with no download. Its scores here come from
the same pipeline as the node's: `Segmenter` -> COCO results -> pycocotools COCOeval.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from ..core.detections import PostprocessSettings
from ..model.segmenter import Segmenter
from . import coco_truth
from . import scenes as synthetic_scenes

HELD_OUT_SEED = 3  # training used seed 1 and validation seed 2
# COCO-style evaluations (Model Garden's, Detectron2's) score every detection down to 0.05:
# AP ranks detections by score, so a display threshold would only cut recall short.
COCO_SCORE_THRESHOLD = 0.05
SAMPLE_SCENE_INDEX = 10  # a held-out 640x480 scene holding every class, all found


def sample_scene() -> synthetic_scenes.Scene:
    """The image `instance-segmentation image` gives the built-in model when given none.

    A photo would get shape names on faces from a model that knows three shapes, so its first
    result is on a held-out scene like its training ones, at 640x480 with the shapes scaled
    to match.
    """
    settings = synthetic_scenes.SceneSettings(width=640, height=480, min_size=40,
                                              max_size=200, min_area=320)
    return synthetic_scenes.generate_scene(HELD_OUT_SEED, SAMPLE_SCENE_INDEX, settings)


@dataclass
class DemoReport:
    """Mask AP over IoU 0.5:0.95, AP at IoU 0.5, and what the pipeline cost per image."""

    images: int
    instances: int
    mask_ap: float
    mask_ap50: float
    inference_ms: float
    pipeline_ms: float


def run_demo(segmenter: Segmenter, out_dir: Path | None, count: int,
             seed: int = HELD_OUT_SEED, settings: PostprocessSettings | None = None,
             progress=None) -> DemoReport:
    """Segment `count` generated scenes, score them, and write what a person wants to see.

    Overlays show the detections that pass `settings`; mask AP is computed over every
    detection scoring at least COCO_SCORE_THRESHOLD (or the lower threshold of `settings`).
    With `out_dir`: `images/` (the scenes), `overlays/` (the results), `annotations.json`
    (COCO ground truth) and `results.json` (the COCO results that were scored). Scenes an
    earlier, larger run left there are removed, so the folders show this run only.
    """
    shown = settings or PostprocessSettings(score_threshold=0.3)
    scored = replace(shown, score_threshold=min(shown.score_threshold, COCO_SCORE_THRESHOLD))
    scenes = [synthetic_scenes.generate_scene(seed, index) for index in range(count)]
    names = [f'scene_{seed}_{index:05d}.png' for index in range(count)]
    ground_truth = coco_truth.coco_dataset(scenes, names)
    if out_dir is not None:
        for sub in ('images', 'overlays'):
            (out_dir / sub).mkdir(parents=True, exist_ok=True)
            for stale in set((out_dir / sub).glob('scene_*_*.png')) - {
                    out_dir / sub / name for name in names}:
                stale.unlink()
    if scenes:  # time the steady state, not TensorFlow's first-call set-up
        segmenter.model.warm_up(*scenes[0].image.shape[:2])
    results, inference, pipeline = [], [], []
    for image_id, (scene, name) in enumerate(zip(scenes, names, strict=True), start=1):
        bgr = scene.bgr
        started = time.perf_counter()
        segmentation = segmenter.segment(bgr, scored)
        pipeline.append(time.perf_counter() - started)
        inference.append(segmentation.inference_s)
        results += segmenter.coco(segmentation, image_id)
        visible = replace(segmentation, instances=segmentation.instances.scoring_at_least(
            shown.score_threshold))
        if out_dir is not None:
            cv2.imwrite(str(out_dir / 'images' / name), bgr)
            cv2.imwrite(str(out_dir / 'overlays' / name), segmenter.overlay(bgr, visible))
        if progress is not None:
            progress(name, len(visible.instances))
    if out_dir is not None:
        (out_dir / 'annotations.json').write_text(json.dumps(ground_truth))
        (out_dir / 'results.json').write_text(json.dumps(results))
    mask_ap, mask_ap50 = mask_average_precision(ground_truth, results)
    return DemoReport(images=count, instances=len(ground_truth['annotations']),
                      mask_ap=mask_ap, mask_ap50=mask_ap50,
                      inference_ms=1000 * float(np.mean(inference)),
                      pipeline_ms=1000 * float(np.mean(pipeline)))


def mask_average_precision(ground_truth: dict, results: list[dict]) -> tuple[float, float]:
    """COCO mask AP@[.5:.95] and AP50 of `results` against a COCO instances dictionary."""
    stats = coco_mask_stats(ground_truth, results)
    return stats[0], stats[1]


def coco_mask_stats(ground_truth: dict, results: list[dict]) -> list[float]:
    """The 12 numbers of pycocotools' segm summary (AP, AP50, AP75, ..., AR100, ...)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not results:
        return [0.0] * 12
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        truth = COCO()
        truth.dataset = ground_truth
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes([dict(r) for r in results]), 'segm')
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return [float(value) for value in evaluation.stats]
