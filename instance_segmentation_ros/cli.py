"""instance-segmentation: the package's jobs without a ROS graph, on the node's own pipeline.

Subcommands (``instance-segmentation COMMAND --help`` for each):

- ``image [IMAGE] --model M``: segment one image (default: a generated scene of circles,
  squares and triangles for the built-in model, the packaged sample photo for any other) and
  write the overlay (default ``<stem>_segmented.png`` in the current folder); ``--show``
  opens the original and the result side by side.
- ``folder IN_DIR OUT_DIR --model M``: segment every image of a folder into overlays of the
  same names; ``--json`` COCO results, ``--bag`` a rosbag2 (mcap), ``--masks`` label PNGs.
- ``webcam --model M``: live window with the overlay and the measured frame rate, from a camera,
  a stream or a video file (``--output out.mp4`` writes a video file's overlays).
- ``list-models`` and ``download-model NAME``: the Mask R-CNN models of the TF1/TF2 zoos.

The model, post-processing, rendering and JSON come from `pipeline.Segmenter`, the same code
that `segmentation_node` runs. Every error ends the program with exit status 1 (2 for a bad
command line, 130 for Ctrl+C or SIGTERM) and one line on stderr saying what to fix. SIGTERM is
handled like Ctrl+C, so an interrupted ``folder`` run leaves complete outputs and a closed bag
(or none, when no frame was written yet) whenever it arrives.

Without ``--model`` (or with ``--model`` naming the built-in model's folder) the built-in demo
model runs; on any image but its own generated scenes its overlays carry a caption saying that
it knows only circles, squares and triangles, and stderr says so once.

Outputs of ``folder``:

- ``--json FILE``: a COCO results list (``COCO.loadRes`` input); each entry has ``image_id``
  (the image's 1-based position in the sorted file list), ``category_id``, ``score``,
  ``bbox`` [x, y, w, h], ``area`` and an RLE ``segmentation``. Beside it,
  ``<FILE stem>.images.json`` is a COCO dataset without annotations: ``images`` (id,
  file_name, height, width), ``categories`` (the label map), ``annotations`` [].
- ``--bag DIR``: frame i (0-based, in file order, unreadable files skipped) is stamped
  start + i seconds, start being the run's start time in whole seconds (``--bag-start``
  overrides it), frame_id ``camera`` (see `bag_writer`).
- ``--masks``: ``<stem>_masks.png`` per image, mono8: 0 background, k = instance k.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

from .image_files import IMAGE_EXTENSIONS, decode_image, image_names, read_image

PROG = 'instance-segmentation'
SAMPLE_IMAGE = 'sample.jpg'
"""Packaged default image of models other than the built-in one: NASA's photograph of
astronaut Eileen Collins, as shipped by scikit-image (`skimage.data.astronaut`); public
domain, no known copyright restrictions."""

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
WINDOW_CHECK_MS = 100


class CliError(Exception):
    """An error to report in one line, with the exit status to end with."""

    def __init__(self, message: str, status: int = EXIT_ERROR):
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the usage is one --help away)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    previous = _sigterm_as_interrupt()
    try:
        return args.run(args) or 0
    except CliError as error:
        return _fail(str(error), error.status)
    except KeyboardInterrupt:
        return _fail('interrupted', EXIT_INTERRUPTED)
    except Exception as error:
        from .bag_writer import BagWriterError
        from .labels import LabelMapError
        from .model import ModelError
        from .zoo import ZooError

        if isinstance(error, (ModelError, LabelMapError, ZooError, BagWriterError)):
            return _fail(str(error).splitlines()[0] if str(error) else type(error).__name__)
        if args.verbose:
            traceback.print_exc()
        first = (str(error).strip().splitlines() or [''])[0]
        return _fail(f'unexpected {type(error).__name__}: {first} (run with --verbose for the '
                     f'traceback)')
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _sigterm_as_interrupt():
    """Make SIGTERM raise KeyboardInterrupt like Ctrl+C; returns the previous handler.

    Without it SIGTERM kills the process at once, e.g. while the model loads, leaving a bag
    folder without its index and metadata.yaml. None when not in the main thread.
    """
    try:
        return signal.signal(signal.SIGTERM, signal.default_int_handler)
    except ValueError:  # not the main thread: signals are not ours to handle
        return None


def _fail(message: str, status: int = EXIT_ERROR) -> int:
    sys.stdout.flush()
    print(f'{PROG}: error: {message}', file=sys.stderr, flush=True)
    return status


# -- command line ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of all subcommands."""
    parser = _Parser(
        prog=PROG,
        description='Mask R-CNN instance segmentation without ROS: one image, a folder, a '
                    'webcam, and the TensorFlow zoo models. Same model loading, '
                    'post-processing and rendering as segmentation_node.',
        epilog=f'"{PROG} COMMAND --help" describes each command. --model takes a SavedModel '
               'folder, a frozen graph .pb, an unpacked zoo folder, or the name of a zoo model '
               'fetched with download-model.')
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='show TensorFlow log output and tracebacks of unexpected errors')
    commands = parser.add_subparsers(dest='command', title='commands', metavar='COMMAND')

    image = commands.add_parser(
        'image', help='segment one image and write the overlay',
        description='Segment one image, write the overlay and print one line per instance.')
    image.add_argument('image', nargs='?', metavar='IMAGE',
                       help='image file (default: with the built-in model, a generated scene '
                            'of circles, squares and triangles, written as '
                            'scene_segmented.png; with --model, a sample photo shipped with '
                            'the package)')
    image.add_argument('-o', '--output', metavar='FILE',
                       help='overlay file to write (default: <stem>_segmented.png in the '
                            'current folder)')
    image.add_argument('--show', action='store_true',
                       help='also show the original and the result in two windows (needs a '
                            "desktop; OpenCV's GUI or else tkinter); any key closes them")
    _add_model_options(image)
    image.set_defaults(run=run_image)

    folder = commands.add_parser(
        'folder', help='segment every image of a folder into another folder',
        description='Segment every image of IN_DIR (' + ', '.join(
            e[1:] for e in IMAGE_EXTENSIONS) + ', any case; in name order) into an overlay of '
        'the same name in OUT_DIR. Unreadable files are listed at the end; the exit status '
        'is 1 when no image could be processed.')
    folder.add_argument('in_dir', metavar='IN_DIR', help='folder of input images')
    folder.add_argument('out_dir', metavar='OUT_DIR',
                        help='folder for the overlays (created when missing)')
    folder.add_argument('--json', metavar='FILE',
                        help='write COCO results (pycocotools COCO.loadRes input) and, beside '
                             'it, FILE-stem.images.json with the image ids and file names')
    folder.add_argument('--bag', metavar='BAG_DIR',
                        help='write a rosbag2 (mcap) with /image, /segmentation/masks, '
                             '/segmentation/overlay and /segmentation/detections_json (the '
                             'topics of folder.launch.py record:=true), one frame per image, '
                             '1 s apart')
    folder.add_argument('--bag-start', type=_seconds, metavar='SECONDS',
                        help='stamp of the first bag frame in seconds since the epoch '
                             '(default: the start of the run, whole seconds)')
    folder.add_argument('--masks', action='store_true',
                        help='also write the instance label images as <stem>_masks.png '
                             '(mono8: 0 background, k = instance k)')
    _add_model_options(folder)
    folder.set_defaults(run=run_folder)

    webcam = commands.add_parser(
        'webcam', help='segment a camera or a video live in a window',
        description='Show the overlay of a camera, stream or video file with the measured '
                    'frame rate; q, Esc, closing the window or Ctrl+C quits. A video file is '
                    'played to its end (exit status 0, with a summary) and can be written '
                    'annotated with --output, without a window unless --show is given.')
    webcam.add_argument('--device', default='0', metavar='D',
                        help='camera index, device path, stream URL or video file (default: 0)')
    webcam.add_argument('-o', '--output', metavar='FILE',
                        help='write the annotated video of a video file (.mp4 or .avi, at the '
                             "file's own frame rate)")
    webcam.add_argument('--show', action='store_true',
                        help='with --output, also show the window')
    _add_model_options(webcam)
    webcam.set_defaults(run=run_webcam)

    demo = commands.add_parser(
        'demo', help='segment generated scenes with known answers and score the result',
        description='Generate held-out scenes of circles, squares and triangles, segment them '
                    'with the built-in demo model (or --model), write the scenes and overlays '
                    'to OUT_DIR and print COCO mask AP and AP50 against the exact ground '
                    'truth. Overlays show detections from --score-threshold; AP counts every '
                    'detection from 0.05, as COCO evaluations do. Runs offline, with nothing '
                    'to download.')
    demo.add_argument('--out', default='demo_output', metavar='OUT_DIR',
                      help='folder for images/, overlays/, annotations.json and results.json '
                           '(default: demo_output)')
    demo.add_argument('--count', type=_positive_count, default=20, metavar='N',
                      help='number of scenes (default: 20)')
    demo.add_argument('--seed', type=int, default=None, metavar='S',
                      help='scene seed (default: the held-out seed no training used)')
    _add_model_options(demo, default_score=0.3)
    demo.set_defaults(run=run_demo)

    list_models = commands.add_parser(
        'list-models', help='list the zoo Mask R-CNN models',
        description='List the Mask R-CNN models of the TF1 and TF2 detection model zoos, '
                    'their speed and COCO mAP as the zoo reports them, and which are '
                    'downloaded.')
    list_models.set_defaults(run=run_list_models)

    download = commands.add_parser(
        'download-model', help='download a zoo model and print its model path',
        description='Download, verify and unpack a zoo Mask R-CNN, then print the path to '
                    'pass as --model or model_path (the name works too, once downloaded). '
                    'Cache folder: $ROS_HOME/instance_segmentation_ros/models when ROS_HOME '
                    'is set, else ${XDG_CACHE_HOME:-~/.cache}/instance_segmentation_ros/'
                    'models. An interrupted download resumes when run again.')
    download.add_argument('name', metavar='NAME', help='model name (see list-models)')
    download.add_argument('--dir', metavar='DIR', help='folder to download into (default: the '
                                                       'cache folder)')
    download.add_argument('--url-base', metavar='URL',
                          help='zoo mirror to download from (default: $INSTANCE_SEGMENTATION_'
                               'ZOO_URL or https://download.tensorflow.org/models/'
                               'object_detection)')
    download.add_argument('--sha256', metavar='HEX',
                          help='expected sha256 of the archive (default: the one recorded at '
                               'the first download into the same folder)')
    download.set_defaults(run=run_download_model)
    return parser


