"""The folder command: every image of a folder segmented into a folder of overlays.

Outputs besides the overlays (of the input files' names):

- ``--json FILE``: a COCO results list (``COCO.loadRes`` input); each entry has ``image_id``
  (the image's 1-based position in the sorted file list), ``category_id``, ``score``,
  ``bbox`` [x, y, w, h], ``area`` and an RLE ``segmentation``. Beside it,
  ``<FILE stem>.images.json`` is a COCO dataset without annotations: ``images`` (id,
  file_name, height, width), ``categories`` (the label map), ``annotations`` [].
- ``--bag DIR``: frame i (0-based, in file order, unreadable files skipped) is stamped
  start + i seconds, start being the run's start time in whole seconds (``--bag-start``
  overrides it), frame_id ``camera`` (see `bag_writer`). ``--bag-compressed`` writes the image
  topic as ``/image/compressed``, with each JPEG or PNG file's own bytes.
- ``--depth-camera-info YAML``: each image's ``NAME_depth.png`` (16-bit millimetres, aligned)
  adds ``centroid``, ``box_3d``, ``depth_points`` and ``median_depth`` (metres, the camera's
  optical frame) to its ``--json`` entries and bag results, as segmentation_node's
  ``depth.enabled`` does; an image without a usable depth file gets none, and is listed.
- ``--masks``: ``<stem>_masks.png`` per image, mono8: 0 background, k = instance k.
- ``--track``: the images are taken as a sequence in name order and tracked (`tracks`): each
  ``--json`` entry gets ``track_id`` (null until its track is confirmed), the overlays
  ``#id``, the bag ``/segmentation/track_masks`` (16UC1, pixel = track id) and ``track_id``
  in its detections_json; ``--mots FILE`` writes the tracks for TrackEval. Image i is taken
  at i / ``--fps`` seconds, and the bag is stamped so too (``--fps`` defaults to 30 with
  ``--track``, a video's rate; to 1, one image a second, without).

Ctrl+C or SIGTERM stops after the current image; what was written is complete, the bag closed
(or deleted, when no frame went into it), and OUT_DIR removed again if the run made it and
wrote nothing. A folder of which not one file can be read is reported before the model loads.
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.image_files import IMAGE_EXTENSIONS, is_depth_file, list_image_files, read_image_file
from ..core.results import add_3d
from .arguments import Command, add_model_options, epoch_seconds
from .coco_files import images_json_path, write_coco_files
from .common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CliError,
    check_writable_file,
    choose_model,
    load_segmenter,
    output_folder,
    write_image,
)
from .depth_files import DepthLocator
from .progress import Progress
from .stop_request import StopRequest
from .tracks import RunTracks, add_tracking_options, run_tracks

DEFAULT_TRACK_FPS = 30.0  # --fps with --track: a video's rate, what the tracker was tuned on

if TYPE_CHECKING:  # imported where used: --help and usage errors load no TensorFlow
    from ..core.detections import PostprocessSettings
    from ..model.segmenter import Segmentation, Segmenter
    from .bag_writer import SegmentationBag


def add_arguments(parser):
    """IN_DIR, OUT_DIR, the outputs besides the overlays, and the model options."""
    parser.add_argument('in_dir', metavar='IN_DIR', help='folder of input images')
    parser.add_argument('out_dir', metavar='OUT_DIR',
                        help='folder for the overlays (created when missing)')
    parser.add_argument('--json', metavar='FILE',
                        help='write COCO results (pycocotools COCO.loadRes input) and, beside '
                             'it, FILE-stem.images.json with the image ids and file names')
    parser.add_argument('--bag', metavar='BAG_DIR',
                        help='write a rosbag2 (mcap) with /image, /segmentation/masks, '
                             '/segmentation/overlay and /segmentation/detections_json (the '
                             'topics of folder.launch.py record:=true; with --track also '
                             '/segmentation/track_masks), one frame per image, 1/--fps apart')
    parser.add_argument('--bag-compressed', action='store_true',
                        help='with --bag, write the image topic as /image/compressed '
                             '(sensor_msgs/CompressedImage): JPEG and PNG files as they are, '
                             'other formats as PNG, so the bag stays small')
    parser.add_argument('--bag-start', type=epoch_seconds, metavar='SECONDS',
                        help='stamp of the first bag frame in seconds since the epoch '
                             '(default: the start of the run, whole seconds)')
    parser.add_argument('--depth-camera-info', metavar='YAML',
                        help="RGB-D folders: each image's NAME_depth.png (16-bit, millimetres, "
                             'aligned to it) gives every instance its 3D centroid, box, point '
                             'count and median depth in --json and the bag, using this '
                             'camera_calibration YAML of the depth image; the *_depth.png files '
                             'are not segmented')
    parser.add_argument('--masks', action='store_true',
                        help='also write the instance label images as <stem>_masks.png '
                             '(mono8: 0 background, k = instance k)')
    parser.add_argument('--fps', type=positive_rate, metavar='FPS',
                        help='images per second of the folder as a sequence: the bag stamps '
                             'and the tracker clock step 1/FPS per image (default: 30 with '
                             '--track, else 1)')
    add_tracking_options(parser)
    add_model_options(parser)


def positive_rate(text: str) -> float:
    """A frame rate above 0."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    if not 0 < value < float('inf'):
        raise argparse.ArgumentTypeError(f'{text} is not a rate above 0')
    return value


