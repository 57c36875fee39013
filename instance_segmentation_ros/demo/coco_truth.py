"""The generated scenes' ground truth as a COCO instances dataset.

Its RLE encoder is written apart from `core.postprocess.encode_rle` on purpose: the truth that
scores the package must not share the package's code (pycocotools checks both in the tests).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from .scenes import LABELS, Scene, SceneSettings, generate_scene


def coco_rle(mask: np.ndarray) -> dict:
    """Compressed COCO RLE ({'size': [h, w], 'counts': str}) of a bool mask, as pycocotools."""
    height, width = mask.shape
    flat = np.ascontiguousarray(np.asarray(mask, bool).T).reshape(-1)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate(([0], change, [flat.size]))
    counts = np.diff(edges).tolist()
    if flat.size and flat[0]:
        counts.insert(0, 0)  # runs start with background
    return {'size': [int(height), int(width)], 'counts': _rle_string(counts)}


def coco_dataset(scenes, file_names) -> dict:
    """A COCO instances dictionary for scenes (image ids 1.., annotation ids 1..)."""
    images, annotations = [], []
    for image_id, (scene, file_name) in enumerate(zip(scenes, file_names, strict=True),
                                                  start=1):
        images.append(_image_entry(scene, image_id, file_name))
        annotations += _annotations(scene, image_id, len(annotations) + 1)
    return _coco_document(images, annotations)


def write_coco_dataset(folder: str | Path, count: int, seed: int = 0,
                       size: tuple[int, int] = (320, 240),
                       settings: SceneSettings | None = None,
                       annotations_name: str = 'annotations.json') -> Path:
    """Write scenes 0..count-1 of `seed` as PNG images plus a COCO instances JSON.

    `size` is (width, height). Images are `folder/scene_<seed>_<index>.png` and the JSON is
    `folder/annotations.json`; returns the JSON's path. Image id k is scene index k - 1.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if settings is None:
        settings = SceneSettings(width=int(size[0]), height=int(size[1]))
    images, annotations = [], []
    for index in range(count):
        scene = generate_scene(seed, index, settings)
        name = f'scene_{seed}_{index:05d}.png'
        if not cv2.imwrite(str(folder / name), scene.bgr):
            raise OSError(f'cannot write {folder / name}')
        images.append(_image_entry(scene, index + 1, name))
        annotations += _annotations(scene, index + 1, len(annotations) + 1)
    path = folder / annotations_name
    path.write_text(json.dumps(_coco_document(images, annotations), separators=(',', ':')))
    return path


def _image_entry(scene: Scene, image_id: int, file_name: str) -> dict:
    height, width = scene.image.shape[:2]
    return {'id': image_id, 'file_name': file_name, 'width': width, 'height': height}


def _annotations(scene: Scene, image_id: int, first_id: int) -> list[dict]:
    return [{
        'id': first_id + number,
        'image_id': image_id,
        'category_id': instance.class_id,
        'segmentation': coco_rle(instance.mask),
        'area': int(instance.mask.sum()),
        'bbox': instance.bbox,
        'iscrowd': 0,
    } for number, instance in enumerate(scene.instances)]


def _coco_document(images: list[dict], annotations: list[dict]) -> dict:
    categories = [{'id': number, 'name': name, 'supercategory': 'shape'}
                  for number, name in enumerate(LABELS, start=1)]
    return {'info': {'description': 'instance_segmentation_ros synthetic shapes'},
            'images': images, 'annotations': annotations, 'categories': categories}


def _rle_string(counts: list[int]) -> str:
    """Counts as pycocotools' rleToString writes them (deltas, 5-bit groups)."""
    chars = []
    for number, value in enumerate(counts):
        x = value - counts[number - 2] if number > 2 else value
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            chars.append(chr(c + 48))
    return ''.join(chars)