def _add_model_options(parser: argparse.ArgumentParser, default_score: float = 0.5):
    group = parser.add_argument_group('model and detection options')
    group.add_argument('-m', '--model', metavar='MODEL',
                       help='SavedModel folder, frozen graph .pb, zoo model folder, or the name '
                            'of a downloaded zoo model (default: the built-in demo model of '
                            'circles, squares and triangles)')
    group.add_argument('--label-map', metavar='FILE',
                       help='.pbtxt label map or text file with one name per line (default: '
                            "COCO; the demo model's own labels for the demo model)")
    # One value per flag (repeat it, or separate with commas): a list-valued option before a
    # positional argument would take the image path for a class name.
    group.add_argument('--classes', action='append', default=[], metavar='CLASS[,CLASS...]',
                       help='only these classes, by name or id: --classes person,3 or '
                            '--classes person --classes 3; default: all')
    group.add_argument('--score-threshold', type=_unit_float, default=default_score,
                       metavar='S',
                       help=f'minimum detection score, 0..1 (default: {default_score})')
    group.add_argument('--mask-threshold', type=_unit_float, default=0.5, metavar='T',
                       help='mask probability above which a pixel belongs to the instance, '
                            '0..1 (default: 0.5)')
    group.add_argument('--max-detections', type=_detection_count, default=100, metavar='N',
                       help='most instances per image, 1..255 (default: 100)')
    group.add_argument('--overlay-alpha', type=_unit_float, default=0.5, metavar='A',
                       help='opacity of the mask colours, 0..1 (default: 0.5)')
    group.add_argument('--tf-device', default='auto', metavar='DEV',
                       help='TensorFlow device: auto, cpu or gpu:N (default: auto)')


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'{text} is not between 0 and 1')
    return value


