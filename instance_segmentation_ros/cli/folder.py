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

Ctrl+C or SIGTERM stops after the current image; what was written is complete, the bag closed
(or deleted, when no frame went into it).
"""

from __future__ import annotations

import signal
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.image_files import (
    depth_file_for,
    is_depth_file,
    list_image_files,
    read_depth_file,
    read_image_file,
)
from ..core.results import add_3d
from .coco_files import images_json_path, write_coco_files
from .common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    CliError,
    check_writable_file,
    choose_model,
    load_segmenter,
    make_writable_folder,
    write_image,
)
from .progress import Progress

if TYPE_CHECKING:  # imported where used: --help and usage errors load no TensorFlow
    from ..core.detections import PostprocessSettings
    from ..model.segmenter import Segmentation, Segmenter
    from .bag_writer import SegmentationBag


def run_folder(args) -> int:
    """Segment every image of a folder; optional COCO JSON, rosbag2 and label PNGs."""
    if args.bag_compressed and not args.bag:
        raise CliError('--bag-compressed needs --bag BAG_DIR', EXIT_USAGE)
    in_dir = Path(args.in_dir).expanduser()
    out_dir = Path(args.out_dir).expanduser()
    files = [in_dir / name for name in list_image_files(in_dir)]
    if out_dir.exists() and out_dir.resolve() == in_dir.resolve():
        raise CliError('OUT_DIR is IN_DIR: the overlays would replace the originals; choose '
                       'another output folder')
    depth_intrinsics = _depth_intrinsics(args.depth_camera_info)
    if depth_intrinsics is not None:
        files = [path for path in files if not is_depth_file(path.name)]
    json_path = Path(args.json).expanduser() if args.json else None
    if json_path is not None:
        check_writable_file(json_path)
    choice = choose_model(args)
    bag_start_ns = int(time.time()) * 1_000_000_000 if args.bag_start is None else int(
        Decimal(args.bag_start) * 1_000_000_000)
    with ExitStack() as bag_lifetime:
        bag = bag_lifetime.enter_context(  # before the slow load
            _bag_for_frames(args.bag, 'compressed' if args.bag_compressed else 'raw'))
        make_writable_folder(out_dir, 'overlays')
        run = FolderRun(
            segmenter=load_segmenter(choice, verbose=args.verbose), settings=choice.settings,
            overlay_alpha=args.overlay_alpha, files=files, out_dir=out_dir,
            json_path=json_path, write_masks=args.masks, bag=bag, bag_start_ns=bag_start_ns,
            depth_intrinsics=depth_intrinsics)
        progress = Progress(len(files))
        with _StopRequest() as stop:
            try:
                run.segment(stop, progress)
            finally:
                stop.finish()
                progress.close()
                bag_lifetime.close()  # here, where no signal interrupts closing the bag
                if json_path is not None and run.images:
                    write_coco_files(json_path, run.results, run.images, run.segmenter)
            return run.report()


def _depth_intrinsics(camera_info: str | None):
    """The depth camera's intrinsics from its camera_calibration YAML (None without one)."""
    if not camera_info:
        return None
    from ..core.camera_info import load_calibration
    from ..core.depth3d import Intrinsics

    calibration = load_calibration(camera_info)
    return Intrinsics.from_k(calibration['k']), (calibration['height'], calibration['width'])


