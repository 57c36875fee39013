"""The folder command: every image of a folder, batch outputs, and a summary."""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from ..image_files import IMAGE_EXTENSIONS, image_names, read_image
from .common import (
    EXIT_INTERRUPTED,
    PROG,
    CliError,
    check_writable_file,
    choose_model,
    load_segmenter,
    make_writable_folder,
    os_reason,
    write_image,
)
from .progress import Progress


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


def _image_files(in_dir: Path) -> list[Path]:
    if not in_dir.exists():
        raise CliError(f'input folder {in_dir} does not exist')
    if not in_dir.is_dir():
        raise CliError(f'{in_dir} is not a folder: give a folder of images (or use the image '
                       f'command for one file)')
    try:
        files = [in_dir / name for name in image_names(in_dir)]
    except OSError as error:
        raise CliError(f'cannot list {in_dir}: {os_reason(error)}') from None
    if not files:
        raise CliError(f'no images in {in_dir} (looked for '
                       f'{", ".join(IMAGE_EXTENSIONS)}, any case)')
    return files


def _mask_names(files: list[Path]) -> dict[Path, str]:
    """`<stem>_masks.png` per file; `<name>_masks.png` where two files share a stem."""
    stems = [p.stem for p in files]
    return {p: f'{p.stem if stems.count(p.stem) == 1 else p.name}_masks.png' for p in files}


def run_folder(args) -> int:
    """Segment every image of a folder; optional COCO JSON, rosbag2 and label PNGs."""
    from ..bag_writer import SegmentationBag

    in_dir = Path(args.in_dir).expanduser()
    out_dir = Path(args.out_dir).expanduser()
    files = _image_files(in_dir)
    if out_dir.exists() and out_dir.resolve() == in_dir.resolve():
        raise CliError('OUT_DIR is IN_DIR: the overlays would replace the originals; choose '
                       'another output folder')
    json_path = Path(args.json).expanduser() if args.json else None
    if json_path is not None:
        check_writable_file(json_path)
    choice = choose_model(args)
    start_ns = int(time.time()) * 1_000_000_000 if args.bag_start is None else int(
        Decimal(args.bag_start) * 1_000_000_000)
    bag = SegmentationBag(args.bag).open() if args.bag else None
    try:
        make_writable_folder(out_dir, 'overlays')
        segmenter = load_segmenter(choice, verbose=args.verbose)
        summary = _segment_files(args, segmenter, choice.settings, files, out_dir, json_path, bag,
                                 start_ns)
    finally:
        if bag is not None:
            if bag.frames:
                bag.close()
            else:
                bag.discard()
    return summary


def _segment_files(args, segmenter, settings, files, out_dir, json_path, bag, start_ns) -> int:
    from ..bag_writer import stamp_parts

    mask_names = _mask_names(files)
    results, images, unreadable = [], [], []
    started = time.monotonic()
    progress = Progress(len(files))
    interrupted = False
    with _StopRequest() as stop:
        try:
            for image_id, path in enumerate(files, start=1):
                if stop.requested:
                    interrupted = True
                    break
                bgr, reason = read_image(path)
                if bgr is None:
                    unreadable.append((path.name, reason))
                    progress.step(path.name, f'skipped ({reason})')
                    continue
                segmentation = segmenter.segment(bgr, settings)
                overlay = segmenter.overlay(bgr, segmentation, args.overlay_alpha)
                with stop.hold():  # all of this image's outputs, or none of them
                    problem = write_image(out_dir / path.name, overlay)
                    if problem:
                        raise CliError(f'cannot write {out_dir / path.name}: {problem}')
                    label_image = segmentation.instances.label_image
                    if args.masks:
                        masks_path = out_dir / mask_names[path]
                        problem = write_image(masks_path, label_image)
                        if problem:
                            raise CliError(f'cannot write {masks_path}: {problem}')
                    if json_path is not None:
                        results.extend(segmenter.coco(segmentation, image_id))
                    height, width = bgr.shape[:2]
                    images.append({'id': image_id, 'file_name': path.name, 'height': height,
                                   'width': width})
                    if bag is not None:
                        stamp_ns = start_ns + bag.frames * 1_000_000_000
                        sec, nanosec = stamp_parts(stamp_ns)
                        bag.write_frame(stamp_ns, bgr, label_image, overlay,
                                        segmenter.frame_json(segmentation, sec, nanosec,
                                                             bag.frame_id))
                count = len(segmentation.instances)
                progress.step(path.name, f'{count} instance{"" if count == 1 else "s"}, '
                                         f'{segmentation.inference_s * 1000:.0f} ms')
        except KeyboardInterrupt:
            interrupted = True
        finally:
            stop.finish()
            progress.close()
            if bag is not None and bag.frames:
                bag.close()  # here, where no signal interrupts it (run_folder's is a fallback)
            if json_path is not None and images:
                _write_json(json_path, results, images, segmenter)
        return _report(len(files), images, unreadable, out_dir, json_path, bag,
                       time.monotonic() - started, interrupted)


def _write_json(json_path: Path, results: list, images: list, segmenter):
    names = segmenter.label_map.names
    dataset = {
        'info': {'description': f'images segmented by {PROG} with model '
                                f'{segmenter.model.name}'},
        'images': images,
        'categories': [{'id': class_id, 'name': names[class_id]} for class_id in sorted(names)],
        'annotations': [],
    }
    images_path = images_json_path(json_path)
    try:
        json_path.write_text(json.dumps(results, separators=(',', ':')) + '\n')
        images_path.write_text(json.dumps(dataset, indent=1) + '\n')
    except OSError as error:
        # Checked before the run, so the place went away meanwhile: keep the results anyway.
        kept = Path(tempfile.mkdtemp(prefix='instance_segmentation_results_'))
        (kept / json_path.name).write_text(json.dumps(results, separators=(',', ':')) + '\n')
        (kept / images_path.name).write_text(json.dumps(dataset, indent=1) + '\n')
        raise CliError(f'cannot write {json_path}: {os_reason(error)}; the results are in '
                       f'{kept / json_path.name}') from None


def images_json_path(json_path: Path) -> Path:
    """The image list written beside a results file: `results.json` -> `results.images.json`."""
    return json_path.with_name(f'{json_path.stem}.images.json')


def _report(total, images, unreadable, out_dir, json_path, bag, seconds, interrupted) -> int:
    done = len(images)
    rate = f', {done / seconds:.2f} images/s' if seconds > 0 and done else ''
    print(f'segmented {done} of {total} images in {seconds:.1f} s{rate}; overlays in {out_dir}')
    if done and json_path is not None:
        print(f'wrote {json_path} and {images_json_path(json_path)}')
    if bag is not None and bag.frames:
        print(f'wrote {bag.path} ({bag.frames} frames)')
    if unreadable:
        print(f'could not read {len(unreadable)} file{"" if len(unreadable) == 1 else "s"}:',
              file=sys.stderr)
        for name, reason in unreadable:
            print(f'  {name}: {reason}', file=sys.stderr)
    sys.stdout.flush()
    if interrupted:
        raise CliError(f'interrupted after {done} of {total} images (what was written is '
                       f'complete)', EXIT_INTERRUPTED)
    if not done:
        raise CliError(f'none of the {total} image files in the input folder could be read')
    return 0