def _seconds(text: str) -> str:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number of seconds') from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f'{text} is not a time since the epoch')
    return text


def _positive_count(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number above 0')
    return int(text)


def _detection_count(text: str) -> int:
    from .postprocess import MAX_INSTANCES

    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_INSTANCES:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number from 1 to '
                                         f'{MAX_INSTANCES}')
    return int(text)


# -- shared helpers ----------------------------------------------------------------------------

def _settings_and_labels(args):
    """Label map and post-processing settings: cheap checks before the model loads."""
    from .labels import load_label_map
    from .postprocess import PostprocessSettings

    args.model, args.label_map, args.builtin_model = _with_builtin_defaults(
        args.model, args.label_map)
    label_map = load_label_map(args.label_map)
    classes = [part for entry in args.classes for part in entry.split(',') if part.strip()]
    settings = PostprocessSettings(
        score_threshold=args.score_threshold, mask_threshold=args.mask_threshold,
        class_ids=label_map.resolve(classes), max_detections=args.max_detections)
    return label_map, settings


def _with_builtin_defaults(model, label_map):
    """No --model means the built-in demo model (and its labels); say so on stderr."""
    from .demo import DEMO_MODEL_NAME, with_builtin_defaults

    try:
        resolved, label_map, builtin = with_builtin_defaults(model, label_map)
    except FileNotFoundError as error:
        raise CliError(str(error)) from None
    if not (model or '').strip():
        print(f'{PROG}: no --model given: using the {DEMO_MODEL_NAME}', file=sys.stderr)
    return resolved, label_map, builtin


def _load_segmenter(args, label_map, own_scenes: bool = False):
    """The model in the shared pipeline.

    The built-in model on anything but its own generated scenes (`own_scenes`) captions its
    overlays and says so once: there its shape names on a photo would pass for results.
    """
    from .demo import BUILTIN_CAPTION
    from .model import SegmentationModel
    from .pipeline import Segmenter

    caption = BUILTIN_CAPTION if args.builtin_model and not own_scenes else ''
    if caption:
        print(f'{PROG}: the built-in demo model knows only circles, squares and triangles, so '
              f'its overlays say so; --model takes a Mask R-CNN for real photos (see '
              f'{PROG} list-models)', file=sys.stderr)
    with _native_stderr_hidden(not args.verbose):
        model = SegmentationModel(args.model, args.tf_device)
        model.warm_up(240, 320)  # TensorFlow's first-run notes go to the scratch file too
    return Segmenter(model, label_map, caption)


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