def run_folder(args) -> int:
    """Segment every image of a folder; optional COCO JSON, rosbag2 and label PNGs."""
    from .bag_writer import bag_for_frames

    if args.bag_compressed and not args.bag:
        raise CliError('--bag-compressed needs --bag BAG_DIR', EXIT_USAGE)
    in_dir = Path(args.in_dir).expanduser()
    out_dir = Path(args.out_dir).expanduser()
    files = [in_dir / name for name in list_image_files(in_dir)]
    if out_dir.exists() and out_dir.resolve() == in_dir.resolve():
        raise CliError('OUT_DIR is IN_DIR: the overlays would replace the originals; choose '
                       'another output folder')
    depth = DepthLocator(args.depth_camera_info) if args.depth_camera_info else None
    if depth is not None:
        files = [path for path in files if not is_depth_file(path.name)]
    json_path = Path(args.json).expanduser() if args.json else None
    if json_path is not None:
        check_writable_file(json_path)
    tracks = run_tracks(args)
    fps = args.fps or (DEFAULT_TRACK_FPS if tracks is not None else 1.0)
    choice = choose_model(args)
    _check_readable(files)
    bag_start_ns = int(time.time()) * 1_000_000_000 if args.bag_start is None else int(
        Decimal(args.bag_start) * 1_000_000_000)
    with ExitStack() as outputs:  # the outputs, made before the slow load
        outputs.enter_context(output_folder(out_dir, 'overlays'))
        bag = outputs.enter_context(
            bag_for_frames(args.bag, 'compressed' if args.bag_compressed else 'raw',
                           tracks=tracks is not None))
        run = FolderRun(
            segmenter=load_segmenter(choice, verbose=args.verbose), settings=choice.settings,
            overlay_alpha=args.overlay_alpha, files=files, out_dir=out_dir,
            json_path=json_path, write_masks=args.masks, bag=bag, bag_start_ns=bag_start_ns,
            depth=depth, tracks=tracks, period_ns=round(1e9 / fps))
        progress = Progress(len(files))
        with StopRequest() as stop:
            try:
                run.segment(stop, progress)
            finally:
                stop.finish()
                progress.close()
                outputs.close()  # here, where no signal interrupts closing the bag
                if json_path is not None and run.images:
                    write_coco_files(json_path, run.results, run.images, run.segmenter)
                if tracks is not None and run.images:
                    tracks.write()
            return run.report()


def _check_readable(files: list[Path]):
    """Fail before the model loads when not one of the files can be read, saying why each."""
    unreadable = []
    for path in files:
        _, bgr, reason = read_image_file(path)
        if bgr is not None:
            return
        unreadable.append((path.name, reason))
    _list_unreadable(unreadable)
    raise CliError(f'none of the {len(files)} image files in the input folder could be read')


def _list_unreadable(unreadable: list[tuple[str, str]]):
    """The files that could not be read, and why, on stderr."""
    if unreadable:
        count = len(unreadable)
        print(f'could not read {count} file{"" if count == 1 else "s"}:', file=sys.stderr)
        for name, reason in unreadable:
            print(f'  {name}: {reason}', file=sys.stderr)


COMMAND = Command(
    'folder', help='segment every image of a folder into another folder',
    description='Segment every image of IN_DIR (' + ', '.join(
        e[1:] for e in IMAGE_EXTENSIONS) + ', any case; in name order) into an overlay of '
    'the same name in OUT_DIR. Unreadable files are listed at the end; the exit status '
    'is 1 when no image could be processed.',
    add_arguments=add_arguments, run=run_folder)


