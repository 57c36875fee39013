"""The tracker's scores on generated sequences with exact identities, by TrackEval.

The built-in model segments every frame of the demo's sequences once; the tracker then sees
every frame, every 3rd and every 5th (what a slow model in `latest` mode hands it, with the
frames' real stamps), and so does a naive baseline (greedy mask IoU between consecutive
processed frames, no motion, no memory). Results and ground truth are written in the
MOTSChallenge text format and scored by TrackEval (HOTA, Identity, CLEAR): no counting here.

TrackEval's MOTSChallenge reader knows one class, pedestrian (class 2). So each sequence is
written once per shape class, `<sequence>-<class name>`, all with class 2: classes are scored
apart, as KITTI MOTS scores cars and pedestrians apart, and an instance given the wrong class
is a false positive in one and a miss in the other. Frame numbers are those of the processed
frames, 1-based (TrackEval wants 1..length); every sequence's combined row is what is reported.

With `min_visible`, objects of which less than that share is visible (hidden by nearer ones;
the demo model was trained on scenes where every shape shows at least half of itself) are
written as MOTS ignore regions (class 10) instead: TrackEval then neither counts them as
misses nor a track's mask on them as a false positive. That tells how much of a score the
model's misses of mostly hidden objects cost.

TrackEval is a test and evaluation requirement, not a run-time one: install it with
`pip install --no-deps trackeval==1.3.0` (its declared requirements add the GUI OpenCV wheel
beside the package's headless one and matplotlib for plots; what it uses of them here is
numpy, scipy and pycocotools, which the package has).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.detections import Instances, PostprocessSettings
from ..core.results import mots_lines
from ..core.tracking import MaskTracker, TrackerSettings
from .coco_truth import coco_rle
from .scenes import LABELS
from .sequences import Sequence, SequenceSettings, generate_sequence, truth_instances

HELD_OUT_SEED = 3  # as the still scenes: the model was trained on seeds 1 and 2
STRIDES = (1, 3, 5)
SEQUENCES = 4
TRACKEVAL_CLASS = 2  # MOTSChallenge's only class
TRACKEVAL_IGNORE = 10  # MOTSChallenge's ignore regions
NAIVE_MIN_IOU = 0.1


@dataclass
class TrackingScore:
    """TrackEval's figures for one tracker at one stride, over every sequence and class."""

    tracker: str
    stride: int
    hota: float
    det_a: float
    ass_a: float
    det_re: float
    det_pr: float
    loc_a: float
    recall_50: float
    precision_50: float
    idf1: float
    id_switches: int
    fragmentations: int


@dataclass
class TrackingReport:
    """Scores by tracker and stride, with what they were measured on."""

    detections: str  # 'model' or 'truth'
    min_visible: float  # objects less visible than this are ignore regions
    sequences: int
    frames: int
    objects: int
    scores: list[TrackingScore] = field(default_factory=list)

    def score(self, tracker: str, stride: int) -> TrackingScore:
        """The row of `tracker` at `stride`."""
        return next(s for s in self.scores if s.tracker == tracker and s.stride == stride)

    def table(self) -> str:
        """The scores as an aligned text table."""
        lines = [f'{"tracker":<14}{"frames":>8}{"HOTA":>7}{"IDF1":>7}{"DetA":>7}{"AssA":>7}'
                 f'{"DetRe":>7}{"DetPr":>7}{"LocA":>7}{"Re50":>7}{"Pr50":>7}{"IDSW":>6}'
                 f'{"Frag":>6}']
        for s in self.scores:
            every = 'every' if s.stride == 1 else f'1 in {s.stride}'
            lines.append(f'{s.tracker:<14}{every:>8}{s.hota:7.3f}{s.idf1:7.3f}{s.det_a:7.3f}'
                         f'{s.ass_a:7.3f}{s.det_re:7.3f}{s.det_pr:7.3f}{s.loc_a:7.3f}'
                         f'{s.recall_50:7.3f}{s.precision_50:7.3f}{s.id_switches:6d}'
                         f'{s.fragmentations:6d}')
        return '\n'.join(lines)


