"""Synthetic RGB-D scenes and their truth: what the depth tests of the node and the CLI share.

The built-in model's masks are good, not exact (its mask AP is 0.79), and a mask a few pixels
off moves a centroid by them: the truth of a detection is that of its pixels that really are the
instance, among detections that take in little of another shape.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

from instance_segmentation_ros.demo import depth_scenes, scenes
from instance_segmentation_ros.demo.depth_scenes import CAMERA

MATCH_IOU = 0.85  # instances the model outlined well; its mask errors are not the 3D's
MOST_OF_OTHERS = 0.03  # a mask with more of another shape measures both, rightly


def matched_truth(detection: dict, scene) -> tuple[int, np.ndarray] | None:
    """(index, detected pixels that are it) of the scene instance it outlines, or None."""
    rle = detection['segmentation']
    mask = mask_utils.decode({'size': rle['size'], 'counts': rle['counts'].encode()})
    mask = mask.astype(bool)
    shapes = np.logical_or.reduce([instance.mask for instance in scene.instances])
    for index, instance in enumerate(scene.instances):
        overlap = np.logical_and(mask, instance.mask)
        others = np.logical_and(mask, shapes & ~instance.mask).sum()  # the wall is no harm
        if (overlap.sum() / np.logical_or(mask, instance.mask).sum() >= MATCH_IOU
                and others / mask.sum() <= MOST_OF_OTHERS):
            return index, overlap
    return None


def check_3d_against_truth(frames: list[list[dict]], seed: int) -> int:
    """Assert every well-outlined detection's 3D within 1 cm / 2 cm; returns how many."""
    checked = 0
    for index, detections in enumerate(frames):
        scene = scenes.generate_scene(seed, index)
        depth = depth_scenes.render_depth(scene, seed, index)
        for detection in detections:
            matched = matched_truth(detection, scene)
            if matched is None:
                continue
            truth_index, truly_it = matched
            centroid, low, high = depth_scenes.truth_3d(
                truly_it, depth.distances[truth_index], CAMERA)
            where = (index, detection['id'], detection['category_name'])
            assert np.abs(np.array(detection['centroid']) - centroid).max() <= 0.01, where
            assert np.abs(np.array(detection['box_3d']['min']) - low).max() <= 0.02, where
            assert np.abs(np.array(detection['box_3d']['max']) - high).max() <= 0.02, where
            checked += 1
    return checked
