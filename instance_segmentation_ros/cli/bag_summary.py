"""The bag command's summary of a run, and its exit status."""

from __future__ import annotations

import sys
import time

from .coco_files import images_json_path
from .common import EXIT_INTERRUPTED, CliError


def report(run) -> int:
    """Print what a BagRun did; CliError when interrupted or when no frame could be segmented."""
    seconds = time.monotonic() - run.started
    rate = f', {run.segmented / seconds:.2f} frames/s' if seconds > 0 and run.segmented else ''
    for note in run.opened.notes:
        print(f'note: {note}', file=sys.stderr)
    print(f'segmented {run.segmented} frames of {len(run.cameras)} camera topic'
          f'{"" if len(run.cameras) == 1 else "s"} ({", ".join(run.cameras)}) in '
          f'{seconds:.1f} s{rate}; {run.frames_done} of {run.total_frames} frames done; '
          f'wrote {run.out_path} ({run.storage})')
    if run.json_path is not None and run.images:
        print(f'wrote {run.json_path} and {images_json_path(run.json_path)}')
    for topic, count in sorted(run.dropped.items()):
        print(f'left out {count} message{"" if count == 1 else "s"} of {topic}: '
              f'{run.left_out[topic]}', file=sys.stderr)
    if run.depth is not None:
        for line in run.depth.refusals():
            print(f'depth refused (no 3D) on {line}', file=sys.stderr)
    if run.broken:
        count = len(run.broken)
        print(f'could not segment {count} message{"" if count == 1 else "s"}:', file=sys.stderr)
        for where, reason in run.broken:
            print(f'  {where}: {reason}', file=sys.stderr)
    sys.stdout.flush()
    if run.interrupted:
        raise CliError(f'interrupted after {run.frames_done} of {run.total_frames} frames '
                       f'({run.out_path} is readable; --resume continues it)', EXIT_INTERRUPTED)
    if run.frames_done and not run.resume and len(run.broken) == run.frames_done:
        raise CliError(f'none of the {run.total_frames} camera frames could be segmented')
    return 0