def _write_image(path: Path, image) -> str:
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
        return (error.strerror or str(error)).lower()
    return ''


def _open_viewer(check_only: bool = False):
    """Windows on this desktop, before the model loads; CliError saying why none can open.

    `check_only` checks just that a display is named, before other sources are opened.
    """
    from .viewer import ViewerError, open_viewer, require_display

    try:
        return require_display() if check_only else open_viewer()
    except ViewerError as error:
        raise CliError(str(error)) from None


def _describe(segmenter, segmentation) -> list[str]:
    instances = segmentation.instances
    lines = []
    for number in range(1, len(instances) + 1):
        x0, y0, x1, y1 = (round(float(v)) for v in instances.boxes[number - 1])
        name = segmenter.label_map.name(instances.classes[number - 1])
        lines.append(f'  {number:3d}  {name:<16} {instances.scores[number - 1]:5.1%}  '
                     f'box x {x0}-{x1}, y {y0}-{y1}  {int(instances.areas[number - 1])} px')
    return lines


# -- image -------------------------------------------------------------------------------------

def run_image(args) -> int:
    """Segment one image and write (and optionally show) the overlay."""
    if args.image:
        source = Path(args.image).expanduser()
        if not source.is_file():
            raise CliError(f'image {source} does not exist' if not source.exists()
                           else f'{source} is not a file')
        bgr, reason = read_image(source)
        if bgr is None:
            raise CliError(f'cannot read image {source}: {reason}')
        name, stem = source.name, source.stem
    else:
        bgr, name, stem = _default_image(args.model)
    output = Path(args.output).expanduser() if args.output else Path(f'{stem}_segmented.png')
    _check_writable_image(output)
    viewer = _open_viewer() if args.show else None
    label_map, settings = _settings_and_labels(args)
    segmenter = _load_segmenter(args, label_map, own_scenes=not args.image)

    segmentation = segmenter.segment(bgr, settings)
    overlay = segmenter.overlay(bgr, segmentation, args.overlay_alpha)
    problem = _write_image(output, overlay)
    if problem:
        raise CliError(f'cannot write {output}: {problem}')
    count = len(segmentation.instances)
    print(f'{name}: {count} instance{"" if count == 1 else "s"} '
          f'({segmentation.inference_s * 1000:.0f} ms, model {segmenter.model.name})')
    for line in _describe(segmenter, segmentation):
        print(line)
    print(f'wrote {output}', flush=True)
    if viewer is not None:
        _show_until_closed(viewer, {'original': bgr, 'segmented': overlay})
    return 0


def _default_image(model) -> tuple:
    """(BGR image, its name in the output, stem of the overlay file) when IMAGE is not given.

    The built-in model gets a generated scene of the kind it knows, named with what it holds
    so the result can be checked by eye; on a photo its first result would be nonsense. Any
    other model gets the sample photo.
    """
    from .demo import is_builtin_model, sample_scene

    if is_builtin_model(model):
        scene = sample_scene()
        counts = Counter(instance.name for instance in scene.instances)
        truth = ', '.join(f'{count} {name}{"s" if count > 1 else ""}'
                          for name, count in sorted(counts.items()))
        return scene.bgr, f'generated scene ({truth})', 'scene'
    data = resources.files(__package__).joinpath('data', SAMPLE_IMAGE).read_bytes()
    return decode_image(data)[0], SAMPLE_IMAGE, Path(SAMPLE_IMAGE).stem


def _check_writable_image(output: Path):
    import cv2

    if not cv2.haveImageWriter(str(output)):
        kind = f'{output.suffix} files' if output.suffix else 'files without an extension'
        raise CliError(f'cannot write {output}: OpenCV writes no {kind} (use .png or .jpg)')
    if not output.absolute().parent.is_dir():
        raise CliError(f'cannot write {output}: the folder {output.absolute().parent} does '
                       f'not exist')
    _check_writable_folder(output.absolute().parent, output.name)


def _make_writable_folder(folder: Path, what: str):
    """Create `folder` where needed, then check it as `_check_writable_folder` does."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CliError(f'cannot create {folder}: '
                       f'{(error.strerror or str(error)).lower()}') from None
    _check_writable_folder(folder, what)


def _check_writable_folder(folder: Path, what: str):
    """Fail now, not after the model has loaded, when no file can be created in `folder`."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CliError(f'cannot write {what} into {folder}: '
                       f'{(error.strerror or str(error)).lower()}') from None


def _show_until_closed(viewer, images: dict):
    """Show each image in its own window until a key is pressed or a window is closed."""
    with viewer:
        for title, image in images.items():
            viewer.show(title, image)
        print('press any key in a window to close', flush=True)
        while viewer.poll(WINDOW_CHECK_MS) is None:
            pass


