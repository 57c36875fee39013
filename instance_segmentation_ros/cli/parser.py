"""The command line: argparse parser of every command, and the argument types."""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation

from ..core.image_files import IMAGE_EXTENSIONS
from .common import EXIT_USAGE, PROG
from .demo import run_demo
from .folder import run_folder
from .image import run_image
from .webcam import run_webcam
from .zoo import run_download_model, run_list_models


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the usage is one --help away)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


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
    folder.add_argument('--bag-compressed', action='store_true',
                        help='with --bag, write the image topic as /image/compressed '
                             '(sensor_msgs/CompressedImage): JPEG and PNG files as they are, '
                             'other formats as PNG, so the bag stays small')
    folder.add_argument('--bag-start', type=_seconds, metavar='SECONDS',
                        help='stamp of the first bag frame in seconds since the epoch '
                             '(default: the start of the run, whole seconds)')
    folder.add_argument('--depth-camera-info', metavar='YAML',
                        help="RGB-D folders: each image's NAME_depth.png (16-bit, millimetres, "
                             'aligned to it) gives every instance its 3D centroid, box, point '
                             'count and median depth in --json and the bag, using this '
                             'camera_calibration YAML of the depth image; the *_depth.png files '
                             'are not segmented')
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
                          help='zoo mirror to download from, https:// (default: '
                               '$INSTANCE_SEGMENTATION_ZOO_URL or https://download.tensorflow.'
                               'org/models/object_detection)')
    download.add_argument('--insecure', action='store_true',
                          help='allow a plain http:// mirror (--url-base or $INSTANCE_'
                               'SEGMENTATION_ZOO_URL), over which anyone on the way could swap '
                               'the archive')
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
    from ..core.postprocess import MAX_INSTANCES

    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_INSTANCES:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number from 1 to '
                                         f'{MAX_INSTANCES}')
    return int(text)