@contextmanager
def _bag_for_frames(path: str | None, image_transport: str):
    """The --bag to write (None without --bag): closed at the end, deleted if it got no frame."""
    from .bag_writer import SegmentationBag

    if not path:
        yield None
        return
    with SegmentationBag(path, image_transport=image_transport) as bag:
        try:
            yield bag
        finally:
            if not bag.frames:
                bag.discard()


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
    depth_intrinsics: tuple | None = None  # (Intrinsics, (height, width)) of the depth images
    results: list[dict] = field(default_factory=list)  # COCO results entries
    images: list[dict] = field(default_factory=list)  # COCO image entries of the images done
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    without_depth: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    interrupted: bool = False
    started: float = field(default_factory=time.monotonic)

    def segment(self, stop: _StopRequest, progress: Progress):
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
                    progress.step(path.name, f'skipped ({reason})')
                    continue
                segmentation = self.segmenter.segment(bgr, self.settings)
                overlay = self.segmenter.overlay(bgr, segmentation, self.overlay_alpha)
                located = self._locate(path, segmentation)
                with stop.hold():  # all of this image's outputs, or none of them
                    self._write(image_id, path, mask_names[path], data, bgr, segmentation,
                                overlay, located)
                count = len(segmentation.instances)
                progress.step(path.name, f'{count} instance{"" if count == 1 else "s"}, '
                                         f'{segmentation.inference_s * 1000:.0f} ms')
        except KeyboardInterrupt:
            self.interrupted = True

    def _locate(self, path: Path, segmentation: Segmentation):
        """The instances' 3D from the image's depth file, or None (listed) without a usable one."""
        if self.depth_intrinsics is None:
            return None
        from ..core.depth3d import METRES_PER_UNIT, DepthError, locate_instances, measurement_grid

        intrinsics, size = self.depth_intrinsics
        depth_path = depth_file_for(path)
        depth, reason = read_depth_file(depth_path)
        if depth is None:
            self.without_depth.append((path.name, f'{Path(depth_path).name} is {reason}'))
            return None
        if depth.shape != size:
            self.without_depth.append((path.name, f'{Path(depth_path).name} is '
                                       f'{depth.shape[1]}x{depth.shape[0]}, the camera info '
                                       f'{size[1]}x{size[0]}'))
            return None
        instances = segmentation.instances
        try:
            labels, grid_depth, grid = measurement_grid(instances.label_image, depth,
                                                        intrinsics)
        except DepthError as error:
            self.without_depth.append((path.name, str(error)))
            return None
        return locate_instances(labels, grid_depth, METRES_PER_UNIT['16UC1'], grid,
                                len(instances))

    def _write(self, image_id: int, path: Path, mask_name: str, data: bytes, bgr,
               segmentation: Segmentation, overlay, located=None):
        """One image's outputs: overlay, label PNG, COCO entries and bag frame."""
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
            entries = self.segmenter.coco(segmentation, image_id)
            if located is not None:
                add_3d(entries, located)
            self.results.extend(entries)
        height, width = bgr.shape[:2]
        self.images.append({'id': image_id, 'file_name': path.name, 'height': height,
                            'width': width})
        if self.bag is not None:
            stamp_ns = self.bag_start_ns + self.bag.frames * 1_000_000_000
            sec, nanosec = stamp_parts(stamp_ns)
            self.bag.write_frame(stamp_ns, bgr, label_image, overlay,
                                 self.segmenter.frame_json(segmentation, sec, nanosec,
                                                           self.bag.frame_id, located),
                                 image_file=data)

    def report(self) -> int:
        """Print the summary; CliError when interrupted or when no image could be read."""
        seconds = time.monotonic() - self.started
        total, done = len(self.files), len(self.images)
        rate = f', {done / seconds:.2f} images/s' if seconds > 0 and done else ''
        print(f'segmented {done} of {total} images in {seconds:.1f} s{rate}; overlays in '
              f'{self.out_dir}')
        if done and self.json_path is not None:
            print(f'wrote {self.json_path} and {images_json_path(self.json_path)}')
        if self.bag is not None and self.bag.frames:
            print(f'wrote {self.bag.path} ({self.bag.frames} frames)')
        if self.without_depth:
            count = len(self.without_depth)
            print(f'no 3D for {count} image{"" if count == 1 else "s"}:', file=sys.stderr)
            for name, reason in self.without_depth:
                print(f'  {name}: {reason}', file=sys.stderr)
        if self.unreadable:
            count = len(self.unreadable)
            print(f'could not read {count} file{"" if count == 1 else "s"}:', file=sys.stderr)
            for name, reason in self.unreadable:
                print(f'  {name}: {reason}', file=sys.stderr)
        sys.stdout.flush()
        if self.interrupted:
            raise CliError(f'interrupted after {done} of {total} images (what was written is '
                           f'complete)', EXIT_INTERRUPTED)
        if not done:
            raise CliError(f'none of the {total} image files in the input folder could be read')
        return 0


class _StopRequest:
    """First Ctrl+C (or SIGTERM): finish the current image, then stop; the second: stop now.

    "Now" waits for a `hold` block to end, so that one image's outputs (overlay, masks, JSON
    entries and the four bag messages of its frame) are all written or none is, and once
    `finish` is called (the bag is closed, the JSON files and the summary written) it never
    comes.
    """

    def __init__(self):
        self.requested = False
        self._previous = {}
        self._holding = False
        self._held = False

    def __enter__(self):
        for number in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[number] = signal.signal(number, self._handle)
            except ValueError:  # not the main thread: leave the default behaviour
                pass
        return self

    def __exit__(self, *exc_info):
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        return False

    @contextmanager
    def hold(self):
        """Delay the KeyboardInterrupt of a second signal until the block is done."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._held:
            raise KeyboardInterrupt

    def finish(self):
        """From now on signals are ignored: the run closes its outputs and writes its summary."""
        self._holding = True

    def _handle(self, number, frame):
        if self.requested:
            if self._holding:
                self._held = True
                return
            raise KeyboardInterrupt
        self.requested = True
        print(f'\n{PROG}: stopping after the current image (Ctrl+C again to stop at once)',
              file=sys.stderr, flush=True)


def _mask_names(files: list[Path]) -> dict[Path, str]:
    """`<stem>_masks.png` per file; `<name>_masks.png` where two files share a stem."""
    stems = [p.stem for p in files]
    return {p: f'{p.stem if stems.count(p.stem) == 1 else p.name}_masks.png' for p in files}