# -- folder ------------------------------------------------------------------------------------

class _StopRequest:
    """First Ctrl+C (or SIGTERM): finish the current image, then stop; the second: stop now.

    "Now" waits for a `hold` block to end, so that one image's outputs (overlay, masks, JSON
    entries and the four bag messages of its frame) are all written or none is, and once
    `finish` is called (the bag is closed, the JSON files and the summary written) it never
    comes.
    """

    def __init__(self):
        self.requested = False
        self._previous = {}
        self._holding = False
        self._held = False

    def __enter__(self):
        for number in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[number] = signal.signal(number, self._handle)
            except ValueError:  # not the main thread: leave the default behaviour
                pass
        return self

    def __exit__(self, *exc_info):
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        return False

    @contextmanager
    def hold(self):
        """Delay the KeyboardInterrupt of a second signal until the block is done."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._held:
            raise KeyboardInterrupt

    def finish(self):
        """From now on signals are ignored: the run closes its outputs and writes its summary."""
        self._holding = True

    def _handle(self, number, frame):
        if self.requested:
            if self._holding:
                self._held = True
                return
            raise KeyboardInterrupt
        self.requested = True
        print(f'\n{PROG}: stopping after the current image (Ctrl+C again to stop at once)',
              file=sys.stderr, flush=True)


class _Progress:
    """A tqdm bar (rate and ETA) on a terminal, one log line per image otherwise."""

    def __init__(self, total: int, stream=None):
        self.total = total
        self.count = 0
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.bar = None
        if _is_terminal(self.stream):
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit='img', file=self.stream, dynamic_ncols=True)

    def step(self, name: str, text: str):
        self.count += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f'{name}: {text}', refresh=False)
            self.bar.update(1)
            return
        elapsed = time.monotonic() - self.started
        rate = self.count / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.count) / rate if rate > 0 else 0.0
        print(f'[{self.count}/{self.total}] {name}: {text} ({rate:.2f} img/s, ETA '
              f'{eta:.0f} s)', file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _image_files(in_dir: Path) -> list[Path]:
    if not in_dir.exists():
        raise CliError(f'input folder {in_dir} does not exist')
    if not in_dir.is_dir():
        raise CliError(f'{in_dir} is not a folder: give a folder of images (or use the image '
                       f'command for one file)')
    try:
        files = [in_dir / name for name in image_names(in_dir)]
    except OSError as error:
        raise CliError(f'cannot list {in_dir}: {(error.strerror or str(error)).lower()}') from None
    if not files:
        raise CliError(f'no images in {in_dir} (looked for '
                       f'{", ".join(IMAGE_EXTENSIONS)}, any case)')
    return files


def _mask_names(files: list[Path]) -> dict[Path, str]:
    """`<stem>_masks.png` per file; `<name>_masks.png` where two files share a stem."""
    stems = [p.stem for p in files]
    return {p: f'{p.stem if stems.count(p.stem) == 1 else p.name}_masks.png' for p in files}


def run_folder(args) -> int:
    """Segment every image of a folder; optional COCO JSON, rosbag2 and label PNGs."""
    from .bag_writer import SegmentationBag

    in_dir = Path(args.in_dir).expanduser()
    out_dir = Path(args.out_dir).expanduser()
    files = _image_files(in_dir)
    if out_dir.exists() and out_dir.resolve() == in_dir.resolve():
        raise CliError('OUT_DIR is IN_DIR: the overlays would replace the originals; choose '
                       'another output folder')
    json_path = Path(args.json).expanduser() if args.json else None
    if json_path is not None:
        if not json_path.absolute().parent.is_dir():
            raise CliError(f'cannot write {json_path}: the folder {json_path.absolute().parent} '
                           f'does not exist')
        _check_writable_folder(json_path.absolute().parent, json_path.name)
    label_map, settings = _settings_and_labels(args)
    start_ns = int(time.time()) * 1_000_000_000 if args.bag_start is None else int(
        Decimal(args.bag_start) * 1_000_000_000)
    bag = SegmentationBag(args.bag).open() if args.bag else None
    try:
        _make_writable_folder(out_dir, 'overlays')
        segmenter = _load_segmenter(args, label_map)
        summary = _segment_files(args, segmenter, settings, files, out_dir, json_path, bag,
                                 start_ns)
    finally:
        if bag is not None:
            if bag.frames:
                bag.close()
            else:
                bag.discard()
    return summary


def _segment_files(args, segmenter, settings, files, out_dir, json_path, bag, start_ns) -> int:
    from .bag_writer import stamp_parts

    mask_names = _mask_names(files)
    results, images, unreadable = [], [], []
    started = time.monotonic()
    progress = _Progress(len(files))
    interrupted = False
    with _StopRequest() as stop:
        try:
            for image_id, path in enumerate(files, start=1):
                if stop.requested:
                    interrupted = True
                    break
                bgr, reason = read_image(path)
                if bgr is None:
                    unreadable.append((path.name, reason))
                    progress.step(path.name, f'skipped ({reason})')
                    continue
                segmentation = segmenter.segment(bgr, settings)
                overlay = segmenter.overlay(bgr, segmentation, args.overlay_alpha)
                with stop.hold():  # all of this image's outputs, or none of them
                    problem = _write_image(out_dir / path.name, overlay)
                    if problem:
                        raise CliError(f'cannot write {out_dir / path.name}: {problem}')
                    label_image = segmentation.instances.label_image
                    if args.masks:
                        masks_path = out_dir / mask_names[path]
                        problem = _write_image(masks_path, label_image)
                        if problem:
                            raise CliError(f'cannot write {masks_path}: {problem}')
                    if json_path is not None:
                        results.extend(segmenter.coco(segmentation, image_id))
                    height, width = bgr.shape[:2]
                    images.append({'id': image_id, 'file_name': path.name, 'height': height,
                                   'width': width})
                    if bag is not None:
                        stamp_ns = start_ns + bag.frames * 1_000_000_000
                        sec, nanosec = stamp_parts(stamp_ns)
                        bag.write_frame(stamp_ns, bgr, label_image, overlay,
                                        segmenter.frame_json(segmentation, sec, nanosec,
                                                             bag.frame_id))
                count = len(segmentation.instances)
                progress.step(path.name, f'{count} instance{"" if count == 1 else "s"}, '
                                         f'{segmentation.inference_s * 1000:.0f} ms')
        except KeyboardInterrupt:
            interrupted = True
        finally:
            stop.finish()
            progress.close()
            if bag is not None and bag.frames:
                bag.close()  # here, where no signal interrupts it (run_folder's is a fallback)
            if json_path is not None and images:
                _write_json(json_path, results, images, segmenter)
        return _report(len(files), images, unreadable, out_dir, json_path, bag,
                       time.monotonic() - started, interrupted)


def _write_json(json_path: Path, results: list, images: list, segmenter):
    names = segmenter.label_map.names
    dataset = {
        'info': {'description': f'images segmented by {PROG} with model '
                                f'{segmenter.model.name}'},
        'images': images,
        'categories': [{'id': class_id, 'name': names[class_id]} for class_id in sorted(names)],
        'annotations': [],
    }
    images_path = images_json_path(json_path)
    try:
        json_path.write_text(json.dumps(results, separators=(',', ':')) + '\n')
        images_path.write_text(json.dumps(dataset, indent=1) + '\n')
    except OSError as error:
        # Checked before the run, so the place went away meanwhile: keep the results anyway.
        kept = Path(tempfile.mkdtemp(prefix='instance_segmentation_results_'))
        (kept / json_path.name).write_text(json.dumps(results, separators=(',', ':')) + '\n')
        (kept / images_path.name).write_text(json.dumps(dataset, indent=1) + '\n')
        raise CliError(f'cannot write {json_path}: {(error.strerror or str(error)).lower()}; '
                       f'the results are in {kept / json_path.name}') from None


def images_json_path(json_path: Path) -> Path:
    """The image list written beside a results file: `results.json` -> `results.images.json`."""
    return json_path.with_name(f'{json_path.stem}.images.json')


def _report(total, images, unreadable, out_dir, json_path, bag, seconds, interrupted) -> int:
    done = len(images)
    rate = f', {done / seconds:.2f} images/s' if seconds > 0 and done else ''
    print(f'segmented {done} of {total} images in {seconds:.1f} s{rate}; overlays in {out_dir}')
    if done and json_path is not None:
        print(f'wrote {json_path} and {images_json_path(json_path)}')
    if bag is not None and bag.frames:
        print(f'wrote {bag.path} ({bag.frames} frames)')
    if unreadable:
        print(f'could not read {len(unreadable)} file{"" if len(unreadable) == 1 else "s"}:',
              file=sys.stderr)
        for name, reason in unreadable:
            print(f'  {name}: {reason}', file=sys.stderr)
    sys.stdout.flush()
    if interrupted:
        raise CliError(f'interrupted after {done} of {total} images (what was written is '
                       f'complete)', EXIT_INTERRUPTED)
    if not done:
        raise CliError(f'none of the {total} image files in the input folder could be read')
    return 0


# -- webcam ------------------------------------------------------------------------------------

def run_demo(args) -> int:
    """Segment generated scenes with known answers and print how well the model did."""
    from .demo import HELD_OUT_SEED
    from .demo import run_demo as segment_and_score

    out_dir = Path(args.out)
    _make_writable_folder(out_dir, 'the demo files')
    label_map, settings = _settings_and_labels(args)
    segmenter = _load_segmenter(args, label_map, own_scenes=True)
    progress = _Progress(args.count)
    try:
        report = segment_and_score(
            segmenter, out_dir, args.count,
            HELD_OUT_SEED if args.seed is None else args.seed, settings,
            progress=lambda name, found: progress.step(name, f'{found} instances'))
    finally:
        progress.close()
    print(f'mask AP {report.mask_ap:.3f}, AP50 {report.mask_ap50:.3f} on {report.images} '
          f'generated scenes ({report.instances} instances); inference '
          f'{report.inference_ms:.0f} ms per image')
    print(f'scenes in {out_dir / "images"}, overlays in {out_dir / "overlays"}, COCO files '
          f'{out_dir / "annotations.json"} and {out_dir / "results.json"}')
    return 0


def run_webcam(args) -> int:
    """Segment a camera or a video in a window; a video file may also be written annotated."""
    from .video_source import SourceError, is_live, open_capture, parse_device, quiet_opencv

    kind, target = parse_device(args.device)
    output = Path(args.output).expanduser() if args.output else None
    if output is not None:
        _check_writable_video(output)
    show = args.show or output is None
    if show:
        _open_viewer(check_only=True)
    label_map, settings = _settings_and_labels(args)
    quiet_opencv()
    try:
        capture = open_capture(kind, target)
    except SourceError as error:
        hint = (' (is a camera connected, and is /dev/video* readable?)' if kind == 'camera'
                else '')
        what = {'camera': 'camera', 'file': 'video file', 'stream': 'stream'}[kind]
        raise CliError(f'cannot open {what} {args.device}: {str(error).lower()}{hint}') from None
    live = is_live(kind, capture)
    viewer = None
    try:
        if live and output is not None:
            raise CliError(f'--output needs a video file as --device: {args.device} is live, '
                           'so its frames have no fixed rate to write them at')
        viewer = _open_viewer() if show else None
        segmenter = _load_segmenter(args, label_map)
        run = _VideoRun(args.device, live, output, capture)
        run.play(segmenter, settings, args.overlay_alpha, viewer)
    finally:
        capture.release()
        if viewer is not None:
            viewer.close()
    print(run.summary(), flush=True)
    return EXIT_INTERRUPTED if run.interrupted and not live else 0


VIDEO_CODECS = {'.mp4': 'mp4v', '.avi': 'MJPG'}
"""Container suffix -> FourCC that OpenCV's wheels write without extra codecs."""


