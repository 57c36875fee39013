"""Which model a model path means, decided from what is on disk before TensorFlow loads it.

A path is a SavedModel folder, a frozen graph `.pb`, a zoo folder as unpacked (holding
`frozen_inference_graph.pb` and/or `saved_model/`, the frozen graph preferred), or the name of
a downloaded zoo model; no path at all means the built-in demo model. Apart from `model`, the
TensorFlow loader, so that loading knows nothing of zoo names or of the built-in model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import data_file
from ..errors import InstanceSegmentationError

FROZEN_GRAPH_NAME = 'frozen_inference_graph.pb'
DEMO_MODEL_NAME = 'built-in demo model (circle, square, triangle)'
BUILTIN_CAPTION = 'built-in demo model: knows only circles, squares, triangles'
"""Written on the built-in model's overlays of images it cannot know (anything but its own
generated scenes), where a shape name on a face would otherwise pass for a result."""
LABEL_FILE_NAMES = ('labels.txt', 'label_map.pbtxt', 'labels.pbtxt')
"""Label files that, beside a model, name its classes (the built-in model's is labels.txt)."""


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


def locate_model(model_path: str | os.PathLike) -> ModelSource:
    """Find the SavedModel folder or frozen graph file that `model_path` refers to."""
    if not str(model_path).strip():
        raise ModelError('model_path is empty: give a SavedModel folder, a frozen graph .pb '
                         'or a zoo model folder')
    path = Path(model_path).expanduser()
    if not path.exists():
        from . import zoo  # here, not above: zoo imports this module for model_in_folder

        downloaded = zoo.downloaded_model(str(model_path).strip())
        if downloaded is None:
            raise ModelError(f'model_path {str(path)!r} does not exist'
                             f'{zoo.not_downloaded_hint(str(model_path).strip())}')
        path = downloaded
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


def builtin_model() -> tuple[Path, Path] | None:
    """(SavedModel folder, label file) of the shipped demo model, or None when absent."""
    folder = Path(str(data_file('demo_model')))
    saved_model, labels = folder / 'saved_model', folder / 'labels.txt'
    if (saved_model / 'saved_model.pb').is_file() and labels.is_file():
        return saved_model, labels
    return None


def is_builtin_model(model_path: str | None) -> bool:
    """Whether `model_path` means the shipped demo model.

    Empty, or a path to its folder or to its `saved_model/`, however written: the model's
    limits are the same whichever way it was named.
    """
    if not (model_path and str(model_path).strip()):
        return True
    shipped = builtin_model()
    if shipped is None:
        return False
    given = Path(model_path).expanduser().resolve()
    return given in (shipped[0].resolve(), shipped[0].parent.resolve())


def label_map_beside(model_path: str | Path) -> str:
    """A label file that came with the model, or '' (then the COCO map applies).

    Looked for in the model folder, and beside the `saved_model/` folder or `.pb` file when
    the path names one of those.
    """
    path = Path(model_path).expanduser()
    folders = [path] if path.is_dir() else []
    if path.is_file() or path.name == 'saved_model':
        folders.append(path.parent)
    for folder in folders:
        for name in LABEL_FILE_NAMES:
            if (folder / name).is_file():
                return str(folder / name)
    return ''


def with_builtin_defaults(model_path: str | None, label_map_path: str | None
                          ) -> tuple[str, str, bool]:
    """(model path, label map path, whether the built-in model is used).

    No model path means the built-in demo model; a path to it counts as it too
    (`is_builtin_model`). Without a label map path, a label file beside the model is used
    (`label_map_beside`), for the built-in model and every other.
    Raises ModelError when the package was installed without the built-in model.
    """
    if model_path and str(model_path).strip():
        return (str(model_path), label_map_path or label_map_beside(model_path),
                is_builtin_model(model_path))
    shipped = builtin_model()
    if shipped is None:
        raise ModelError('no model_path given and this installation has no built-in demo '
                         'model: give a SavedModel folder, frozen graph .pb or zoo model folder')
    saved_model, labels = shipped
    return str(saved_model), label_map_path or str(labels), True
