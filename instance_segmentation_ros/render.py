"""The overlay image: translucent instance masks, boxes, class names and scores."""

from __future__ import annotations

import colorsys
from functools import lru_cache

import cv2
import numpy as np

from .labels import LabelMap
from .postprocess import Instances

_GOLDEN_RATIO = 0.618033988749895


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
    follows the image width, so the caption reads alike on a 320 px frame and a 4K one;
    it shrinks only where the text would not fit otherwise. Returns `image`.
    """
    height, width = image.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    unit_width = cv2.getTextSize(text, font, 1.0, 1)[0][0] or 1
    room = max(width - 2 * max(1, width // 100), 1)
    scale = min(room / unit_width,
                max(CAPTION_WIDTH_FRACTION * width / unit_width, CAPTION_MIN_SCALE))
    thickness = max(1, round(scale))
    (text_width, text_height), baseline = cv2.getTextSize(text, font, scale, thickness)
    if text_width > room:  # the thicker stroke widened it
        scale *= room / text_width
        (text_width, text_height), baseline = cv2.getTextSize(text, font, scale, thickness)
    pad = max(1, text_height // 3)
    top = height - text_height - baseline - 2 * pad
    cv2.rectangle(image, (0, top), (text_width + 2 * pad, height), (0, 0, 0), cv2.FILLED)
    cv2.putText(image, text, (pad, height - pad - baseline), font, scale, (255, 255, 255),
                thickness, cv2.LINE_AA)
    return image


def render_overlay(bgr: np.ndarray, instances: Instances, label_map: LabelMap,
                   alpha: float = 0.5, out: np.ndarray | None = None) -> np.ndarray:
    """Draw `instances` over a BGR image into `out` (allocated when not given).

    The masks are blended in one pass over the region that holds instances, so the cost
    follows what is on screen, not the image size.
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
    for number in range(len(instances), 0, -1):  # best instance drawn last, on top
        x0, y0, x1, y1 = (int(round(v)) for v in instances.boxes[number - 1])
        colour = tuple(int(c) for c in colours[number])
        cv2.rectangle(out, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), colour, thickness)
        text = (f'{label_map.name(instances.classes[number - 1])} '
                f'{instances.scores[number - 1]:.0%}')
        _draw_label(out, text, x0, y0, colour, font_scale, thickness)
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


def _draw_label(out: np.ndarray, text: str, x: int, y: int, colour, font_scale: float,
                thickness: int):
    (text_width, text_height), baseline = cv2.getTextSize(
        text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
    top = y - text_height - baseline - 2
    if top < 0:  # no room above the box: write inside it
        top = y
    bottom = top + text_height + baseline + 2
    cv2.rectangle(out, (x, top), (x + text_width + 2, bottom), colour, cv2.FILLED)
    ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)
    cv2.putText(out, text, (x + 1, bottom - baseline - 1), cv2.FONT_HERSHEY_SIMPLEX,
                font_scale, ink, thickness, cv2.LINE_AA)