def _check_writable_video(output: Path):
    """Fail before the model loads when `output` cannot be written as a video."""
    if output.suffix.lower() not in VIDEO_CODECS:
        raise CliError(f'cannot write {output}: videos are written as '
                       f'{" or ".join(VIDEO_CODECS)} files')
    folder = output.absolute().parent
    if not folder.is_dir():
        raise CliError(f'cannot write {output}: the folder {folder} does not exist')
    _check_writable_folder(folder, output.name)


class _VideoRun:
    """Frames in, overlays out to a window and/or a video file, and the figures of a summary.

    A live source that delivers no frame for LIVE_FAILURES reads in a row has failed; the end
    of a file is the normal end.
    """

    LIVE_FAILURES = 30

    def __init__(self, device: str, live: bool, output: Path | None, capture):
        import cv2

        self.device, self.live, self.output, self.capture = device, live, output, capture
        self.frames = self.instances = 0
        self.inference_s = 0.0
        self.started = time.monotonic()
        self.interrupted = self.quit = False
        rate = capture.get(cv2.CAP_PROP_FPS)
        self.file_fps = rate if 0 < rate <= 1000 else 30.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.total = total if not live and total > 0 else None

    def play(self, segmenter, settings, alpha: float, viewer):
        from .viewer import CLOSED, ESCAPE

        window = f'{PROG} webcam (q quits)'
        progress = (_Progress(self.total) if viewer is None and self.total
                    and _is_terminal(sys.stderr) else None)
        writer, fps, last, failures = None, 0.0, None, 0
        try:
            while True:
                ok, frame = self.capture.read()
                if not ok or frame is None:
                    if not self.live:
                        break
                    failures += 1
                    if failures >= self.LIVE_FAILURES:
                        raise CliError(f'camera {self.device} stopped delivering images')
                    time.sleep(0.01)
                    continue
                failures = 0
                segmentation = segmenter.segment(frame, settings)
                overlay = segmenter.overlay(frame, segmentation, alpha)
                self.frames += 1
                self.instances += len(segmentation.instances)
                self.inference_s += segmentation.inference_s
                if self.output is not None:
                    writer = writer or self._open_writer(overlay.shape)
                    writer.write(overlay)
                if progress is not None:
                    progress.step(f'frame {self.frames}',
                                  f'{len(segmentation.instances)} instances')
                if viewer is None:
                    continue
                now = time.monotonic()
                if last is not None:
                    instant = 1.0 / max(now - last, 1e-6)
                    fps = instant if fps == 0.0 else 0.9 * fps + 0.1 * instant
                last = now
                _draw_fps(overlay, fps, segmentation.inference_s)
                viewer.show(window, overlay)
                if viewer.poll(1) in ('q', 'Q', ESCAPE, CLOSED):
                    self.quit = True
                    break
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            if progress is not None:
                progress.close()
            if writer is not None:
                writer.release()
        if self.frames == 0 and not self.live and not self.interrupted:
            raise CliError(f'no frame could be read from {self.device}')

    def _open_writer(self, shape):
        import cv2

        height, width = shape[:2]
        fourcc = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.output.suffix.lower()])
        writer = cv2.VideoWriter(str(self.output), fourcc, self.file_fps, (width, height))
        if not writer.isOpened():
            raise CliError(f'cannot write {self.output}: OpenCV cannot open a '
                           f'{self.output.suffix} video writer')
        return writer

    def summary(self) -> str:
        """One line: how it ended, frames, instances, rates, and the video written."""
        seconds = max(time.monotonic() - self.started, 1e-6)
        ending = ('interrupted' if self.interrupted else 'stopped' if self.quit or self.live
                  else 'end of file')
        frames = self.frames
        text = (f'{self.device}: {ending} after {frames} frame{"" if frames == 1 else "s"}, '
                f'{self.instances} instances, {frames / seconds:.1f} FPS, inference '
                f'{1000 * self.inference_s / max(frames, 1):.0f} ms per frame')
        if self.output is not None and frames:
            text += f'; wrote {self.output}'
        return text


