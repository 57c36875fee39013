"""The image command: one image in, its overlay and a line per instance out."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .. import data_file
from ..core.image_files import decode_image, read_image
from .arguments import Command, add_model_options
from .common import (
    CliError,
    check_writable_file,
    choose_model,
    load_segmenter,
    open_viewer,
    write_image,
)

SAMPLE_IMAGE = 'sample.jpg'
"""Packaged default image of models other than the built-in one (of any with --sample): NASA's
photograph of astronaut Eileen Collins, as shipped by scikit-image (`skimage.data.astronaut`);
public domain, no known copyright restrictions."""

WINDOW_CHECK_MS = 100


def add_arguments(parser):
    """IMAGE or --sample, where the overlay goes, --show, and the model options."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument('image', nargs='?', metavar='IMAGE',
                       help='image file (default: with the built-in model, a generated scene '
                            'of circles, squares and triangles, written as '
                            'scene_segmented.png; with --model, a sample photo shipped with '
                            'the package)')
    which.add_argument('--sample', action='store_true',
                       help=f'segment the sample photo shipped with the package '
                            f'({SAMPLE_IMAGE}), with the built-in model too (written as '
                            f'{Path(SAMPLE_IMAGE).stem}_segmented.png)')
    parser.add_argument('-o', '--output', metavar='FILE',
                        help='overlay file to write (default: <stem>_segmented.png in the '
                             'current folder)')
    parser.add_argument('--show', action='store_true',
                        help='also show the original and the result in two windows (needs a '
                             "desktop; OpenCV's GUI or else tkinter); any key closes them")
    add_model_options(parser)


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
        bgr, name, stem = _default_image(args.model, args.sample)
    output = Path(args.output).expanduser() if args.output else Path(f'{stem}_segmented.png')
    _check_writable_image(output)
    viewer = open_viewer() if args.show else None
    choice = choose_model(args)
    segmenter = load_segmenter(choice, verbose=args.verbose,
                               own_scenes=not (args.image or args.sample))

    segmentation = segmenter.segment(bgr, choice.settings)
    overlay = segmenter.overlay(bgr, segmentation, args.overlay_alpha)
    problem = write_image(output, overlay)
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


def _default_image(model, sample: bool) -> tuple:
    """(BGR image, its name in the output, stem of the overlay file) when IMAGE is not given.

    The built-in model gets a generated scene of the kind it knows, named with what it holds
    so the result can be checked by eye; on a photo its first result would be nonsense. Any
    other model, and the built-in one with --sample, gets the sample photo.
    """
    from ..demo.evaluation import sample_scene
    from ..model.source import is_builtin_model

    if is_builtin_model(model) and not sample:
        scene = sample_scene()
        counts = Counter(instance.name for instance in scene.instances)
        truth = ', '.join(f'{count} {name}{"s" if count > 1 else ""}'
                          for name, count in sorted(counts.items()))
        return scene.bgr, f'generated scene ({truth})', 'scene'
    data = data_file(SAMPLE_IMAGE).read_bytes()
    return decode_image(data)[0], SAMPLE_IMAGE, Path(SAMPLE_IMAGE).stem


def _check_writable_image(output: Path):
    import cv2

    if not cv2.haveImageWriter(str(output)):
        kind = f'{output.suffix} files' if output.suffix else 'files without an extension'
        raise CliError(f'cannot write {output}: OpenCV writes no {kind} (use .png or .jpg)')
    check_writable_file(output)


def _describe(segmenter, segmentation) -> list[str]:
    instances = segmentation.instances
    lines = []
    for number in range(1, len(instances) + 1):
        x0, y0, x1, y1 = (round(float(v)) for v in instances.boxes[number - 1])
        name = segmenter.label_map.name(instances.classes[number - 1])
        lines.append(f'  {number:3d}  {name:<16} {instances.scores[number - 1]:5.1%}  '
                     f'box x {x0}-{x1}, y {y0}-{y1}  {int(instances.areas[number - 1])} px')
    return lines


def _show_until_closed(viewer, images: dict):
    """Show each image in its own window until a key is pressed or a window is closed."""
    with viewer:
        for title, image in images.items():
            viewer.show(title, image)
        print('press any key in a window to close', flush=True)
        while viewer.poll(WINDOW_CHECK_MS) is None:
            pass


COMMAND = Command(
    'image', help='segment one image and write the overlay',
    description='Segment one image, write the overlay and print one line per instance.',
    add_arguments=add_arguments, run=run_image)
