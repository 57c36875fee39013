"""One image in, instances out: the pipeline shared by the node and the command-line tools.

Also the one way they load a model, in two calls because the quick checks come first:
`choose_model` resolves the model and reads its label map (a typo fails at once, before a
camera or a bag is opened and before the seconds TensorFlow takes), then `load_segmenter`
loads it. The choice says whether the built-in demo model is in use; each caller says so to
its user in its own words (a log warning, a stderr line).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from ..core.depth3d import Instances3D
from ..core.detections import Instances, PostprocessSettings, RawDetections
from ..core.labels import LabelMap, load_label_map
from ..core.postprocess import postprocess
from ..core.render import draw_caption, render_overlay
from ..core.results import coco_detections, frame_json
from .source import BUILTIN_CAPTION, ResolvedModel, resolve_model
from .tensorflow_model import SegmentationModel


@dataclass
class Segmentation:
    """The instances found in one image and what it cost to find them."""

    instances: Instances
    inference_s: float
    postprocess_s: float


class Segmenter:
    """A loaded model with its label map: BGR image -> `Segmentation`.

    `caption`, when given, is written on every overlay: what a viewer must know about the
    results (the built-in model's limits), wherever the overlay ends up.
    """

    def __init__(self, model: SegmentationModel, label_map: LabelMap, caption: str = ''):
        self.model = model
        self.label_map = label_map
        self.caption = caption

    def segment(self, bgr: np.ndarray, settings: PostprocessSettings,
                label_image: np.ndarray | None = None) -> Segmentation:
        """Run the model and post-process; `label_image` may be a reused (H, W) buffer."""
        detections, inference_s = self.detect(bgr)
        return self.finish(detections, inference_s, bgr.shape[:2], settings, label_image)

    def detect(self, bgr: np.ndarray) -> tuple[RawDetections, float]:
        """The model call alone, with its duration: the node overlaps it with `finish`."""
        started = time.perf_counter()
        detections = self.model.predict(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return detections, time.perf_counter() - started

    def finish(self, detections: RawDetections, inference_s: float, size: tuple[int, int],
               settings: PostprocessSettings,
               label_image: np.ndarray | None = None) -> Segmentation:
        """Post-process the detections of one (height, width) image."""
        started = time.perf_counter()
        instances = postprocess(detections, *size, settings, label_image=label_image)
        return Segmentation(instances, inference_s, time.perf_counter() - started)

    def overlay(self, bgr: np.ndarray, segmentation: Segmentation, alpha: float = 0.5,
                out: np.ndarray | None = None,
                track_ids: np.ndarray | None = None) -> np.ndarray:
        """The input with the instances drawn over it (with `#track id`s), and the caption."""
        out = render_overlay(bgr, segmentation.instances, self.label_map, alpha, out=out,
                             track_ids=track_ids)
        return draw_caption(out, self.caption) if self.caption else out

    def coco(self, segmentation: Segmentation, image_id: int | None = None,
             track_ids: np.ndarray | None = None) -> list[dict]:
        """COCO results entries for the instances, with `track_id` where `track_ids`."""
        return coco_detections(segmentation.instances, self.label_map, image_id, track_ids)

    def frame_json(self, segmentation: Segmentation, stamp_sec: int, stamp_nanosec: int,
                   frame_id: str, located: Instances3D | None = None,
                   track_ids: np.ndarray | None = None) -> str:
        """The `detections_json` text for the instances, with their 3D where `located`."""
        return frame_json(segmentation.instances, self.label_map, stamp_sec, stamp_nanosec,
                          frame_id, self.model.name, segmentation.inference_s * 1000.0, located,
                          track_ids)


@dataclass(frozen=True)
class ModelChoice:
    """A model resolved and its label map read: everything checked before TensorFlow loads."""

    resolved: ResolvedModel
    label_map: LabelMap

    def caption(self, own_scenes: bool = False) -> str:
        """What the overlays must say, or ''.

        The built-in model's limits, unless the images are its own generated scenes
        (`own_scenes`), the only ones it knows.
        """
        return BUILTIN_CAPTION if self.resolved.builtin and not own_scenes else ''


def choose_model(model_path: str | None, label_map_path: str | None = '') -> ModelChoice:
    """The model a path or zoo name means (none: the built-in one) and its label map.

    Raises ModelError or LabelMapError with a one-line message.
    """
    resolved = resolve_model(model_path, label_map_path)
    return ModelChoice(resolved, load_label_map(resolved.label_map_path))


def load_segmenter(choice: ModelChoice, *, device: str = 'auto', intra_op_threads: int = 0,
                   inter_op_threads: int = 0, own_scenes: bool = False,
                   precision: str = 'fp32') -> Segmenter:
    """The chosen model loaded (seconds) with its label map; its overlays carry its caption.

    `precision`: auto, fp32 or bf16 on a CPU (`SegmentationModel`); `auto` decides at warm-up.
    """
    model = SegmentationModel(choice.resolved.source, device, intra_op_threads,
                              inter_op_threads, precision)
    return Segmenter(model, choice.label_map, choice.caption(own_scenes))
