"""Whether an overlay carries the built-in model's caption, judged from its pixels."""

import numpy as np

from instance_segmentation_ros.core.render import draw_caption
from instance_segmentation_ros.model.source import BUILTIN_CAPTION


def has_caption(overlay: np.ndarray, original: np.ndarray) -> bool:
    """Whether `overlay` shows the caption where `original` did not.

    True when the pixels that the caption sets, whatever lies below, are all there, hold
    near-white text, and are not simply the original's.
    """
    on_black = draw_caption(np.zeros(overlay.shape, np.uint8), BUILTIN_CAPTION)
    on_white = draw_caption(np.full(overlay.shape, 255, np.uint8), BUILTIN_CAPTION)
    zone = np.all(on_black == on_white, axis=2)
    caption = on_black[zone]
    return (np.array_equal(overlay[zone], caption) and np.all(caption >= 230, axis=1).any()
            and not np.array_equal(original[zone], caption))
