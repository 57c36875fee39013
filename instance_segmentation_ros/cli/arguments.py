"""What the commands share on the command line: the Command record, model options, value types."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class Command:
    """A subcommand: its name and --help texts, the arguments it declares, and what runs it."""

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def add_model_options(parser: argparse.ArgumentParser, default_score: float = 0.5):
    """The model and detection options that every segmenting command takes."""
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
    group.add_argument('--score-threshold', type=unit_float, default=default_score,
                       metavar='S',
                       help=f'minimum detection score, 0..1 (default: {default_score})')
    group.add_argument('--mask-threshold', type=unit_float, default=0.5, metavar='T',
                       help='mask probability above which a pixel belongs to the instance, '
                            '0..1 (default: 0.5)')
    group.add_argument('--max-detections', type=detection_count, default=100, metavar='N',
                       help='most instances per image, 1..255 (default: 100)')
    group.add_argument('--overlay-alpha', type=unit_float, default=0.5, metavar='A',
                       help='opacity of the mask colours, 0..1 (default: 0.5)')
    group.add_argument('--tf-device', default='auto', metavar='DEV',
                       help='TensorFlow device: auto, cpu or gpu:N (default: auto)')
    group.add_argument('--precision', choices=('auto', 'fp32', 'bf16'), default='fp32',
                       help='arithmetic on a CPU: bf16 (bfloat16) where the CPU has it natively '
                            '(avx512_bf16, amx_bf16), else fp32; auto: bf16 only where also '
                            'faster for the model at warm-up, which then takes longer '
                            '(default: fp32); GPUs keep their own')


def unit_float(text: str) -> float:
    """A number from 0 to 1: a score, a probability or an opacity."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'{text} is not between 0 and 1')
    return value


def epoch_seconds(text: str) -> str:
    """A time in seconds since the epoch, kept as written so that no digit is lost."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number of seconds') from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f'{text} is not a time since the epoch')
    return text


def positive_count(text: str) -> int:
    """A whole number above 0."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number above 0')
    return int(text)


def detection_count(text: str) -> int:
    """A number of instances per image, 1 to the most a label image can number."""
    from ..core.postprocess import MAX_INSTANCES

    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_INSTANCES:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number from 1 to '
                                         f'{MAX_INSTANCES}')
    return int(text)
