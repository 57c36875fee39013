"""The bag command's --resume: where an interrupted OUT stopped, and its continued copy.

An interrupted run's OUT says in its metadata how far the input was done. `--resume` copies
it into a new bag beside it (`continued_path`), continues there without a gap or a duplicate,
and then puts the copy where OUT was (`replace_with`), so that OUT stays whole throughout.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .coco_files import images_json_path
from .common import EXIT_USAGE, CliError


def continued_path(out_path: Path) -> Path:
    """The new bag a resumed run writes, empty (what a resume cut short left is deleted)."""
    target = out_path.with_name(out_path.name + '.resuming')
    shutil.rmtree(target, ignore_errors=True)
    return target


def continue_run(run, bag):
    """Copy the interrupted run's OUT into `bag`; `run` takes up its progress (a BagRun)."""
    from .bag_output import PROGRESS_KEY
    from .bag_reader import open_bag

    with open_bag(run.out_path) as previous:
        custom = previous.reader.readers[0].storage.metadata.custom or {}
        done = custom.get(f'{PROGRESS_KEY}.messages_done')
        if done is None:
            raise CliError(f'--resume: {run.out_path} was not written by the bag command',
                           EXIT_USAGE)
        if custom.get(f'{PROGRESS_KEY}.input') != str(run.in_path.absolute()):
            raise CliError(f'--resume: {run.out_path} was made from '
                           f'{custom.get(f"{PROGRESS_KEY}.input")}, not {run.in_path}',
                           EXIT_USAGE)
        run.storage = bag.storage = previous.storage
        run.messages_done = int(done)
        run.frames_done = int(custom.get(f'{PROGRESS_KEY}.frames_done', '0'))
        run.complete = custom.get(f'{PROGRESS_KEY}.complete') == 'true'
        if run.json_path is not None:
            run.results, run.images = _load_json(run.json_path, run.frames_done)
        bag.open()
        bag.copy_connections(previous.reader, previous.reader.connections)
        for connection, log_time, data in previous.reader.messages():
            bag.copy(connection, log_time, data)


def _load_json(json_path: Path, frames_done: int) -> tuple[list[dict], list[dict]]:
    """The --json results and images of the interrupted run, to be continued."""
    try:
        results = json.loads(json_path.read_text())
        images = json.loads(images_json_path(json_path).read_text())['images']
    except (OSError, ValueError, KeyError) as error:
        if frames_done:
            raise CliError(f"--resume --json: cannot read the interrupted run's "
                           f'{json_path}: {error}') from None
        return [], []
    return results, images


def replace_with(out_path: Path, continued: Path):
    """Put the continued copy where OUT was (a copy that was never closed is dropped)."""
    if not (continued / 'metadata.yaml').is_file():
        shutil.rmtree(continued, ignore_errors=True)
        return
    old = out_path.with_name(out_path.name + '.replaced')
    shutil.rmtree(old, ignore_errors=True)
    out_path.rename(old)
    continued.rename(out_path)
    shutil.rmtree(old, ignore_errors=True)