@dataclass
class FolderRun:
    """A folder run's model, inputs and outputs, and what it has produced so far."""

    segmenter: Segmenter
    settings: PostprocessSettings
    overlay_alpha: float
    files: list[Path]
    out_dir: Path
    json_path: Path | None
    write_masks: bool
    bag: SegmentationBag | None
    bag_start_ns: int
    depth: DepthLocator | None = None  # with --depth-camera-info
    tracks: RunTracks | None = None  # with --track
    period_ns: int = 1_000_000_000  # between images: 1 / --fps
    results: list[dict] = field(default_factory=list)  # COCO results entries
    images: list[dict] = field(default_factory=list)  # COCO image entries of the images done
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    interrupted: bool = False
    started: float = field(default_factory=time.monotonic)

    def segment(self, stop: StopRequest, progress: Progress):
        """Segment the files in order until all are done or `stop` is requested."""
        mask_names = _mask_names(self.files)
        try:
            for image_id, path in enumerate(self.files, start=1):
                if stop.requested:
                    self.interrupted = True
                    break
                data, bgr, reason = read_image_file(path)
                if bgr is None:
                    self.unreadable.append((path.name, reason))
                    progress.skip(path.name, f'skipped ({reason})')
                    continue
                segmentation = self.segmenter.segment(bgr, self.settings)
                track_ids = None
                if self.tracks is not None:  # the frame number and time of this image
                    frame = len(self.images) + 1
                    track_ids = self.tracks.update(frame, (frame - 1) * self.period_ns / 1e9,
                                                   segmentation.instances)
                overlay = self.segmenter.overlay(bgr, segmentation, self.overlay_alpha,
                                                 track_ids=track_ids)
                located = self.depth.locate(path, segmentation) if self.depth else None
                with stop.hold():  # all of this image's outputs, or none of them
                    self._write(image_id, path, mask_names[path], data, bgr, segmentation,
                                overlay, located, track_ids)
                count = len(segmentation.instances)
                progress.step(path.name, f'{count} instance{"" if count == 1 else "s"}, '
                                         f'{segmentation.inference_s * 1000:.0f} ms')
        except KeyboardInterrupt:
            self.interrupted = True

    def _write(self, image_id: int, path: Path, mask_name: str, data: bytes, bgr,
               segmentation: Segmentation, overlay, located=None, track_ids=None):
        """One image's outputs: overlay, label PNG, COCO entries and bag frame."""
        from ..core.tracking import track_id_image
        from .bag_writer import stamp_parts

        problem = write_image(self.out_dir / path.name, overlay)
        if problem:
            raise CliError(f'cannot write {self.out_dir / path.name}: {problem}')
        label_image = segmentation.instances.label_image
        if self.write_masks:
            masks_path = self.out_dir / mask_name
            problem = write_image(masks_path, label_image)
            if problem:
                raise CliError(f'cannot write {masks_path}: {problem}')
        if self.json_path is not None:
            entries = self.segmenter.coco(segmentation, image_id, track_ids)
            if located is not None:
                add_3d(entries, located)
            self.results.extend(entries)
        height, width = bgr.shape[:2]
        self.images.append({'id': image_id, 'file_name': path.name, 'height': height,
                            'width': width})
        if self.bag is not None:
            stamp_ns = self.bag_start_ns + self.bag.frames * self.period_ns
            sec, nanosec = stamp_parts(stamp_ns)
            self.bag.write_frame(stamp_ns, bgr, label_image, overlay,
                                 self.segmenter.frame_json(segmentation, sec, nanosec,
                                                           self.bag.frame_id, located,
                                                           track_ids),
                                 image_file=data,
                                 track_image=None if track_ids is None
                                 else track_id_image(label_image, track_ids))

    def report(self) -> int:
        """Print the summary; CliError when interrupted or when no image could be read."""
        seconds = time.monotonic() - self.started
        total, done = len(self.files), len(self.images)
        rate = f', {done / seconds:.2f} images/s' if seconds > 0 and done else ''
        print(f'segmented {done} of {total} images in {seconds:.1f} s{rate}; overlays in '
              f'{self.out_dir}')
        if done and self.json_path is not None:
            print(f'wrote {self.json_path} and {images_json_path(self.json_path)}')
        if done and self.tracks is not None:
            print(f'{len(self.tracks.tracker.live_ids)} tracks alive at the end'
                  + (f'; wrote {self.tracks.mots_path}' if self.tracks.mots_path else ''))
        if self.bag is not None and self.bag.frames:
            print(f'wrote {self.bag.path} ({self.bag.frames} frames)')
        if self.depth is not None and self.depth.without_depth:
            count = len(self.depth.without_depth)
            print(f'no 3D for {count} image{"" if count == 1 else "s"}:', file=sys.stderr)
            for name, reason in self.depth.without_depth:
                print(f'  {name}: {reason}', file=sys.stderr)
        _list_unreadable(self.unreadable)
        sys.stdout.flush()
        if self.interrupted:
            raise CliError(f'interrupted after {done} of {total} images (what was written is '
                           f'complete)', EXIT_INTERRUPTED)
        if not done:
            raise CliError(f'none of the {total} image files in the input folder could be read')
        return 0


def _mask_names(files: list[Path]) -> dict[Path, str]:
    """`<stem>_masks.png` per file; `<name>_masks.png` where two files share a stem."""
    stems = [p.stem for p in files]
    return {p: f'{p.stem if stems.count(p.stem) == 1 else p.name}_masks.png' for p in files}
