"""What the commands share: errors and exit statuses, model loading, output checks."""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InstanceSegmentationError, describe_os_error

if TYPE_CHECKING:  # imported where used: --help and usage errors load no TensorFlow
    from ..core.detections import PostprocessSettings
    from ..model.segmenter import ModelChoice

PROG = 'instance-segmentation'
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(InstanceSegmentationError):
    """An error to report in one line, with the exit status to end with."""

    def __init__(self, message: str, status: int = EXIT_ERROR):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ModelOptions:
    """The model options resolved: what `load_segmenter` loads, and how results are filtered."""

    model: ModelChoice  # the built-in model when no --model was given
    model_given: bool
    tf_device: str
    precision: str
    settings: PostprocessSettings


def choose_model(args) -> ModelOptions:
    """The model, labels and settings the options name: cheap checks before the model loads."""
    from ..core.detections import PostprocessSettings
    from ..model import segmenter

    model = segmenter.choose_model(args.model, args.label_map)
    classes = [part for entry in args.classes for part in entry.split(',') if part.strip()]
    settings = PostprocessSettings(
        score_threshold=args.score_threshold, mask_threshold=args.mask_threshold,
        class_ids=model.label_map.resolve(classes), max_detections=args.max_detections)
    return ModelOptions(model, bool((args.model or '').strip()), args.tf_device, args.precision,
                        settings)


def load_segmenter(options: ModelOptions, *, verbose: bool, own_scenes: bool = False):
    """The model in the shared pipeline; TensorFlow's native log only when `verbose`.

    The built-in model says so in one stderr line: on anything but its own generated scenes
    (`own_scenes`) its overlays carry a caption, since there its shape names on a photo would
    pass for results. The precision in effect is said where it is bfloat16 or --precision bf16
    asked for it (or with `verbose`): fp32 is what a run always was.
    """
    from ..model import segmenter

    notice = _builtin_model_notice(options, own_scenes)
    if notice:
        print(f'{PROG}: {notice}', file=sys.stderr)
    with _native_stderr_hidden(not verbose):
        loaded = segmenter.load_segmenter(options.model, device=options.tf_device,
                                          own_scenes=own_scenes, precision=options.precision)
        loaded.model.warm_up(240, 320)  # TensorFlow's first-run notes go to the scratch file too
    if verbose or loaded.model.bfloat16 or options.precision == 'bf16':
        print(f'{PROG}: {loaded.model.precision_note}', file=sys.stderr)
    return loaded


def _builtin_model_notice(options: ModelOptions, own_scenes: bool) -> str:
    """The one line that says the built-in model is in use, and why it matters, or ''."""
    from ..model.source import DEMO_MODEL_NAME

    given = '' if options.model_given else 'no --model given: '
    if options.model.caption(own_scenes):
        return (f'{given}the built-in demo model knows only circles, squares and triangles, so '
                f'its overlays say so; --model takes a Mask R-CNN for real photos (see {PROG} '
                f'list-models)')
    if options.model.resolved.builtin and given:
        return f'{given}using the {DEMO_MODEL_NAME}'
    return ''


@contextmanager
def _native_stderr_hidden(hide: bool = True):
    """Send what native libraries write to file descriptor 2 to a scratch file meanwhile.

    TensorFlow writes start-up notes (oneDNN, CPU features) there that TF_CPP_MIN_LOG_LEVEL
    does not silence; the command's own errors are printed after this block.
    """
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    if not hide:
        yield
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def write_image(path: Path, image) -> str:
    """Write an image; returns '' or the reason it failed."""
    import cv2

    try:
        ok, encoded = cv2.imencode(path.suffix or '.png', image)
    except cv2.error:
        return f'OpenCV cannot write {path.suffix or "extensionless"} files'
    if not ok:
        return f'OpenCV cannot encode {path.suffix} files'
    try:
        path.write_bytes(encoded.tobytes())
    except OSError as error:
        return describe_os_error(error)
    return ''


def open_viewer(check_only: bool = False):
    """Windows on this desktop, before the model loads; CliError saying why none can open.

    `check_only` checks just that a display is named, before other sources are opened.
    """
    from . import viewer

    try:
        return viewer.require_display() if check_only else viewer.open_viewer()
    except viewer.ViewerError as error:
        raise CliError(str(error)) from None


def make_writable_folder(folder: Path, what: str):
    """Create `folder` where needed, then check it as `check_writable_folder` does."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CliError(f'cannot create {folder}: {describe_os_error(error)}') from None
    check_writable_folder(folder, what)


@contextmanager
def output_folder(folder: Path, what: str):
    """`make_writable_folder` for the length of the block; the folders it made go if left empty.

    A run stopped or failed before its first output (Ctrl+C while the model loads) leaves no
    empty folder behind; one that was there before stays.
    """
    made = [path for path in (folder, *folder.parents) if not path.exists()]  # deepest first
    make_writable_folder(folder, what)
    try:
        yield folder
    finally:
        for path in made:
            try:
                path.rmdir()
            except OSError:  # not empty
                break


def check_writable_folder(folder: Path, what: str):
    """Fail now, not after the model has loaded, when no file can be created in `folder`."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CliError(f'cannot write {what} into {folder}: {describe_os_error(error)}') from None


def check_writable_file(path: Path):
    """Fail now, not after the model has loaded, when `path` cannot be created."""
    folder = path.absolute().parent
    if not folder.is_dir():
        raise CliError(f'cannot write {path}: the folder {folder} does not exist')
    check_writable_folder(folder, path.name)
