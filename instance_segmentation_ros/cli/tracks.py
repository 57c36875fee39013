"""--track and --mots of the folder and webcam commands: track ids over a run's frames.

One `MaskTracker` (as segmentation_node's, one per camera) is fed every segmented frame with its
time; `--mots FILE` collects the tracked instances in the MOTSChallenge text format that
TrackEval reads (`core.results.mots_lines`: frame, track id, class id, height, width, RLE;
frames numbered from 1, only confirmed tracks), written when the run ends.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.detections import Instances
from ..core.results import mots_lines
from ..core.tracking import MaskTracker
from ..errors import describe_os_error
from .common import EXIT_USAGE, CliError, check_writable_file


def add_tracking_options(parser):
    """--track and --mots."""
    group = parser.add_argument_group('tracking options')
    group.add_argument('--track', action='store_true',
                       help='track instances over frames: "#id" in the overlays, track_id in '
                            'the outputs (null until a track is confirmed, on its 2nd frame)')
    group.add_argument('--mots', metavar='FILE',
                       help='with --track, write the tracks in the MOTSChallenge text format '
                            '(frame track_id class height width rle; what TrackEval reads)')


class RunTracks:
    """The tracker of one run and the MOTS lines of what it tracked (`--mots`)."""

    def __init__(self, mots_path: Path | None):
        self.tracker = MaskTracker()
        self.mots_path = mots_path
        self.lines: list[str] = []

    def update(self, frame: int, stamp_s: float, instances: Instances) -> np.ndarray:
        """The track ids of frame `frame`'s instances (1-based frame number, stamp in seconds)."""
        track_ids = self.tracker.update(stamp_s, instances)
        if self.mots_path is not None:
            self.lines += mots_lines(frame, instances, track_ids)
        return track_ids

    def write(self):
        """Write the MOTS file (when asked for); CliError naming why it could not be."""
        if self.mots_path is None:
            return
        try:
            self.mots_path.write_text(''.join(line + '\n' for line in self.lines))
        except OSError as error:
            raise CliError(f'cannot write {self.mots_path}: {describe_os_error(error)}') from None


def run_tracks(args) -> RunTracks | None:
    """The run's tracks with --track, else None; a usage error for --mots without --track."""
    mots_path = Path(args.mots).expanduser() if args.mots else None
    if mots_path is not None and not args.track:
        raise CliError('--mots needs --track', EXIT_USAGE)
    if mots_path is not None:
        check_writable_file(mots_path)
    return RunTracks(mots_path) if args.track else None
