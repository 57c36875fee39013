"""From raw model outputs to instances: selection, mask pasting, label image, COCO RLE.

Pure numpy/OpenCV and vectorised per instance: this runs on every frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from .detections import Instances, PostprocessSettings, RawDetections

MAX_INSTANCES = 255  # the label image is mono8: 0 is background


def select(detections: RawDetections, settings: PostprocessSettings) -> np.ndarray:
    """Indices of the detections to keep: score, class filter and count, best first."""
    keep = detections.scores >= settings.score_threshold
    if settings.class_ids:
        keep &= np.isin(detections.classes, np.fromiter(settings.class_ids, np.int64))
    indices = np.flatnonzero(keep)
    indices = indices[np.argsort(-detections.scores[indices], kind='stable')]
    return indices[:min(settings.max_detections, MAX_INSTANCES)]


def paste_mask(mask: np.ndarray, box: np.ndarray, height: int, width: int,
               threshold: float) -> tuple[int, int, np.ndarray] | None:
    """Paste one box-relative mask into the image, thresholded.

    Follows the Object Detection API's `reframe_box_masks_to_image_masks`, which resamples
    the mask with `crop_and_resize`: image pixel i sits at t = i / (H - 1), mask row 0 lands
    on ymin and row m-1 on ymax, bilinear in between, zero outside. Bilinear sampling is
    separable, so rows are interpolated first (a few rows of m values), then columns: exact,
    and only as costly as the box is large.

    Returns (top, left, binary patch) or None when the box covers no pixel.
    """
    rows = _sample_positions(float(box[0]), float(box[2]), height, mask.shape[0])
    cols = _sample_positions(float(box[1]), float(box[3]), width, mask.shape[1])
    if rows is None or cols is None:
        return None
    top, row_below, row_above, row_fraction = rows
    left, col_below, col_above, col_fraction = cols
    mask = mask.astype(np.float32, copy=False)
    by_row = mask[row_below] + (mask[row_above] - mask[row_below]) * row_fraction[:, None]
    patch = by_row[:, col_below] + (by_row[:, col_above] - by_row[:, col_below]) * col_fraction
    return top, left, patch > threshold


def _sample_positions(low: float, high: float, size: int, mask_size: int):
    """Where the image pixels covered by one box edge pair sample the mask, per axis.

    Returns (first pixel, lower and upper mask index, interpolation fraction), with pixels
    that fall outside the mask trimmed away, or None when no pixel falls inside.
    """
    span = max(high - low, 1e-4)
    if size > 1:
        first = max(int(np.floor(low * (size - 1))), 0)
        last = min(int(np.ceil(high * (size - 1))), size - 1)
        positions = np.arange(first, last + 1, dtype=np.float32) / np.float32(size - 1)
    else:
        first = 0
        positions = np.array([0.5], np.float32)
    source = (positions - np.float32(low)) * np.float32((mask_size - 1) / span)
    inside = np.flatnonzero((source >= 0) & (source <= mask_size - 1))
    if not len(inside):
        return None
    source = source[inside[0]:inside[-1] + 1]
    below = np.floor(source).astype(np.intp)
    above = np.minimum(below + 1, mask_size - 1)
    return first + int(inside[0]), below, above, (source - below).astype(np.float32)


def postprocess(detections: RawDetections, height: int, width: int,
                settings: PostprocessSettings, label_image: np.ndarray | None = None
                ) -> Instances:
    """Select detections and paint their masks into one instance label image.

    `label_image` may be a preallocated (H, W) uint8 buffer (a message's data, say); it is
    cleared and filled in place.
    """
    if label_image is None:
        label_image = np.zeros((height, width), np.uint8)
    else:
        label_image.fill(0)
    indices = select(detections, settings)
    areas = np.zeros(len(indices), np.int64)
    for number, index in enumerate(indices, start=1):
        pasted = paste_mask(detections.masks[index], detections.boxes[index], height, width,
                            settings.mask_threshold)
        if pasted is None:
            continue
        top, left, binary = pasted
        region = label_image[top:top + binary.shape[0], left:left + binary.shape[1]]
        free = binary & (region == 0)
        region[free] = number
        areas[number - 1] = np.count_nonzero(free)
    boxes = detections.boxes[indices] * np.array([height, width, height, width], np.float32)
    boxes = np.clip(boxes[:, [1, 0, 3, 2]], 0, [width, height, width, height])
    return Instances(label_image=label_image, boxes=boxes.astype(np.float32),
                     classes=detections.classes[indices].astype(np.int64),
                     scores=detections.scores[indices].astype(np.float32), areas=areas)


def encode_rle(label_image: np.ndarray, count: int) -> list[dict]:
    """COCO RLE (compressed, as in COCO results files) of instances 1..count of a label image.

    One pass finds the runs of equal labels in column-major order; each instance's RLE is
    then built from its own runs, with no per-instance full-image mask.
    """
    from pycocotools import mask as mask_utils

    height, width = label_image.shape
    flat = cv2.transpose(label_image).reshape(-1)  # column-major; 10x numpy's transposed copy
    total = flat.size
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [total]))
    values = flat[starts]
    foreground = values > 0
    starts, ends, values = starts[foreground], ends[foreground], values[foreground]
    order = np.argsort(values, kind='stable')
    starts, ends, values = starts[order], ends[order], values[order]
    bounds = np.searchsorted(values, np.arange(1, count + 2))
    uncompressed = []
    for number in range(1, count + 1):
        lo, hi = bounds[number - 1], bounds[number]
        edges = np.empty(2 * (hi - lo) + 2, np.int64)
        edges[0], edges[-1] = 0, total
        edges[1:-1:2], edges[2:-1:2] = starts[lo:hi], ends[lo:hi]
        counts = np.diff(edges)
        if len(counts) > 1 and counts[-1] == 0:  # the mask reaches the last pixel
            counts = counts[:-1]
        uncompressed.append({'size': [height, width], 'counts': counts.tolist()})
    if not uncompressed:
        return []
    encoded = mask_utils.frPyObjects(uncompressed, height, width)
    return [{'size': [height, width], 'counts': rle['counts'].decode('ascii')}
            for rle in encoded]
