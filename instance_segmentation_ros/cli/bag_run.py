"""The bag command's run loop: the messages of one input bag, in order, into OUT.

Every message of the input is read in log-time order; camera frames are decoded and handed to
the frame engine (`bag_frames.LocalFrames`, or `ray_runner.RayFrames` with --ray) up to its
window ahead, and messages are written strictly in input order, each frame with its results
under one hold of the stop request, so that an interruption leaves OUT, and the progress in its
metadata, as a one-at-a-time run would. A camera's depth and camera_info are kept as they
are read (`bag_depth`), and its frames wait for the depth logged a little after them.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .bag_depth import LOOKAHEAD_NS, with_3d, write_3d
from .bag_frames import FrameJob
from .bag_plan import choose_cameras, left_out_topics
from .bag_resume import continue_run, continued_path, replace_with
from .bag_summary import report
from .coco_files import write_coco_files
from .progress import Progress
from .stop_request import StopRequest

if TYPE_CHECKING:  # imported where used: --help and usage errors load no TensorFlow
    from .bag_output import Camera, OutputBag


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
    json_path: Path | None
    resume: bool
    copy_inputs: bool  # not --results-only
    frames: object = None  # LocalFrames or ray_runner.RayFrames: where frames are segmented
    depth: object = None  # bag_depth.BagDepth where a camera has depth
    vision_types: dict | None = None  # vision_msgs definitions for OUT, where installed
    score_threshold: float = 0.0  # what label_info says
    read_log_time: int = 0  # of the last input message read
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
    def plan(cls, args, opened, in_path: Path, out_path: Path, json_path: Path | None,
             vision_types: dict | None = None, resume: bool = False):
        """The cameras, copies and outputs of a run, checked before the model loads.

        `vision_types`: vision_msgs' definitions (`bag_vision.definitions`), None where it is
        not installed (no detections, label_info or detections_3d).
        """
        reader = opened.reader
        cameras, depth_topics = choose_cameras(args, reader, in_path, vision_types is not None)
        left_out = left_out_topics(reader, cameras)
        copied = [] if args.results_only else [
            c for c in reader.connections if c.topic not in left_out]
        storage = args.storage or ('mcap' if opened.storage == 'ros1' else opened.storage)
        run = cls(opened, in_path, out_path, storage, cameras, copied, left_out, json_path,
                  resume, not args.results_only, vision_types=vision_types,
                  score_threshold=args.score_threshold)
        run.total_frames = sum(c.msgcount for c in reader.connections if c.topic in cameras)
        if depth_topics:
            from .bag_depth import BagDepth

            run.depth = BagDepth(depth_topics)
        return run

    def execute(self) -> int:
        """Segment the frames into OUT (or a continued copy of it); the summary; the status."""
        from .bag_output import OutputBag

        target = continued_path(self.out_path) if self.resume else self.out_path
        bag = OutputBag(target, self.storage, self.vision_types)
        progress = None
        with StopRequest(on_request=self.frames.halt) as stop:
            try:
                if self.resume:
                    continue_run(self, bag)
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
                    replace_with(self.out_path, target)
                if self.json_path is not None and self.images:
                    write_coco_files(self.json_path, self.results, self.images,
                                     self.frames.segmenter)
        return report(self)

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
                self.read_log_time = log_time
                if self.depth is not None and self.depth.reads(connection.topic):
                    self.depth.add(reader, connection, data)  # before a resume's start too
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
            # interrupted: a frame still waiting for its depth is left to --resume
            self._flush(bag, stop, progress, pending, 0, final=not self.interrupted)
            self.interrupted = self.interrupted or bool(pending)  # halted after the last read
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

    def _write_vision(self, bag, camera: Camera, log_time: int, header, instances):
        """A frame's `detections`, after the camera's `label_info` if OUT has none yet.

        The node publishes label_info latched, once; in a bag it is the camera's first message
        of the kind, at its first segmented frame's log time (a resumed OUT has it already).
        """
        from .bag_vision import write_detections, write_label_info

        label_map = self.frames.segmenter.label_map
        if camera.outputs['label_info'] not in bag.written_topics:
            write_label_info(bag, camera, log_time, header, label_map, self.score_threshold)
        write_detections(bag, camera, log_time, header, instances, label_map)

    def _has_depth(self, camera: Camera) -> bool:
        return self.depth is not None and camera.topic in self.depth.cameras

    def _flush(self, bag, stop, progress, pending: deque, keep: int, final: bool = False):
        """Write the done messages at the head of `pending`, waiting while over `keep` frames.

        A frame with depth waits (unless `final`: the input is done) until the input has been
        read LOOKAHEAD_NS past it, for depth frames logged after it.
        """
        while pending:
            head = pending[0]
            if stop.requested and head.handle is not None and self.frames.cancel(head.handle):
                return  # not segmented (the engine was halted): left to --resume, with the rest
            if (not final and head.camera is not None and self._has_depth(head.camera)
                    and self.read_log_time <= head.log_time + LOOKAHEAD_NS):
                return
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
        detections_json, coco, located = result.detections_json, result.coco, None
        if self._has_depth(camera):
            located = self.depth.locate(camera.topic, header, result.instances)
        if located is not None:
            detections_json, coco = with_3d(result, item.header, located, self.frames.segmenter)
        with stop.hold():  # the frame and all its results, or none of them
            if self.copy_inputs:
                bag.copy(connection, log_time, data)
            bag.write_frame(camera, log_time, header, result.label_image, detections_json,
                            result.overlay)
            label_map = self.frames.segmenter.label_map
            if 'detections' in camera.outputs:
                self._write_vision(bag, camera, log_time, header, result.instances)
            if located is not None:
                write_3d(bag, camera, log_time, header, result.instances, located, label_map)
                if 'detections_3d' in camera.outputs:
                    from .bag_vision import write_detections_3d

                    write_detections_3d(bag, camera, log_time, header, result.instances,
                                        located, label_map)
            if self.json_path is not None:
                self.results.extend(coco)
                height, width = item.size
                self.images.append({
                    'id': item.image_id, 'file_name': f'{camera.topic}@{log_time}',
                    'height': height, 'width': width, 'topic': camera.topic,
                    'log_time_ns': log_time, 'stamp': {'sec': sec, 'nanosec': nanosec}})
            self.frames_done, self.messages_done = item.image_id, item.index + 1
            self.segmented += 1
        count = len(result.instances)
        progress.step(name, f'{count} instance{"" if count == 1 else "s"}, '
                            f'{result.inference_s * 1000:.0f} ms')