class NaiveTracker:
    """The baseline: greedy mask IoU between consecutive processed frames, no motion.

    Each instance takes the id of the previous processed frame's instance of its class that it
    overlaps most (at least NAIVE_MIN_IOU, best pairs first), else a new id.
    """

    def __init__(self, min_iou: float = NAIVE_MIN_IOU):
        self.min_iou = min_iou
        self._previous: tuple[Instances, np.ndarray] | None = None
        self._last_id = 0

    def update(self, stamp_s: float, instances: Instances) -> np.ndarray:
        """One id per instance (stamps are not used: no motion)."""
        count = len(instances)
        ids = np.zeros(count, np.int64)
        if self._previous is not None and count and len(self._previous[0]):
            before, before_ids = self._previous
            joint = (before.label_image.astype(np.int64) * 256
                     + instances.label_image.astype(np.int64))
            table = np.bincount(joint.ravel(), minlength=256 * 256).reshape(256, 256)
            old = np.arange(1, len(before) + 1)
            new = np.arange(1, count + 1)
            intersection = table[old][:, new].astype(np.float64)
            union = (table[old].sum(axis=1)[:, None] + table[:, new].sum(axis=0)[None, :]
                     - intersection)
            iou = np.where(union > 0, intersection / np.maximum(union, 1), 0.0)
            iou[before.classes[:, None] != instances.classes[None, :]] = 0.0
            taken_old = np.zeros(len(before), bool)
            for flat in np.argsort(-iou, axis=None):
                o, n = np.unravel_index(flat, iou.shape)
                if iou[o, n] < self.min_iou:
                    break
                if not taken_old[o] and not ids[n]:
                    taken_old[o], ids[n] = True, before_ids[o]
        for n in np.flatnonzero(ids == 0):
            if instances.areas[n] > 0:
                self._last_id += 1
                ids[n] = self._last_id
        self._previous = (instances, ids)
        return ids


def demo_sequences(count: int = SEQUENCES, seed: int = HELD_OUT_SEED,
                   settings: SequenceSettings | None = None) -> list[Sequence]:
    """The held-out sequences the evaluation runs on."""
    return [generate_sequence(seed, index, settings) for index in range(count)]


def segment_sequences(segmenter, sequences: Iterable[Sequence],
                      settings: PostprocessSettings | None = None,
                      progress: Callable[[str, int], None] | None = None
                      ) -> dict[str, list[Instances]]:
    """Every frame's instances from the model (`segmenter`), or the truth when it is None.

    Each frame is segmented once; the strides pick from these, as a model in `latest` mode
    would have been given those frames alone.
    """
    settings = settings or PostprocessSettings()
    found = {}
    for sequence in sequences:
        frames = []
        for frame in sequence.frames():
            if segmenter is None:
                frames.append(truth_instances(frame)[0])
            else:
                frames.append(segmenter.segment(frame.bgr, settings).instances)
            if progress is not None:
                progress(sequence.name, frame.index)
        found[sequence.name] = frames
    return found


def evaluate_tracking(sequences: list[Sequence], detections: dict[str, list[Instances]],
                      out_dir: Path, strides: Iterable[int] = STRIDES,
                      tracker_settings: TrackerSettings | None = None,
                      detections_name: str = 'model', min_visible: float = 0.0,
                      trackers: dict[str, Callable[[], object]] | None = None
                      ) -> TrackingReport:
    """Track `detections` at each stride with the tracker and the naive baseline; score both.

    `trackers` replaces them: name -> a function making a fresh tracker (anything with
    `update(stamp_s, instances) -> ids`, 0 for none), one per sequence and stride.

    Writes `out_dir/every_<stride>/gt/<seq>-<class>/gt/gt.txt` and
    `out_dir/every_<stride>/trackers/<tracker>/data/<seq>-<class>.txt` (MOTSChallenge text),
    and TrackEval's summaries beside the results.
    """
    tracker_settings = tracker_settings or TrackerSettings()
    report = TrackingReport(detections_name, min_visible, len(sequences),
                            sum(len(sequence) for sequence in sequences),
                            len({(s.name, o.identity) for s in sequences for o in s.objects}))
    makers = trackers or {'mask_tracker': lambda: MaskTracker(tracker_settings),
                          'naive': NaiveTracker}
    for stride in strides:
        folder = Path(out_dir) / f'every_{stride}'
        lengths = {}
        for sequence in sequences:
            frames = list(sequence.frames(stride))
            lengths.update(_write_truth(folder / 'gt', sequence.name, frames, min_visible))
            for name, make in makers.items():
                tracker = make()
                rows = []
                for step, frame in enumerate(frames, start=1):
                    instances = detections[sequence.name][frame.index]
                    ids = tracker.update(frame.stamp_s, instances)
                    rows.append((step, instances, ids))
                _write_results(folder / 'trackers' / name / 'data', sequence.name, rows)
        for name, figures in _trackeval_scores(folder, lengths, list(makers)).items():
            report.scores.append(TrackingScore(name, stride, **figures))
    return report


