"""The webcam command: a camera, stream or video file live in a window, or into a video.

`--track` tracks the instances over the frames (`tracks`): the overlays show `#id`, and
`--mots FILE` writes the tracks for TrackEval. A video file's frame i is taken at
i / its frame rate seconds (its own timeline, however fast the model is); a live source's
frames at the moments they were read.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .arguments import Command, add_model_options
from .common import (
    EXIT_INTERRUPTED,
    PROG,
    CliError,
    check_writable_file,
    choose_model,
    load_segmenter,
    open_viewer,
)
from .progress import Progress, is_terminal
from .tracks import add_tracking_options, run_tracks


def add_arguments(parser):
    """The source, the video to write, --show, and the model options."""
    parser.add_argument('--device', default='0', metavar='D',
                        help='camera index, device path, stream URL or video file (default: 0)')
    parser.add_argument('-o', '--output', metavar='FILE',
                        help='write the annotated video of a video file (.mp4 or .avi, at the '
                             "file's own frame rate)")
    parser.add_argument('--show', action='store_true',
                        help='with --output, also show the window')
    add_tracking_options(parser)
    add_model_options(parser)


def run_webcam(args) -> int:
    """Segment a camera or a video in a window; a video file may also be written annotated."""
    from ..core.video_source import OpenError, SourceError, VideoFrames, quiet_opencv

    output = Path(args.output).expanduser() if args.output else None
    if output is not None:
        _check_writable_video(output)
    show = args.show or output is None
    if show:
        open_viewer(check_only=True)
    tracks = run_tracks(args)
    choice = choose_model(args)
    quiet_opencv()
    # Every frame of a file is segmented, so it is read as fast as the model takes them.
    frames = VideoFrames(args.device, pace=False, report=_warn)
    try:
        frames.open()
    except OpenError as error:
        hint = (' (is a camera connected, and is /dev/video* readable?)'
                if frames.kind == 'camera' else '')
        what = {'camera': 'camera', 'file': 'video file', 'stream': 'stream'}[frames.kind]
        raise CliError(f'cannot open {what} {args.device}: {error.reason.lower()}{hint}') from None
    viewer = run = None
    try:
        if frames.live and output is not None:
            raise CliError(f'--output needs a video file as --device: {args.device} is live, '
                           'so its frames have no fixed rate to write them at')
        viewer = open_viewer() if show else None
        segmenter = load_segmenter(choice, verbose=args.verbose)
        run = _VideoRun(args.device, frames, output, tracks)
        run.play(segmenter, choice.settings, args.overlay_alpha, viewer)
    except SourceError as error:
        raise CliError(str(error)) from None
    finally:
        frames.close()
        if viewer is not None:
            viewer.close()
        if tracks is not None and run is not None and run.count:
            tracks.write()
    print(run.summary(), flush=True)
    return EXIT_INTERRUPTED if run.interrupted and not frames.live else 0


def _warn(event):
    """VideoFrames' warnings on stderr; its other news is not the command's."""
    if event.level == 'warning':
        print(f'{PROG}: {event.text}', file=sys.stderr)


VIDEO_CODECS = {'.mp4': 'mp4v', '.avi': 'MJPG'}
"""Container suffix -> FourCC that OpenCV's wheels write without extra codecs."""


def _check_writable_video(output: Path):
    """Fail before the model loads when `output` cannot be written as a video."""
    if output.suffix.lower() not in VIDEO_CODECS:
        raise CliError(f'cannot write {output}: videos are written as '
                       f'{" or ".join(VIDEO_CODECS)} files')
    check_writable_file(output)


class _VideoRun:
    """Frames in, overlays out to a window and/or a video file, and the figures of a summary.

    The frames' rules (a live source that stops delivering has failed; the end of a file is
    the normal end) are VideoFrames'.
    """

    def __init__(self, device: str, frames, output: Path | None, tracks=None):
        self.device, self.frames, self.output, self.tracks = device, frames, output, tracks
        self.live = frames.live
        self.count = self.instances = 0
        self.inference_s = 0.0
        self.started = time.monotonic()
        self.interrupted = self.quit = False

    def play(self, segmenter, settings, alpha: float, viewer):
        from .viewer import CLOSED, ESCAPE

        window = f'{PROG} webcam (q quits)'
        total = self.frames.frame_count
        progress = (Progress(total) if viewer is None and total and is_terminal(sys.stderr)
                    else None)
        writer, fps, last = None, 0.0, None
        try:
            while (frame := self.frames.next()) is not None:
                segmentation = segmenter.segment(frame, settings)
                track_ids = None
                if self.tracks is not None:
                    stamp_s = (time.monotonic() - self.started if self.live
                               else self.count / self.frames.file_fps)
                    track_ids = self.tracks.update(self.count + 1, stamp_s,
                                                   segmentation.instances)
                overlay = segmenter.overlay(frame, segmentation, alpha, track_ids=track_ids)
                self.count += 1
                self.instances += len(segmentation.instances)
                self.inference_s += segmentation.inference_s
                if self.output is not None:
                    writer = writer or self._open_writer(overlay.shape)
                    writer.write(overlay)
                if progress is not None:
                    progress.step(f'frame {self.count}',
                                  f'{len(segmentation.instances)} instances')
                if viewer is None:
                    continue
                now = time.monotonic()
                if last is not None:
                    instant = 1.0 / max(now - last, 1e-6)
                    fps = instant if fps == 0.0 else 0.9 * fps + 0.1 * instant
                last = now
                _draw_fps(overlay, fps, segmentation.inference_s)
                viewer.show(window, overlay)
                if viewer.poll(1) in ('q', 'Q', ESCAPE, CLOSED):
                    self.quit = True
                    break
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            if progress is not None:
                progress.close()
            if writer is not None:
                writer.release()

    def _open_writer(self, shape):
        import cv2

        height, width = shape[:2]
        fourcc = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.output.suffix.lower()])
        writer = cv2.VideoWriter(str(self.output), fourcc, self.frames.file_fps,
                                 (width, height))
        if not writer.isOpened():
            raise CliError(f'cannot write {self.output}: OpenCV cannot open a '
                           f'{self.output.suffix} video writer')
        return writer

    def summary(self) -> str:
        """One line: how it ended, frames, instances, rates, and the video written."""
        seconds = max(time.monotonic() - self.started, 1e-6)
        ending = ('interrupted' if self.interrupted else 'stopped' if self.quit or self.live
                  else 'end of file')
        frames = self.count
        text = (f'{self.device}: {ending} after {frames} frame{"" if frames == 1 else "s"}, '
                f'{self.instances} instances, {frames / seconds:.1f} FPS, inference '
                f'{1000 * self.inference_s / max(frames, 1):.0f} ms per frame')
        if self.output is not None and frames:
            text += f'; wrote {self.output}'
        if self.tracks is not None and self.tracks.mots_path is not None and frames:
            text += f'; wrote {self.tracks.mots_path}'
        return text


def _draw_fps(image, fps: float, inference_s: float):
    from ..core.render import draw_shadowed_text

    draw_shadowed_text(image, f'{fps:.1f} FPS  inference {inference_s * 1000:.0f} ms', (10, 25),
                       0.7)


COMMAND = Command(
    'webcam', help='segment a camera or a video live in a window',
    description='Show the overlay of a camera, stream or video file with the measured '
                'frame rate; q, Esc, closing the window or Ctrl+C quits. A video file is '
                'played to its end (exit status 0, with a summary) and can be written '
                'annotated with --output, without a window unless --show is given.',
    add_arguments=add_arguments, run=run_webcam)
