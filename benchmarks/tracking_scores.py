"""The mask tracker's HOTA and IDF1 on the demo's sequences, against a naive baseline.

The built-in demo model segments every frame of the held-out sequences once
(`demo.tracking_evaluation`); the tracker and the naive baseline (greedy mask IoU between
consecutive processed frames, no motion) then see every frame, every 3rd and every 5th, with
the frames' real stamps. TrackEval scores the MOTSChallenge files written under
`$BENCH_WORK/tracking_scores/` (HOTA, Identity, CLEAR). Three tables:

- model: the model's detections against every annotated object;
- model, objects at least half visible: objects hidden more than half by nearer ones are
  ignore regions (the model was trained on scenes where each shape shows at least half);
- truth: perfect detections, the tracker's own limits.

Needs TrackEval: `pip install --no-deps trackeval==1.3.0`.

    python benchmarks/tracking_scores.py [--quick] [--sequences N]
"""

from __future__ import annotations

import argparse
import time

from bench_common import WORK, print_header

from instance_segmentation_ros.core.labels import load_label_map
from instance_segmentation_ros.core.tracking import TrackerSettings
from instance_segmentation_ros.demo.tracking_evaluation import (
    HELD_OUT_SEED,
    SEQUENCES,
    STRIDES,
    demo_sequences,
    evaluate_tracking,
    segment_sequences,
)
from instance_segmentation_ros.model.segmenter import Segmenter
from instance_segmentation_ros.model.source import builtin_model
from instance_segmentation_ros.model.tensorflow_model import SegmentationModel


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='one sequence')
    parser.add_argument('--sequences', type=int, default=SEQUENCES)
    parser.add_argument('--seed', type=int, default=HELD_OUT_SEED)
    args = parser.parse_args(argv)
    count = 1 if args.quick else args.sequences
    print_header('mask tracker against naive, TrackEval on the demo sequences', argv)
    settings = TrackerSettings()
    print(f'tracker settings: {settings}')
    sequences = demo_sequences(count, args.seed)
    saved_model, labels = builtin_model()
    segmenter = Segmenter(SegmentationModel(saved_model), load_label_map(labels))
    segmenter.model.warm_up(sequences[0].settings.height, sequences[0].settings.width)
    started = time.perf_counter()
    found = segment_sequences(segmenter, sequences)
    frames = sum(len(s) for s in sequences)
    print(f'{count} sequences, {frames} frames, '
          f'{len({(s.name, p.identity) for s in sequences for p in s.objects})} objects; '
          f'segmented in {time.perf_counter() - started:.0f} s')
    truth = segment_sequences(None, sequences)
    runs = [('model: every annotated object', 'model', found, 0.0),
            ('model: objects at least half visible (the rest ignore regions)',
             'model_half_visible', found, 0.5),
            ('truth: perfect detections', 'truth', truth, 0.0)]
    for title, folder, detections, min_visible in runs:
        started = time.perf_counter()
        report = evaluate_tracking(sequences, detections, WORK / 'tracking_scores' / folder,
                                   STRIDES, settings, folder, min_visible)
        print(f'\n### {title} (TrackEval {time.perf_counter() - started:.0f} s)\n')
        print(report.table())
    print(f'\nMOTSChallenge files and TrackEval summaries: {WORK / "tracking_scores"}')


if __name__ == '__main__':
    main()
