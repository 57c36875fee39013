"""instance-segmentation: the package's jobs without a ROS graph, on the node's own pipeline.

Subcommands (``instance-segmentation COMMAND --help`` for each):

- ``image [IMAGE] --model M``: segment one image (default: a generated scene of circles,
  squares and triangles for the built-in model, the packaged sample photo for any other) and
  write the overlay (default ``<stem>_segmented.png`` in the current folder); ``--sample``
  takes the sample photo with any model; ``--show`` opens the original and the result side by
  side.
- ``folder IN_DIR OUT_DIR --model M``: segment every image of a folder into overlays of the
  same names; ``--json`` COCO results, ``--bag`` a rosbag2 (mcap), ``--masks`` label PNGs
  (described in `cli.folder`).
- ``webcam --model M``: live window with the overlay and the measured frame rate, from a camera,
  a stream or a video file (``--output out.mp4`` writes a video file's overlays).
- ``demo``: segment generated scenes with known answers and print the COCO mask AP.
- ``list-models`` and ``download-model NAME``: the Mask R-CNN models of the TF1/TF2 zoos.

The model, post-processing, rendering and JSON come from `pipeline.Segmenter`, the same code
that `segmentation_node` runs. Every error ends the program with exit status 1 (2 for a bad
command line, 130 for Ctrl+C or SIGTERM) and one line on stderr saying what to fix; output
piped into a reader that stops early (`| head -1`) ends it quietly with status 141, as SIGPIPE
ends other programs. SIGTERM is
handled like Ctrl+C, so an interrupted ``folder`` run leaves complete outputs and a closed bag
(or none, and no output folder it made, when no frame was written yet) whenever it arrives.

Without ``--model`` (or with ``--model`` naming the built-in model's folder) the built-in demo
model runs; on any image but its own generated scenes its overlays carry a caption saying that
it knows only circles, squares and triangles, and stderr says so once.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback

from ..errors import InstanceSegmentationError
from .common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, PROG, CliError
from .parser import build_parser

EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # as a program that SIGPIPE ended


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
        status = args.run(args) or 0
        sys.stdout.flush()  # here, where a reader that has gone is met, rather than at exit
        return status
    except BrokenPipeError:  # `... | head -1`: the reader has all it wanted; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except CliError as error:
        return _fail(str(error), error.status)
    except KeyboardInterrupt:
        return _fail('interrupted', EXIT_INTERRUPTED)
    except InstanceSegmentationError as error:
        return _fail(str(error).splitlines()[0] if str(error) else type(error).__name__)
    except Exception as error:
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
