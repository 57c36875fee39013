"""The bag command: a recorded bag in, the same bag with every frame's segmentation out.

Reads rosbag2 (sqlite3, mcap) and ROS 1 bags (`bag_reader`, cut-off ones too), segments every
message of the camera topics in log-time order, and writes a new rosbag2 bag (`bag_output`):
the input's messages unchanged (``--results-only``: none of them) and, per camera, the
node's outputs with the input's header at the input's log time, so that ``ros2 bag play``
replays images and results in step.

A broken message on a camera topic (bad encoding, wrong data size, corrupt JPEG) and the
messages of a topic whose type the bag does not define are counted and listed; the rest goes
on. Ctrl+C or SIGTERM stops after the current message: the output bag is closed, readable,
and says in its metadata how far the input was done, so that ``--resume`` continues it
without a gap or a duplicate (into a new copy that replaces it, so that the bag stays whole).

Here: the command's arguments and the runs it makes of them; `bag_plan` chooses the cameras,
`bag_run` is the loop over the messages, `bag_resume` continues an interrupted OUT and
`bag_summary` says what a run did.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .arguments import Command, add_model_options, positive_count
from .bag_frames import LocalFrames
from .bag_run import BagRun
from .common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    CliError,
    check_writable_file,
    choose_model,
    load_segmenter,
)

STORAGE_CHOICES = ('sqlite3', 'mcap')


def add_arguments(parser):
    """IN, OUT, what goes into OUT, and the model options."""
    parser.add_argument('in_bags', nargs='+', metavar='IN', help='rosbag2 folder (sqlite3 or '
                        'mcap) or ROS 1 .bag file; with several, each goes into OUT/<its name>')
    parser.add_argument('out_bag', metavar='OUT', help='new rosbag2 folder to write (with '
                        'several IN: a new folder of them)')
    parser.add_argument('--topics', action='append', default=[], metavar='TOPIC[,TOPIC...]',
                        help='the camera topics to segment (default: every sensor_msgs/Image '
                             'and CompressedImage topic that is not a segmentation output)')
    parser.add_argument('--storage', choices=STORAGE_CHOICES,
                        help="OUT's storage (default: IN's; mcap for a ROS 1 bag)")
    parser.add_argument('--results-only', action='store_true',
                        help="write only the results, not IN's messages")
    parser.add_argument('--overlay', action='store_true',
                        help='also write overlay and overlay/compressed per camera')
    parser.add_argument('--json', metavar='FILE',
                        help='write COCO results (pycocotools COCO.loadRes input) and, beside '
                             'it, FILE-stem.images.json with one image per frame')
    parser.add_argument('--depth-topic', metavar='TOPIC',
                        help='the depth image (16UC1 mm or 32FC1 m) aligned to the one camera '
                             'topic, with TOPIC/../camera_info beside it: its 3D outputs as the '
                             "node's depth.enabled gives them (default: found by the REP-118 "
                             'names beside each camera: <P>/aligned_depth_to_color/image_raw for '
                             '<P>/color/image_raw, <N>/depth/image for <N>/image)')
    parser.add_argument('--resume', action='store_true',
                        help='continue the OUT of an interrupted run (same IN and options; '
                             'with several IN, each OUT/<name> there, and start the others)')
    group = parser.add_argument_group('Ray cluster options (pip install instance_segmentation_ros'
                                      '[ray])')
    group.add_argument('--ray', nargs='?', const='', metavar='ADDRESS',
                       help="segment the frames on a Ray cluster: ADDRESS is the head's "
                            'host:port (default: RAY_ADDRESS, a cluster started on this machine, '
                            'else a new local one); give it after OUT, or as --ray=ADDRESS')
    group.add_argument('--ray-actors', type=positive_count, metavar='N',
                       help='actors, each holding one model (default: one per GPU of the '
                            'cluster, else one per --ray-actor-cpus CPUs)')
    group.add_argument('--ray-actor-cpus', type=positive_count, default=1, metavar='N',
                       help='CPUs per actor, and its TensorFlow threads where the cluster has '
                            'no GPU (default: 1)')
    add_model_options(parser)


def run_bag(args) -> int:
    """Segment every camera frame of one bag into a new bag, or of several into a folder."""
    from .bag_reader import BagReadError, open_bag
    from .bag_vision import NOT_INSTALLED, definitions
    from .bag_writer import BagWriterError

    if args.ray is not None:
        from .ray_runner import import_ray

        import_ray()  # said before anything is read or loaded
    jobs = bag_jobs(args)
    json_path = Path(args.json).expanduser() if args.json else None
    if json_path is not None:
        check_writable_file(json_path)
    choice = choose_model(args)
    vision_types = definitions()
    if vision_types is None:
        print(f'note: {NOT_INSTALLED}', file=sys.stderr)
    engine, failed = None, []
    try:
        for job in jobs:
            loading = False
            try:
                with open_bag(job.in_path) as opened:
                    run = BagRun.plan(args, opened, job.in_path, job.out_path, json_path,
                                      vision_types, job.resume)
                    if engine is None:
                        loading = True  # the model's failure is every bag's: it stops the run
                        engine = frame_engine(args, choice)
                        loading = False
                    run.frames = engine
                    run.execute()
            except (BagReadError, BagWriterError, CliError) as error:
                if len(jobs) == 1 or loading or getattr(error, 'status', 0) == EXIT_INTERRUPTED:
                    raise
                text = str(error)
                if str(job.in_path) not in text:
                    text = f'{job.in_path}: {text}'
                print(f'{PROG}: error: {text}', file=sys.stderr, flush=True)
                failed.append(str(job.in_path))
    except (BagReadError, BagWriterError) as error:
        raise CliError(str(error)) from None
    finally:
        if engine is not None:
            engine.close()
    if failed:
        raise CliError(f'{len(failed)} of {len(jobs)} bags failed ({", ".join(failed)}); the '
                       f'others were done')
    return 0


@dataclass(frozen=True)
class BagJob:
    """One input bag, the OUT it goes into, and whether that OUT is continued (--resume)."""

    in_path: Path
    out_path: Path
    resume: bool


def bag_jobs(args) -> list[BagJob]:
    """The job of each input: into OUT itself for one, into OUT/<name of IN> for several.

    With several, --resume continues each OUT/<name> that is there and starts the others, so
    that it finishes a run that was interrupted (or had failed bags) wherever it stopped.
    """
    ins = [Path(p).expanduser() for p in args.in_bags]
    out = Path(args.out_bag).expanduser()
    if args.ray and Path(args.ray).expanduser().exists():
        raise CliError(f'--ray took {args.ray} for its address: give --ray after OUT, or write '
                       f'--ray=ADDRESS', EXIT_USAGE)
    if len(ins) == 1:
        jobs = [BagJob(ins[0], out, args.resume)]
    else:
        if args.json:
            raise CliError('--json takes one IN: run the bags one at a time for it', EXIT_USAGE)
        names = [p.stem if p.suffix == '.bag' else p.name for p in ins]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise CliError(f'two IN bags are named {twice[0]}: each goes into OUT/<its name>, '
                           f'so rename one', EXIT_USAGE)
        if args.resume and not out.is_dir():
            raise CliError(f'--resume: {out} is not there to continue', EXIT_USAGE)
        if not args.resume and (out.exists() or out.is_symlink()):
            raise CliError(f'{out} exists already: choose a new folder')
        jobs = [BagJob(p, out / n, args.resume and (out / n).is_dir())
                for p, n in zip(ins, names, strict=True)]
    for job in jobs:
        if job.out_path.absolute() == job.in_path.absolute():
            raise CliError('OUT is IN: a bag is never overwritten; choose a new folder',
                           EXIT_USAGE)
        if job.resume and not job.out_path.is_dir():
            raise CliError(f'--resume: {job.out_path} is not there to continue', EXIT_USAGE)
        if not job.resume and (job.out_path.exists() or job.out_path.is_symlink()):
            raise CliError(f'{job.out_path} exists already: choose a new folder, or --resume it')
    if len(jobs) > 1:
        out.mkdir(parents=True, exist_ok=args.resume)
    return jobs


def frame_engine(args, choice):
    """Where the frames are segmented: in this process, or on a Ray cluster with --ray."""
    if args.ray is not None:
        from .ray_runner import RayFrames

        return RayFrames(args, choice)
    return LocalFrames(load_segmenter(choice, verbose=args.verbose), choice.settings,
                       args.overlay_alpha, args.overlay)


COMMAND = Command(
    'bag', help='segment every camera frame of a recorded bag into a new bag',
    description='Segment every frame of the image topics of IN (rosbag2 sqlite3 or mcap, or '
    'ROS 1) into OUT, a new rosbag2 with the messages of IN and, for each camera topic T, '
    "segmentation_node's outputs under <parent of T>/segmentation/ (masks, masks/compressed, "
    'detections_json; detections and label_info where vision_msgs is installed; overlay with '
    '--overlay; markers, points, detections_3d and the 3D of detections_json where the camera '
    'has aligned depth), stamped and logged as the input frame. '
    'Broken messages are listed at the end; Ctrl+C leaves a readable OUT that --resume '
    'continues. Several IN go into OUT/<name of IN> each; --ray segments the frames on a Ray '
    'cluster, with the same results.',
    add_arguments=add_arguments, run=run_bag)
