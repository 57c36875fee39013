"""The overlay image: translucent instance masks, boxes, class names and scores."""

from __future__ import annotations

import colorsys
from functools import lru_cache

import cv2
import numpy as np

from .detections import Instances
from .labels import LabelMap

_GOLDEN_RATIO = 0.618033988749895
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@lru_cache(maxsize=1024)
def class_colour(class_id: int) -> tuple[int, int, int]:
    """A BGR colour per class: the same in every frame and run, far from its neighbours'.

    Hues are spread by the golden ratio so that consecutive class ids differ clearly.
    """
    hue = (int(class_id) * _GOLDEN_RATIO) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(blue * 255), int(green * 255), int(red * 255)


CAPTION_WIDTH_FRACTION = 0.8  # of the image width, where that leaves the text legible
CAPTION_MIN_SCALE = 0.4  # Hershey text below this is hard to read (about 10 px high)


def draw_caption(image: np.ndarray, text: str) -> np.ndarray:
    """Write `text` in white on a black band at the bottom left of a BGR image, in place.

    For what an overlay must say about itself (that a model cannot know the scene). The font
    follows the image width, so the caption reads alike on a 320 px frame and a 4K one; where
    even the smallest legible font does not fit, the caption wraps at spaces. Returns `image`.
    """
    height, width = image.shape[:2]
    unit_width = cv2.getTextSize(text, _FONT, 1.0, 1)[0][0] or 1
    room = max(width - 2 * max(1, width // 100), 1)
    scale = max(CAPTION_WIDTH_FRACTION * width / unit_width, CAPTION_MIN_SCALE)
    thickness = max(1, round(scale))
    lines = _wrap(text, scale, thickness, room)
    sizes = [cv2.getTextSize(line, _FONT, scale, thickness) for line in lines]
    text_height = max(size[0][1] for size in sizes)
    line_height = text_height + max(size[1] for size in sizes)
    pad = max(1, text_height // 3)
    top = height - len(lines) * line_height - 2 * pad
    band_width = max(size[0][0] for size in sizes) + 2 * pad
    cv2.rectangle(image, (0, top), (band_width, height), (0, 0, 0), cv2.FILLED)
    for number, line in enumerate(lines):
        cv2.putText(image, line, (pad, top + pad + number * line_height + text_height), _FONT,
                    scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return image


def _wrap(text: str, scale: float, thickness: int, room: int) -> list[str]:
    """`text` in lines no wider than `room` as drawn, broken at spaces (a longer word alone).

    Measured at the size drawn: text width is not proportional to the scale (OpenCV 5 rounds
    glyph advances, and a thicker stroke widens them).
    """
    lines = []
    for word in text.split(' '):
        joined = f'{lines[-1]} {word}' if lines else word
        if lines and cv2.getTextSize(joined, _FONT, scale, thickness)[0][0] <= room:
            lines[-1] = joined
        else:
            lines.append(word)
    return lines


def draw_shadowed_text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float,
                       colour=(255, 255, 255), shadow=(0, 0, 0), shadow_width: int = 2):
    """Write `text` with a dark outline, at `origin` (its bottom left) of a BGR image, in place.

    Legible on any background. The outline is the text's own stroke grown by `shadow_width`
    pixels, not a second, thicker `putText` pass: OpenCV 5 draws thick text wider than thin
    text, so two passes drift apart along the line.
    """
    (text_width, text_height), baseline = cv2.getTextSize(text, _FONT, scale, 1)
    margin = shadow_width + 2
    left, bottom = origin[0] - margin, origin[1] + baseline + margin
    top = origin[1] - text_height - margin
    right = origin[0] + text_width + margin
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(right, image.shape[1]), min(bottom, image.shape[0])
    if x0 >= x1 or y0 >= y1:
        return image
    ink = np.zeros((bottom - top, right - left), np.uint8)
    cv2.putText(ink, text, (margin, margin + text_height), _FONT, scale, 255, 1, cv2.LINE_AA)
    size = 2 * shadow_width + 1
    outline = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    window = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    region = image[y0:y1, x0:x1]
    for alpha, paint in ((outline[window], shadow), (ink[window], colour)):
        weight = alpha[..., None].astype(np.float32) / 255
        region[...] = (region * (1 - weight) + np.asarray(paint, np.float32) * weight).round()
    return image


def render_overlay(bgr: np.ndarray, instances: Instances, label_map: LabelMap,
                   alpha: float = 0.5, out: np.ndarray | None = None,
                   track_ids: np.ndarray | None = None) -> np.ndarray:
    """Draw `instances` over a BGR image into `out` (allocated when not given).

    The masks are blended in one pass over the region that holds instances, so the cost
    follows what is on screen, not the image size. With `track_ids` (a tracker's, one per
    instance) a label reads `class #id score`; an instance not yet confirmed (0) has no `#`.
    """
    if out is None:
        out = np.empty(bgr.shape, np.uint8)
    np.copyto(out, bgr)
    if not len(instances):
        return out
    height, width = instances.label_image.shape
    colours = np.zeros((256, 3), np.uint8)
    for number, class_id in enumerate(instances.classes, start=1):
        colours[number] = class_colour(int(class_id))
    if alpha > 0:
        _blend_masks(out, instances, colours, alpha)
    thickness = max(1, round(min(height, width) / 320))
    font_scale = max(0.4, min(height, width) / 800)
    boxes = np.rint(instances.boxes).astype(np.int64)
    names = [label_map.name(class_id) for class_id in instances.classes]
    if track_ids is not None:
        names = [f'{name} #{track_id}' if track_id else name
                 for name, track_id in zip(names, np.asarray(track_ids).tolist(), strict=True)]
    texts = [f'{name} {score:.0%}' for name, score in zip(names, instances.scores, strict=True)]
    text_sizes = [cv2.getTextSize(text, _FONT, font_scale, thickness) for text in texts]
    positions = label_positions(boxes, [_label_size(size) for size in text_sizes],
                                (height, width)).tolist()
    label_colours = [tuple(colour) for colour in colours[1:len(instances) + 1].tolist()]
    # Worst first, so that the best instance's outline and label end up on top; all
    # outlines before any label, so that no outline runs through a label's text.
    for index in reversed(range(len(instances))):
        x0, y0, x1, y1 = boxes[index].tolist()
        cv2.rectangle(out, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), label_colours[index],
                      thickness)
    for index in reversed(range(len(instances))):
        _draw_label(out, texts[index], positions[index], text_sizes[index],
                    label_colours[index], font_scale, thickness)
    return out


def _blend_masks(out: np.ndarray, instances: Instances, colours: np.ndarray, alpha: float):
    boxes = instances.boxes
    height, width = instances.label_image.shape
    x0 = max(int(np.floor(boxes[:, 0].min())), 0)
    y0 = max(int(np.floor(boxes[:, 1].min())), 0)
    x1 = min(int(np.ceil(boxes[:, 2].max())) + 1, width)
    y1 = min(int(np.ceil(boxes[:, 3].max())) + 1, height)
    if x1 <= x0 or y1 <= y0:
        return
    labels = np.ascontiguousarray(instances.label_image[y0:y1, x0:x1])
    region = out[y0:y1, x0:x1]
    tint = cv2.LUT(cv2.merge((labels, labels, labels)), colours.reshape(256, 1, 3))
    blended = cv2.addWeighted(region, 1.0 - alpha, tint, alpha, 0.0)
    cv2.copyTo(blended, labels, region)  # writes through the view into `out`


def label_positions(boxes_xyxy: np.ndarray, label_sizes: np.ndarray,
                    image_shape: tuple[int, ...]) -> np.ndarray:
    """Top-left corners (x, y) of the instances' labels, one row per box.

    Every label lies inside the image (or starts at its left/top edge when the image is
    smaller than the label), and labels keep apart where there is room: they are placed
    greedily in the given order, best instance first, and each takes the first of its
    candidate spots (see `_candidate_tops`) where no earlier label is, or the one with the
    fewest pixels under earlier labels when every spot is taken. `label_sizes` are
    (width, height) in pixels.
    """
    height, width = image_shape[:2]
    boxes = np.rint(np.asarray(boxes_xyxy, np.float64)).astype(np.int64).reshape(-1, 4)
    # Rows outside the image hold no label, and boxes reaching far out (the model's boxes
    # may) would otherwise give many candidate spots that all end up at the edge.
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, height)
    sizes = np.asarray(label_sizes, np.int64).reshape(-1, 2)
    lefts = np.minimum(np.maximum(boxes[:, 0], 0), np.maximum(width - sizes[:, 0], 0))
    tops = np.zeros(len(boxes), np.int64)
    # Checking a spot is a slice of this mask, so one check costs the same however many
    # labels are placed already.
    labelled = np.zeros((height, width), bool)
    for index, (left, (_, box_top, _, box_bottom), (label_width, label_height)) in enumerate(
            zip(lefts.tolist(), boxes.tolist(), sizes.tolist(), strict=True)):
        columns = slice(left, left + label_width)
        best_top, least_covered = 0, None
        for top in _candidate_tops(box_top, box_bottom, label_height, height):
            covered = np.count_nonzero(labelled[top:top + label_height, columns])
            if least_covered is None or covered < least_covered:
                best_top, least_covered = top, covered
            if not covered:
                break
        labelled[best_top:best_top + label_height, columns] = True
        tops[index] = best_top
    return np.stack((lefts, tops), axis=1)


def _candidate_tops(box_top: int, box_bottom: int, label_height: int, image_height: int):
    """Label tops in order of preference, each moved into the image.

    Just above the box, inside it at its top, just below it, then further down inside it in
    label-height steps: near its box, a label still says which instance it names.
    """
    lowest = max(image_height - label_height, 0)
    yield from (min(max(top, 0), lowest) for top in (
        box_top - label_height, box_top, box_bottom,
        *range(box_top + label_height, box_bottom - label_height + 1, max(label_height, 1))))


def _label_size(text_size) -> tuple[int, int]:
    """A label's (width, height) from `cv2.getTextSize`: the text padded by a pixel.

    Placing and drawing both use it, so a label is drawn exactly where it was placed.
    """
    (text_width, text_height), baseline = text_size
    return text_width + 3, text_height + baseline + 3


def _draw_label(out: np.ndarray, text: str, position, text_size, colour, font_scale: float,
                thickness: int):
    left, top = position
    label_width, label_height = _label_size(text_size)
    cv2.rectangle(out, (left, top), (left + label_width - 1, top + label_height - 1), colour,
                  cv2.FILLED)
    ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)
    text_height = text_size[0][1]
    cv2.putText(out, text, (left + 1, top + text_height + 1), _FONT, font_scale, ink,
                thickness, cv2.LINE_AA)
