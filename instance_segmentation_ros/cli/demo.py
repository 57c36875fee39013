"""The demo command: generated scenes with known answers, segmented and scored."""

from __future__ import annotations

from pathlib import Path

from .arguments import Command, add_model_options, positive_count
from .common import choose_model, load_segmenter, make_writable_folder
from .progress import Progress


def add_arguments(parser):
    """Where the scenes go, how many, their seed, and the model options."""
    parser.add_argument('--out', default='demo_output', metavar='OUT_DIR',
                        help='folder for images/, overlays/, annotations.json and results.json '
                             '(default: demo_output)')
    parser.add_argument('--count', type=positive_count, default=20, metavar='N',
                        help='number of scenes (default: 20)')
    parser.add_argument('--seed', type=int, default=None, metavar='S',
                        help='scene seed (default: the held-out seed no training used)')
    add_model_options(parser, default_score=0.3)


def run_demo(args) -> int:
    """Segment generated scenes with known answers and print how well the model did."""
    from ..demo.evaluation import HELD_OUT_SEED
    from ..demo.evaluation import run_demo as segment_and_score

    out_dir = Path(args.out)
    make_writable_folder(out_dir, 'the demo files')
    choice = choose_model(args)
    segmenter = load_segmenter(choice, verbose=args.verbose, own_scenes=True)
    progress = Progress(args.count)
    try:
        report = segment_and_score(
            segmenter, out_dir, args.count,
            HELD_OUT_SEED if args.seed is None else args.seed, choice.settings,
            progress=lambda name, found: progress.step(name, f'{found} instances'))
    finally:
        progress.close()
    print(f'mask AP {report.mask_ap:.3f}, AP50 {report.mask_ap50:.3f} on {report.images} '
          f'generated scenes ({report.instances} instances); inference '
          f'{report.inference_ms:.0f} ms per image')
    print(f'scenes in {out_dir / "images"}, overlays in {out_dir / "overlays"}, COCO files '
          f'{out_dir / "annotations.json"} and {out_dir / "results.json"}')
    return 0


COMMAND = Command(
    'demo', help='segment generated scenes with known answers and score the result',
    description='Generate held-out scenes of circles, squares and triangles, segment them '
                'with the built-in demo model (or --model), write the scenes and overlays '
                'to OUT_DIR and print COCO mask AP and AP50 against the exact ground '
                'truth. Overlays show detections from --score-threshold; AP counts every '
                'detection from 0.05, as COCO evaluations do. Runs offline, with nothing '
                'to download.',
    add_arguments=add_arguments, run=run_demo)
