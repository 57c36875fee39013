"""How a model lies on disk: which file or folder of a path TensorFlow loads, and how.

A SavedModel folder (holding `saved_model.pb`), a frozen graph `.pb`, or a zoo folder as
unpacked (holding `frozen_inference_graph.pb` and/or `saved_model/`, the frozen graph
preferred). The bottom of `model`: the zoo checks its downloads with this rule, name resolution
(`source`) applies it to what the user gave, and the TensorFlow loader takes its `ModelSource`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InstanceSegmentationError

FROZEN_GRAPH_NAME = 'frozen_inference_graph.pb'


class ModelError(InstanceSegmentationError):
    """A model that cannot be found, loaded or run; the message says what to fix."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model is on disk and which format it is in (decided before loading)."""

    path: Path
    kind: str  # 'saved_model' or 'frozen_graph'

    @property
    def name(self) -> str:
        """A readable name: the zoo folder's name rather than `saved_model`."""
        for part in (self.path,) + tuple(self.path.parents):
            if part.name not in ('saved_model', FROZEN_GRAPH_NAME, ''):
                return part.name.removesuffix('.pb')
        return str(self.path)


def model_in_folder(folder: Path) -> ModelSource | None:
    """The model a folder holds (a zoo folder's frozen graph first), or None."""
    if (folder / FROZEN_GRAPH_NAME).is_file():
        return ModelSource(folder / FROZEN_GRAPH_NAME, 'frozen_graph')
    for saved_model in (folder, folder / 'saved_model'):
        if (saved_model / 'saved_model.pb').is_file():
            return ModelSource(saved_model, 'saved_model')
    return None


def model_at(path: Path) -> ModelSource:
    """The model an existing file or folder is; ModelError saying what is expected otherwise."""
    if path.is_file():
        if path.suffix != '.pb':
            raise ModelError(f'model_path {str(path)!r} is a file but not a .pb frozen graph')
        if path.name == 'saved_model.pb':
            return ModelSource(path.parent, 'saved_model')
        return ModelSource(path, 'frozen_graph')
    source = model_in_folder(path)
    if source is None:
        raise ModelError(
            f'model_path {str(path)!r} is not a model: expected a SavedModel folder '
            f'(saved_model.pb), a frozen graph .pb, or a zoo folder holding saved_model/ or '
            f'{FROZEN_GRAPH_NAME}')
    return source
