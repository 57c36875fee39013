"""Which model the user means: a path, the name of a downloaded zoo model, or the built-in one.

Resolved once, before TensorFlow loads anything: `resolve_model` gives the `ModelSource` to load
(the on-disk rule is `layout`'s), the label file that names its classes, and whether it is the
built-in demo model, whose limits a caller must tell the user about. The TensorFlow loader
takes the result and knows nothing of names, the zoo or the built-in model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import data_file
from . import zoo
from .layout import ModelError, ModelSource, model_at

DEMO_MODEL_NAME = 'built-in demo model (circle, square, triangle)'
BUILTIN_CAPTION = 'built-in demo model: knows only circles, squares, triangles'
"""Written on the built-in model's overlays of images it cannot know (anything but its own
generated scenes), where a shape name on a face would otherwise pass for a result."""
LABEL_FILE_NAMES = ('labels.txt', 'label_map.pbtxt', 'labels.pbtxt')
"""Label files that, beside a model, name its classes (the built-in model's is labels.txt)."""


@dataclass(frozen=True)
class ResolvedModel:
    """The model a user named, found on disk, with the label file that names its classes."""

    source: ModelSource
    label_map_path: str  # '' means the COCO label map
    builtin: bool  # the built-in demo model, which knows only its shapes


def resolve_model(model_path: str | os.PathLike | None,
                  label_map_path: str | None = '') -> ResolvedModel:
    """The model `model_path` means, and its label file; no model path means the built-in one.

    A path to the built-in model counts as it too (`is_builtin_model`). Without a label map
    path, a label file beside the model is used (`label_map_beside`), for every model.
    Raises ModelError when there is no such model, or when no path is given and the package
    was installed without the built-in model.
    """
    if model_path is not None and str(model_path).strip():
        source = locate_model(model_path)
        return ResolvedModel(source, label_map_path or label_map_beside(source.path),
                             is_builtin_model(model_path))
    shipped = builtin_model()
    if shipped is None:
        raise ModelError('no model_path given and this installation has no built-in demo '
                         'model: give a SavedModel folder, frozen graph .pb or zoo model folder')
    saved_model, labels = shipped
    return ResolvedModel(ModelSource(saved_model, 'saved_model'), label_map_path or str(labels),
                         True)


def locate_model(model_path: str | os.PathLike) -> ModelSource:
    """The SavedModel folder or frozen graph that a path, or a downloaded zoo name, refers to."""
    text = str(model_path).strip()
    if not text:
        raise ModelError('model_path is empty: give a SavedModel folder, a frozen graph .pb '
                         'or a zoo model folder')
    path = Path(model_path).expanduser()
    if not path.exists():
        downloaded = zoo.downloaded_model(text)
        if downloaded is None:
            raise ModelError(f'model_path {str(path)!r} does not exist'
                             f'{zoo.not_downloaded_hint(text)}')
        path = downloaded
    return model_at(path)


def builtin_model() -> tuple[Path, Path] | None:
    """(SavedModel folder, label file) of the shipped demo model, or None when absent."""
    folder = Path(str(data_file('demo_model')))
    saved_model, labels = folder / 'saved_model', folder / 'labels.txt'
    if (saved_model / 'saved_model.pb').is_file() and labels.is_file():
        return saved_model, labels
    return None


def is_builtin_model(model_path: str | os.PathLike | None) -> bool:
    """Whether `model_path` means the shipped demo model.

    Empty, or a path to its folder, its `saved_model/` or the `saved_model.pb` in it, however
    written: the model's limits are the same whichever way it was named.
    """
    if model_path is None or not str(model_path).strip():
        return True
    shipped = builtin_model()
    if shipped is None:
        return False
    saved_model = shipped[0].resolve()
    given = Path(model_path).expanduser().resolve()
    return given in (saved_model, saved_model.parent, saved_model / 'saved_model.pb')


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