def run_tracking_evaluation(segmenter, out_dir: Path, count: int = SEQUENCES,
                            seed: int = HELD_OUT_SEED, strides: Iterable[int] = STRIDES,
                            tracker_settings: TrackerSettings | None = None,
                            postprocess_settings: PostprocessSettings | None = None,
                            sequence_settings: SequenceSettings | None = None,
                            progress: Callable[[str, int], None] | None = None,
                            min_visible: float = 0.0) -> TrackingReport:
    """Segment, track and score `count` held-out sequences (`evaluate_tracking`).

    `segmenter` None gives perfect detections (the truth): the tracker's own limits.
    """
    sequences = demo_sequences(count, seed, sequence_settings)
    detections = segment_sequences(segmenter, sequences, postprocess_settings, progress)
    return evaluate_tracking(sequences, detections, out_dir, strides, tracker_settings,
                             'truth' if segmenter is None else 'model', min_visible)


def _write_truth(folder: Path, name: str, frames, min_visible: float) -> dict[str, int]:
    """One MOTSChallenge ground-truth file per class; returns {sequence name: length}."""
    lengths = {}
    for class_id, label in enumerate(LABELS, start=1):
        lines = []
        for step, frame in enumerate(frames, start=1):
            for truth in frame.objects:
                if truth.class_id == class_id:
                    rle = coco_rle(truth.mask)
                    kind = TRACKEVAL_CLASS if truth.visible >= min_visible else TRACKEVAL_IGNORE
                    lines.append(f'{step} {truth.identity} {kind} '
                                 f'{rle["size"][0]} {rle["size"][1]} {rle["counts"]}')
        sequence = f'{name}-{label}'
        path = folder / sequence / 'gt' / 'gt.txt'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(''.join(line + '\n' for line in lines))
        (folder / sequence / 'seqinfo.ini').write_text(
            f'[Sequence]\nname={sequence}\nseqLength={len(frames)}\n')
        lengths[sequence] = len(frames)
    return lengths


def _write_results(folder: Path, name: str, rows):
    """One MOTSChallenge results file per class; instances without an id are left out."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = {class_id: [] for class_id in range(1, len(LABELS) + 1)}
    for step, instances, ids in rows:
        for class_id, class_lines in lines.items():
            class_lines += mots_lines(step, instances, np.where(instances.classes == class_id,
                                                                ids, 0),
                                      lambda _: TRACKEVAL_CLASS)
    for class_id, label in enumerate(LABELS, start=1):
        (folder / f'{name}-{label}.txt').write_text(
            ''.join(line + '\n' for line in lines[class_id]))


def _trackeval_scores(folder: Path, lengths: dict[str, int],
                      trackers: list[str]) -> dict[str, dict]:
    """TrackEval's HOTA, Identity and CLEAR over all sequences, per tracker."""
    with contextlib.redirect_stdout(io.StringIO()):  # its imports and runs print progress
        import trackeval

        evaluator = trackeval.Evaluator({
            'USE_PARALLEL': False, 'PRINT_RESULTS': False, 'PRINT_CONFIG': False,
            'TIME_PROGRESS': False, 'OUTPUT_SUMMARY': True, 'OUTPUT_DETAILED': False,
            'PLOT_CURVES': False, 'LOG_ON_ERROR': None, 'BREAK_ON_ERROR': True})
        dataset = trackeval.datasets.MOTSChallenge({
            'GT_FOLDER': str(folder / 'gt'), 'TRACKERS_FOLDER': str(folder / 'trackers'),
            'SKIP_SPLIT_FOL': True, 'SEQ_INFO': dict(lengths), 'TRACKERS_TO_EVAL': trackers,
            'CLASSES_TO_EVAL': ['pedestrian'], 'PRINT_CONFIG': False})
        metrics = [trackeval.metrics.HOTA({'PRINT_CONFIG': False}),
                   trackeval.metrics.Identity({'PRINT_CONFIG': False}),
                   trackeval.metrics.CLEAR({'PRINT_CONFIG': False})]
        results, _ = evaluator.evaluate([dataset], metrics)
    by_tracker = next(iter(results.values()))
    scores = {}
    for name in trackers:
        combined = by_tracker[name]['COMBINED_SEQ']['pedestrian']
        scores[name] = {
            'hota': float(np.mean(combined['HOTA']['HOTA'])),
            'det_a': float(np.mean(combined['HOTA']['DetA'])),
            'ass_a': float(np.mean(combined['HOTA']['AssA'])),
            'det_re': float(np.mean(combined['HOTA']['DetRe'])),
            'det_pr': float(np.mean(combined['HOTA']['DetPr'])),
            'loc_a': float(np.mean(combined['HOTA']['LocA'])),
            'recall_50': float(combined['CLEAR']['CLR_Re']),
            'precision_50': float(combined['CLEAR']['CLR_Pr']),
            'idf1': float(combined['Identity']['IDF1']),
            'id_switches': int(combined['CLEAR']['IDSW']),
            'fragmentations': int(combined['CLEAR']['Frag'])}
    return scores
