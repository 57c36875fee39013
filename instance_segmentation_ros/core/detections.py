"""What one image's segmentation is made of, from the model's output to the kept instances.

Plain values shared by the loader (`model`), the post-processing and everything that reads its
results, so that none of them imports another for a type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RawDetections:
    """What a model found in one image, before any threshold or filter.

    boxes are normalised [ymin, xmin, ymax, xmax] (the Object Detection API convention that
    the mask pasting relies on), classes are 1-based ids, scores are sorted descending and
    masks are box-relative probabilities of shape [N, m, m].
    """

    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray
    masks: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class PostprocessSettings:
    """Everything that decides which detections are kept and how masks are cut.

    Frozen, so a node can swap in a new one between frames and one frame never sees a mix.
    """

    score_threshold: float = 0.5
    mask_threshold: float = 0.5
    class_ids: frozenset[int] = field(default_factory=frozenset)  # empty: all classes
    max_detections: int = 100


@dataclass
class Instances:
    """The instances of one image; instance k (1-based) is row k-1 of every array.

    Instances are numbered by descending score. `boxes` are pixel [x_min, y_min, x_max, y_max]
    of the model's box; `areas` count the pixels of instance k in `label_image`, where a
    higher-scoring instance covers a lower-scoring one.
    """

    label_image: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray
    areas: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def scoring_at_least(self, score: float) -> Instances:
        """The instances with at least `score`: a prefix, as instances are sorted by score.

        Their visible pixels do not change: lower-scoring instances never cover them.
        """
        count = int(np.count_nonzero(self.scores >= score))
        if count == len(self):
            return self
        label_image = np.where(self.label_image <= count, self.label_image, 0).astype(np.uint8)
        return Instances(label_image=label_image, boxes=self.boxes[:count],
                         classes=self.classes[:count], scores=self.scores[:count],
                         areas=self.areas[:count])