def _draw_fps(image, fps: float, inference_s: float):
    import cv2

    text = f'{fps:.1f} FPS  inference {inference_s * 1000:.0f} ms'
    for colour, thickness in (((0, 0, 0), 4), ((255, 255, 255), 1)):
        cv2.putText(image, text, (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.7, colour, thickness,
                    cv2.LINE_AA)


# -- zoo ---------------------------------------------------------------------------------------

def run_list_models(args) -> int:
    """Print the catalogue of zoo Mask R-CNN models."""
    from . import zoo

    print(f'{"name":<54} {"zoo":<4} {"speed":>7} {"box mAP":>8} {"mask mAP":>9}  downloaded')
    for model in zoo.CATALOGUE.values():
        mask = f'{model.mask_map:.1f}' if model.mask_map is not None else '-'
        path = zoo.downloaded_model(model.name)
        print(f'{model.name:<54} {model.family:<4} {model.speed_ms:>4} ms {model.box_map:>8.1f} '
              f'{mask:>9}  {"yes" if path else "no"}')
    print('\nSpeed and COCO mAP as the zoos report them (TF1: GTX TITAN X, 600x600 images; '
          'TF2: 1024x1024 images).')
    print(f'Models are downloaded into {zoo.cache_dir()};')
    print('once downloaded, a NAME works wherever a model path does (--model, model_path).')
    return 0


def run_download_model(args) -> int:
    """Download a zoo model and print the path to use as model_path."""
    from . import zoo

    zoo.lookup(args.name)  # unknown names fail before any network access
    reporter = _ByteProgress(args.name)
    try:
        path = zoo.download(args.name, directory=args.dir, url_base=args.url_base,
                            sha256=args.sha256, progress=reporter.update, log=reporter.log)
    finally:
        reporter.close()
    print(path.resolve())
    return 0


class _ByteProgress:
    """Download progress: a tqdm bar on a terminal, a line per 10 % (or 10 MB) otherwise.

    `next_step` is the next percentage (or byte count when the size is unknown) to report.
    """

    def __init__(self, name: str, stream=None):
        self.name = name
        self.stream = stream or sys.stderr
        self.tty = _is_terminal(self.stream)
        self.bar = None
        self.next_step = 0
        self.last = 0

    def update(self, done: int, total: int | None):
        if done < self.last:  # the download restarted from the beginning
            self.next_step = 0
        self.last = done
        if self.tty:
            if self.bar is None or self.bar.total != total:
                self._new_bar(done, total)
            self.bar.update(done - self.bar.n)
            return
        if total:
            percent = done * 100 // total
            if percent < self.next_step:
                return
            print(f'{self.name}: {percent:3d}% of {total / 1e6:.1f} MB', file=self.stream,
                  flush=True)
            self.next_step = (percent // 10 + 1) * 10
        elif done >= self.next_step:
            print(f'{self.name}: {done / 1e6:.1f} MB', file=self.stream, flush=True)
            self.next_step = done + 10_000_000

    def _new_bar(self, done: int, total: int | None):
        from tqdm import tqdm

        if self.bar is not None:
            self.bar.close()
        self.bar = tqdm(total=total, initial=done, unit='B', unit_scale=True,
                        unit_divisor=1024, desc=self.name, file=self.stream,
                        dynamic_ncols=True)

    def log(self, message: str):
        if self.bar is not None:
            self.bar.write(f'{self.name}: {message}', file=self.stream)
        else:
            print(f'{self.name}: {message}', file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


if __name__ == '__main__':
    sys.exit(main())
