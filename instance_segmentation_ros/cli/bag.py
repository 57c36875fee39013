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
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .arguments import Command, add_model_options, positive_count
from .bag_frames import FrameJob, LocalFrames
from .coco_files import images_json_path, write_coco_files
from .common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CliError,
    check_writable_file,
    choose_model,
    load_segmenter,
)
from .progress import Progress
from .stop_request import StopRequest

if TYPE_CHECKING:  # imported where used: --help and usage errors load no TensorFlow
    from .bag_output import Camera, OutputBag

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
    parser.add_argument('--resume', action='store_true',
                        help='continue the OUT of an interrupted run (same IN and options)')
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
    from .bag_writer import BagWriterError

    if args.ray is not None:
        from .ray_runner import import_ray

        import_ray()  # said before anything is read or loaded
    jobs = bag_jobs(args)
    json_path = Path(args.json).expanduser() if args.json else None
    if json_path is not None:
        check_writable_file(json_path)
    choice = choose_model(args)
    engine = None
    try:
        for in_path, out_path in jobs:
            with open_bag(in_path) as opened:
                run = BagRun.plan(args, opened, in_path, out_path, json_path)
                if engine is None:
                    engine = frame_engine(args, choice)
                run.frames = engine
                run.execute()
        return 0
    except (BagReadError, BagWriterError) as error:
        raise CliError(str(error)) from None
    finally:
        if engine is not None:
            engine.close()


def bag_jobs(args) -> list[tuple[Path, Path]]:
    """(IN, OUT) for each input: OUT itself for one, OUT/<name of IN> for several."""
    ins = [Path(p).expanduser() for p in args.in_bags]
    out = Path(args.out_bag).expanduser()
    if args.ray and Path(args.ray).expanduser().exists():
        raise CliError(f'--ray took {args.ray} for its address: give --ray after OUT, or write '
                       f'--ray=ADDRESS', EXIT_USAGE)
    if len(ins) == 1:
        jobs = [(ins[0], out)]
    else:
        for option in ('resume', 'json'):
            if getattr(args, option):
                raise CliError(f'--{option} takes one IN: run the bags one at a time for it',
                               EXIT_USAGE)
        names = [p.stem if p.suffix == '.bag' else p.name for p in ins]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise CliError(f'two IN bags are named {twice[0]}: each goes into OUT/<its name>, '
                           f'so rename one', EXIT_USAGE)
        if out.exists() or out.is_symlink():
            raise CliError(f'{out} exists already: choose a new folder')
        jobs = [(p, out / n) for p, n in zip(ins, names, strict=True)]
    for in_path, out_path in jobs:
        if out_path.absolute() == in_path.absolute():
            raise CliError('OUT is IN: a bag is never overwritten; choose a new folder',
                           EXIT_USAGE)
        if args.resume and not out_path.is_dir():
            raise CliError(f'--resume: {out_path} is not there to continue', EXIT_USAGE)
        if not args.resume and (out_path.exists() or out_path.is_symlink()):
            raise CliError(f'{out_path} exists already: choose a new folder, or --resume it')
    if len(jobs) > 1:
        out.mkdir(parents=True)
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
    'detections_json; overlay with --overlay), stamped and logged as the input frame. '
    'Broken messages are listed at the end; Ctrl+C leaves a readable OUT that --resume '
    'continues. Several IN go into OUT/<name of IN> each; --ray segments the frames on a Ray '
    'cluster, with the same results.',
    add_arguments=add_arguments, run=run_bag)


@dataclass
class PendingMessage:
    """An input message read and not yet written; a camera frame's handle while it is segmented."""

    index: int  # in reading order
    connection: object
    log_time: int
    data: bytes
    camera: Camera | None  # None: a message to copy (or leave out), not to segment
    image_id: int = 0
    handle: object = None  # the engine's, for a frame being segmented
    broken: str = ''  # why a camera message could not be decoded
    header: tuple[int, int, str] = (0, 0, '')  # stamp sec, nanosec, frame_id
    size: tuple[int, int] = (0, 0)  # height, width


