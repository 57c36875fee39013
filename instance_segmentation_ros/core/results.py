"""Detections as JSON: COCO results entries and the per-frame `detections_json` object."""

from __future__ import annotations

import json

import numpy as np

from .depth3d import Instances3D
from .detections import Instances
from .labels import LabelMap
from .postprocess import encode_rle


def coco_detections(instances: Instances, label_map: LabelMap,
                    image_id: int | None = None,
                    track_ids: np.ndarray | None = None) -> list[dict]:
    """One COCO results entry per instance (what `COCO.loadRes` reads).

    `segmentation` is the instance's pixels in the label image, so the RLE and the
    published mask agree exactly; `id` is the instance's value in the label image. With
    `track_ids` (a tracker's, one per instance) each entry has `track_id`: the object's id
    over frames, or null while its track is not yet confirmed (the tracker's 0).
    """
    rles = encode_rle(instances.label_image, len(instances))
    entries = []
    for number, rle in enumerate(rles, start=1):
        x0, y0, x1, y1 = (float(v) for v in instances.boxes[number - 1])
        class_id = int(instances.classes[number - 1])
        entry = {
            'id': number,
            'category_id': class_id,
            'category_name': label_map.name(class_id),
            'score': round(float(instances.scores[number - 1]), 5),
            'bbox': [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
            'area': int(instances.areas[number - 1]),
            'segmentation': rle,
        }
        if image_id is not None:
            entry['image_id'] = image_id
        if track_ids is not None:
            entry['track_id'] = int(track_ids[number - 1]) or None
        entries.append(entry)
    return entries


def add_3d(entries: list[dict], located: Instances3D):
    """The 3D fields of each entry, in metres (millimetre precision); null where too few points.

    `centroid` [x, y, z] and `box_3d` {min, max} in the camera's optical frame, `depth_points`
    (how many depth points they come from), `median_depth`.
    """
    def metres(values):
        return [round(float(v), 4) for v in values]

    for row, entry in enumerate(entries):
        located_here = located.located(row + 1)
        entry['centroid'] = metres(located.centroids[row]) if located_here else None
        entry['box_3d'] = ({'min': metres(located.box_min[row]),
                            'max': metres(located.box_max[row])} if located_here else None)
        entry['depth_points'] = int(located.points[row])
        entry['median_depth'] = (round(float(located.median_depth[row]), 4) if located_here
                                 else None)


def frame_json(instances: Instances, label_map: LabelMap, stamp_sec: int, stamp_nanosec: int,
               frame_id: str, model_name: str, inference_ms: float,
               located: Instances3D | None = None,
               track_ids: np.ndarray | None = None) -> str:
    """The `detections_json` message text for one frame, with the 3D fields where `located`.

    With `track_ids` every detection has `track_id` (see `coco_detections`); without, none.
    """
    height, width = instances.label_image.shape
    detections = coco_detections(instances, label_map, track_ids=track_ids)
    if located is not None:
        add_3d(detections, located)
    return json.dumps({
        'header': {'stamp': {'sec': int(stamp_sec), 'nanosec': int(stamp_nanosec)},
                   'frame_id': frame_id},
        'height': height,
        'width': width,
        'model': model_name,
        'inference_ms': round(float(inference_ms), 3),
        'detections': detections,
    }, separators=(',', ':'))


def mots_lines(frame: int, instances: Instances, track_ids: np.ndarray,
               class_of=int) -> list[str]:
    """One frame's tracked instances in the MOTSChallenge text format that TrackEval reads.

    Each line is `frame track_id class height width rle`, the RLE being COCO's compressed
    counts string of the instance's pixels in the label image. `class_of(class_id)` gives the
    class column (MOTSChallenge's own classes are 1 car, 2 pedestrian, 10 ignore region);
    instances without a confirmed track (id 0) or without pixels are left out.
    """
    lines = []
    rles = encode_rle(instances.label_image, len(instances))
    for row, (rle, track_id) in enumerate(zip(rles, track_ids, strict=True)):
        if track_id and instances.areas[row] > 0:
            height, width = rle['size']
            lines.append(f'{int(frame)} {int(track_id)} {class_of(int(instances.classes[row]))} '
                         f'{height} {width} {rle["counts"]}')
    return lines
