"""Benchmark 12: seconds per frame in fp32 and in bfloat16 (oneDNN AMP), back to back, per model.

For each model - the built-in demo model, the tiny TF2 OD API and TF1 frozen graph exports
(compute_seconds=0), and any `--model` given (a zoo model folder or SavedModel) - the model is
loaded twice through the package's loader (`SegmentationModel`, precision fp32 and bf16), both
are warmed up on the frame, then the two are called in turn on the same 640x480 frame (a
generated demo scene), so that the machine's load falls on both alike. Prints the median
seconds per frame of each, their ratio, what `auto` picks at warm-up and what that warm-up
costs (a third load of the model, `warm_up` timed), and the largest
difference between the two in boxes, scores and masks (each fp32 detection against the bf16
detection of its class with the nearest box), with the CPU's bfloat16 flags.

    python benchmarks/precision.py [--frames N] [--model PATH ...] [--given-only]

`--given-only` times only the `--model` models (a zoo model takes seconds per frame).
"""

from __future__ import annotations

import argparse
import time

import bench_common
import numpy as np
from bench_common import markdown_table, median

from instance_segmentation_ros.demo.scenes import SceneSettings, generate_scene
from instance_segmentation_ros.model.precision import native_bfloat16, read_cpu_flags
from instance_segmentation_ros.model.source import locate_model, resolve_model
from instance_segmentation_ros.model.tensorflow_model import SegmentationModel


def largest_differences(fp32, bf16) -> tuple[float, float, float, int]:
    """Largest |bf16 - fp32| of boxes, scores and masks, each fp32 detection against its twin.

    The twin is the bf16 detection of the same class with the nearest box: a model whose scores
    are nearly tied (random weights) reorders its detections between precisions, so matching
    by rank would compare different objects.
    """
    if not len(fp32.scores) or not len(bf16.scores):
        return 0.0, 0.0, 0.0, 0
    boxes = scores = masks = 0.0
    count = 0
    for box, score, mask, class_id in zip(fp32.boxes, fp32.scores, fp32.masks, fp32.classes,
                                          strict=True):
        same_class = np.flatnonzero(bf16.classes == class_id)
        if not same_class.size:
            continue
        distance = np.abs(bf16.boxes[same_class] - box).max(axis=1)
        twin = same_class[int(distance.argmin())]
        boxes = max(boxes, float(distance.min()))
        scores = max(scores, float(abs(bf16.scores[twin] - score)))
        masks = max(masks, float(np.abs(bf16.masks[twin] - mask).max()))
        count += 1
    return boxes, scores, masks, count


def measure(name: str, source, rgb: np.ndarray, frames: int) -> dict:
    """Both precisions of one model, timed in turn on `rgb`; `auto`'s choice at warm-up."""
    models = {precision: SegmentationModel(source, 'cpu', precision=precision)
              for precision in ('fp32', 'bf16')}
    results = {precision: model.predict(rgb) for precision, model in models.items()}
    seconds = {precision: [] for precision in models}
    for _ in range(frames):
        for precision, model in models.items():
            started = time.perf_counter()
            model.predict(rgb)
            seconds[precision].append(time.perf_counter() - started)
    auto = SegmentationModel(source, 'cpu', precision='auto')
    auto_warm_up_s = auto.warm_up(rgb.shape[0], rgb.shape[1])
    fp32_s, bf16_s = median(seconds['fp32']), median(seconds['bf16'])
    boxes, scores, masks, count = largest_differences(results['fp32'], results['bf16'])
    return {'model': name, 'fp32_s': fp32_s, 'bf16_s': bf16_s, 'speed-up': fp32_s / bf16_s,
            'auto': auto.precision_note, 'auto_warm_up_s': auto_warm_up_s, 'compared': count,
            'boxes': boxes, 'scores': scores, 'masks': masks}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=10, help='frames per precision')
    parser.add_argument('--model', action='append', default=[],
                        help='also this model (zoo folder, SavedModel, frozen graph)')
    parser.add_argument('--given-only', action='store_true',
                        help='only the --model models, not the built-in and tiny ones')
    args = parser.parse_args()
    bench_common.print_header('precision: fp32 against bf16 (oneDNN AMP)')
    flags = read_cpu_flags()
    print(f'bfloat16 flags of this CPU: {", ".join(native_bfloat16(flags)) or "none"}')
    rgb = generate_scene(7, 0, SceneSettings(width=640, height=480)).image
    sources = []
    if not args.given_only:
        sources.append(('built-in demo model', resolve_model(None, '').source))
        for model_format in ('tf2_od_api', 'tf1_frozen_graph'):
            sources.append((f'tiny {model_format}',
                            locate_model(bench_common.model_path(model_format, 0.0))))
    sources += [(path, locate_model(path)) for path in args.model]
    rows = []
    for name, source in sources:
        row = measure(name, source, rgb, args.frames)
        rows.append(row)
        print(f'{name}: fp32 {row["fp32_s"]:.3f} s, bf16 {row["bf16_s"]:.3f} s per frame; '
              f'{row["auto"]} (warm-up {row["auto_warm_up_s"]:.1f} s)', flush=True)
    print(markdown_table(
        ['model', 'fp32 s/frame', 'bf16 s/frame', 'fp32/bf16', 'auto at warm-up', 'auto warm-up s',
         'detections compared', 'max |d box|', 'max |d score|', 'max |d mask|'],
        [[r['model'], f'{r["fp32_s"]:.3f}', f'{r["bf16_s"]:.3f}', f'{r["speed-up"]:.2f}',
          r['auto'], f'{r["auto_warm_up_s"]:.1f}', r['compared'], f'{r["boxes"]:.4f}',
          f'{r["scores"]:.4f}', f'{r["masks"]:.4f}'] for r in rows]))
    bench_common.save_json('precision', rows)


if __name__ == '__main__':
    main()