@dataclass
class BagRun:
    """One run: the input, the cameras, the output and what has been done so far."""

    opened: object  # bag_reader.OpenedBag
    in_path: Path
    out_path: Path
    storage: str
    cameras: dict[str, Camera]  # by input topic
    copied: list  # input connections copied into OUT
    left_out: dict[str, str]  # topic -> why its messages are not in OUT
    overlay_alpha: float
    overlay: bool
    json_path: Path | None
    resume: bool
    copy_inputs: bool  # not --results-only
    frames: object = None  # LocalFrames or ray_runner.RayFrames: where frames are segmented
    total_frames: int = 0
    frames_done: int = 0  # camera messages handled (segmented or broken), all runs
    messages_done: int = 0  # input messages handled, in reading order, all runs
    segmented: int = 0  # in this run
    broken: list[tuple[str, str]] = field(default_factory=list)  # (message, reason)
    dropped: Counter = field(default_factory=Counter)  # left-out topic -> messages
    results: list[dict] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    interrupted: bool = False
    complete: bool = False
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def plan(cls, args, opened, in_path: Path, out_path: Path, json_path: Path | None):
        """The cameras, copies and outputs of a run, checked before the model loads."""
        from .bag_output import CAMERA_TYPES, COMPRESSED_TYPE, Camera, is_result_topic

        reader = opened.reader
        types = {c.topic: c.msgtype for c in reader.connections}
        named = [t.strip() for entry in args.topics for t in entry.split(',') if t.strip()]
        for topic in named:
            if topic not in types:
                raise CliError(f'--topics: {topic} is not a topic of {in_path}', EXIT_USAGE)
            if types[topic] not in CAMERA_TYPES:
                raise CliError(f'--topics: {topic} is a {types[topic]}, not an Image or '
                               f'CompressedImage', EXIT_USAGE)
        if not named:
            named = [t for t, m in sorted(types.items())
                     if m in CAMERA_TYPES and not is_result_topic(t)]
            # image_transport records a raw topic and its /compressed twin: segment the raw one
            named = [t for t in named if not (types[t] == COMPRESSED_TYPE and t.endswith(
                '/compressed') and t[:-len('/compressed')] in named)]
        if not named:
            raise CliError(f'{in_path} has no sensor_msgs/Image or CompressedImage topic to '
                           f'segment')
        cameras = {t: Camera.of(t, types[t], args.overlay) for t in named}
        owners = {}
        for camera in cameras.values():
            for output in camera.outputs.values():
                if output in owners:
                    raise CliError(f'{owners[output]} and {camera.topic} would both write '
                                   f'{output}: segment one of them (--topics)', EXIT_USAGE)
                owners[output] = camera.topic
        left_out = {}
        for connection in reader.connections:
            if connection.topic in owners:
                left_out[connection.topic] = 'replaced by the new results'
            elif connection.msgtype not in reader.typestore.fielddefs:
                left_out[connection.topic] = (f'{connection.msgtype}: the bag holds no '
                                              f'definition of this type')
        copied = [] if args.results_only else [
            c for c in reader.connections if c.topic not in left_out]
        storage = args.storage or ('mcap' if opened.storage == 'ros1' else opened.storage)
        run = cls(opened, in_path, out_path, storage, cameras, copied, left_out,
                  args.overlay_alpha, args.overlay, json_path, args.resume,
                  not args.results_only)
        run.total_frames = sum(c.msgcount for c in reader.connections if c.topic in cameras)
        return run

    def execute(self) -> int:
        """Segment the frames into OUT (or a continued copy of it); the summary; the status."""
        from .bag_output import OutputBag

        target = self.out_path
        if self.resume:
            target = self.out_path.with_name(self.out_path.name + '.resuming')
            shutil.rmtree(target, ignore_errors=True)  # what a resume cut short left
        bag = OutputBag(target, self.storage)
        progress = None
        with StopRequest() as stop:
            try:
                if self.resume:
                    self._continue(bag)
                else:
                    bag.open()
                if not self.complete:
                    bag.copy_connections(self.opened.reader, self.copied)
                    progress = Progress(self.total_frames - self.frames_done)
                    self.started = time.monotonic()  # the rate is of segmenting, not loading
                    self._segment(bag, stop, progress)
            finally:
                stop.finish()
                if progress is not None:
                    progress.close()
                bag.progress = {'input': str(self.in_path.absolute()),
                                'messages_done': str(self.messages_done),
                                'frames_done': str(self.frames_done),
                                'complete': 'true' if self.complete else 'false'}
                bag.close()
                if self.resume:
                    self._replace_with(target)
                if self.json_path is not None and self.images:
                    write_coco_files(self.json_path, self.results, self.images,
                                     self.frames.segmenter)
        return self.report(bag)

    def _continue(self, bag: OutputBag):
        """Copy the interrupted run's OUT into `bag`; take up its count of input messages."""
        from .bag_output import PROGRESS_KEY
        from .bag_reader import open_bag

        with open_bag(self.out_path) as previous:
            custom = previous.reader.readers[0].storage.metadata.custom or {}
            done = custom.get(f'{PROGRESS_KEY}.messages_done')
            if done is None:
                raise CliError(f'--resume: {self.out_path} was not written by the bag command',
                               EXIT_USAGE)
            if custom.get(f'{PROGRESS_KEY}.input') != str(self.in_path.absolute()):
                raise CliError(f'--resume: {self.out_path} was made from '
                               f'{custom.get(f"{PROGRESS_KEY}.input")}, not {self.in_path}',
                               EXIT_USAGE)
            self.storage = bag.storage = previous.storage
            self.messages_done = int(done)
            self.frames_done = int(custom.get(f'{PROGRESS_KEY}.frames_done', '0'))
            self.complete = custom.get(f'{PROGRESS_KEY}.complete') == 'true'
            if self.json_path is not None:
                self._load_json()
            bag.open()
            bag.copy_connections(previous.reader, previous.reader.connections)
            for connection, log_time, data in previous.reader.messages():
                bag.copy(connection, log_time, data)

    def _load_json(self):
        """The --json files of the interrupted run, to be continued."""
        try:
            self.results = json.loads(self.json_path.read_text())
            self.images = json.loads(images_json_path(self.json_path).read_text())['images']
        except (OSError, ValueError, KeyError) as error:
            if self.frames_done:
                raise CliError(f"--resume --json: cannot read the interrupted run's "
                               f'{self.json_path}: {error}') from None

    def _replace_with(self, continued: Path):
        """Put the continued copy where OUT was."""
        if not (continued / 'metadata.yaml').is_file():
            shutil.rmtree(continued, ignore_errors=True)
            return
        old = self.out_path.with_name(self.out_path.name + '.replaced')
        shutil.rmtree(old, ignore_errors=True)
        self.out_path.rename(old)
        continued.rename(self.out_path)
        shutil.rmtree(old, ignore_errors=True)

    def _segment(self, bag: OutputBag, stop: StopRequest, progress: Progress):
        """Every input message from where the last run stopped, in log-time order.

        Camera frames are submitted up to the engine's window ahead; messages are written,
        and counted as done, strictly in input order, so that an interruption leaves OUT and
        its progress as a one-at-a-time run would.
        """
        reader = self.opened.reader
        pending: deque[PendingMessage] = deque()
        next_image_id = self.frames_done + 1
        try:
            for index, (connection, log_time, data) in enumerate(reader.messages()):
                if index < self.messages_done:
                    continue
                if stop.requested:
                    self.interrupted = True
                    break
                item = PendingMessage(index, connection, log_time, data,
                                      self.cameras.get(connection.topic))
                if item.camera is not None:
                    self._submit(item, next_image_id)
                    next_image_id += 1
                pending.append(item)
                self._flush(bag, stop, progress, pending, self.frames.window)
            self._flush(bag, stop, progress, pending, 0)
            self.complete = not self.interrupted
        except KeyboardInterrupt:
            self.interrupted = True

    def _submit(self, item: PendingMessage, image_id: int):
        """Decode a camera message and hand it to the engine, or note why it is broken."""
        from rosbags.highlevel import AnyReaderError

        from ..core.compressed import compressed_msg_to_bgr
        from ..core.image_conversion import ImageConversionError, image_msg_to_bgr
        from .bag_output import COMPRESSED_TYPE

        item.image_id = image_id
        try:
            message = self.opened.reader.deserialize(item.data, item.connection.msgtype)
            decode = compressed_msg_to_bgr if item.camera.msgtype == COMPRESSED_TYPE else (
                image_msg_to_bgr)
            bgr = decode(message)
        except (AnyReaderError, ImageConversionError) as error:
            item.broken = str(error).splitlines()[0] if str(error) else type(error).__name__
            return
        stamp = message.header.stamp
        item.header = (int(stamp.sec), int(stamp.nanosec), str(message.header.frame_id))
        item.size = bgr.shape[:2]
        item.handle = self.frames.submit(FrameJob(bgr, *item.header, image_id))

    def _flush(self, bag, stop, progress, pending: deque, keep: int):
        """Write the done messages at the head of `pending`, waiting while over `keep` frames."""
        while pending:
            head = pending[0]
            in_flight = sum(1 for item in pending if item.handle is not None)
            if head.handle is not None and in_flight <= keep and not self.frames.ready(
                    head.handle):
                return
            pending.popleft()
            self._write(bag, stop, progress, head)

    def _write(self, bag, stop, progress, item: PendingMessage):
        """Write one input message and, for a frame, its results (or count it as broken)."""
        connection, log_time, data, camera = (item.connection, item.log_time, item.data,
                                              item.camera)
        if camera is None:
            with stop.hold():
                if connection.topic in self.left_out:
                    self.dropped[connection.topic] += 1
                elif self.copy_inputs:
                    bag.copy(connection, log_time, data)
                self.messages_done = item.index + 1
            return
        name = f'{camera.topic} (frame {item.image_id})'
        if item.handle is None:
            with stop.hold():
                if self.copy_inputs:
                    bag.copy(connection, log_time, data)
                self.broken.append((f'{camera.topic} at log time {log_time}', item.broken))
                self.frames_done, self.messages_done = item.image_id, item.index + 1
            progress.skip(name, f'skipped ({item.broken})')
            return
        result = self.frames.result(item.handle)
        sec, nanosec, frame_id = item.header
        header = bag.header(sec, nanosec, frame_id)
        with stop.hold():  # the frame and all its results, or none of them
            if self.copy_inputs:
                bag.copy(connection, log_time, data)
            bag.write_frame(camera, log_time, header, result.label_image,
                            result.detections_json, result.overlay)
            if self.json_path is not None:
                self.results.extend(result.coco)
                height, width = item.size
                self.images.append({
                    'id': item.image_id, 'file_name': f'{camera.topic}@{log_time}',
                    'height': height, 'width': width, 'topic': camera.topic,
                    'log_time_ns': log_time, 'stamp': {'sec': sec, 'nanosec': nanosec}})
            self.frames_done, self.messages_done = item.image_id, item.index + 1
            self.segmented += 1
        count = result.instances
        progress.step(name, f'{count} instance{"" if count == 1 else "s"}, '
                            f'{result.inference_s * 1000:.0f} ms')

    def report(self, bag: OutputBag) -> int:
        """Print the summary; CliError when interrupted or when no frame could be segmented."""
        seconds = time.monotonic() - self.started
        rate = f', {self.segmented / seconds:.2f} frames/s' if seconds > 0 and (
            self.segmented) else ''
        for note in self.opened.notes:
            print(f'note: {note}', file=sys.stderr)
        print(f'segmented {self.segmented} frames of {len(self.cameras)} camera topic'
              f'{"" if len(self.cameras) == 1 else "s"} ({", ".join(self.cameras)}) in '
              f'{seconds:.1f} s{rate}; {self.frames_done} of {self.total_frames} frames done; '
              f'wrote {self.out_path} ({self.storage})')
        if self.json_path is not None and self.images:
            print(f'wrote {self.json_path} and {images_json_path(self.json_path)}')
        for topic, count in sorted(self.dropped.items()):
            print(f'left out {count} message{"" if count == 1 else "s"} of {topic}: '
                  f'{self.left_out[topic]}', file=sys.stderr)
        if self.broken:
            count = len(self.broken)
            print(f'could not segment {count} message{"" if count == 1 else "s"}:',
                  file=sys.stderr)
            for where, reason in self.broken:
                print(f'  {where}: {reason}', file=sys.stderr)
        sys.stdout.flush()
        if self.interrupted:
            raise CliError(f'interrupted after {self.frames_done} of {self.total_frames} frames '
                           f'({self.out_path} is readable; --resume continues it)',
                           EXIT_INTERRUPTED)
        if self.frames_done and not self.resume and len(self.broken) == self.frames_done:
            raise CliError(f'none of the {self.total_frames} camera frames could be segmented')
        return 0
