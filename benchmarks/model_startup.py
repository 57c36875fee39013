"""Benchmark 4: model start-up per export format - load, warm-up, first frame vs steady state.

For each of the four formats (tiny real exports, compute_seconds=0 by default, so that any
first-call cost stands out against a model call of a few ms), and for the built-in demo model
(a trained Model Garden Mask R-CNN: the one real model at hand offline), a fresh process imports
TensorFlow, loads the model as segmentation_node does (`SegmentationModel`), runs the node's
start-up warm-up (`warm_up()`, a blank 640x480 image), then segments 1280x720 camera frames
(`Segmenter.segment`: colour conversion, model, post-processing). The same is done without any
warm-up, to show what it buys, and with the warm-up at the frames' own size (1280x720), to show
whether the size of the warm-up image matters. A first frame is one sample, so every row is
measured in three fresh processes and reported as their medians, with each process's ratio.

    python benchmarks/model_startup.py [--quick] [--compute-seconds T] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

STARTED = time.perf_counter()

import bench_common  # noqa: E402 - the clock above starts before any import
from bench_common import markdown_table, median  # noqa: E402

FORMATS = ('tf2_od_api', 'tf1_frozen_graph', 'tf1_od_api', 'model_garden')
BUILTIN = 'builtin_demo_model'


WARMUPS = {'640x480': 'node default (640x480)', 'none': 'none',
           '1280x720': 'frame size (1280x720)'}


def child(model: str, warmup: str, frames: int):
    """Runs in the fresh process: prints one JSON line of timings."""
    import os

    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    before_tf = time.perf_counter()
    import tensorflow  # noqa: F401 - timed on its own
    from camera_publisher import scene_bgr

    from instance_segmentation_ros.core.detections import PostprocessSettings
    from instance_segmentation_ros.core.labels import coco_label_map
    from instance_segmentation_ros.model.segmenter import Segmenter
    from instance_segmentation_ros.model.tensorflow_model import SegmentationModel

    imported = time.perf_counter()
    model_object = SegmentationModel(model)
    loaded = time.perf_counter()
    if warmup == 'none':
        warm_up_s = 0.0
    else:
        width, height = (int(v) for v in warmup.split('x'))
        warm_up_s = model_object.warm_up(height, width)
    segmenter = Segmenter(model_object, coco_label_map())
    bgr = scene_bgr(720, 1280)
    settings = PostprocessSettings()
    times, inference = [], []
    for _ in range(frames):
        begin = time.perf_counter()
        result = segmenter.segment(bgr, settings)
        times.append(time.perf_counter() - begin)
        inference.append(result.inference_s)
    print(json.dumps({
        'format': model_object.format, 'instances': len(result.instances),
        'process_to_import_s': before_tf - STARTED, 'import_tf_s': imported - before_tf,
        'load_s': model_object.load_seconds, 'load_wall_s': loaded - imported,
        'warm_up_s': warm_up_s, 'first_frame_s': times[0], 'first_inference_s': inference[0],
        'second_frame_s': times[1], 'steady_frame_s': median(times[2:]),
        'steady_inference_s': median(inference[2:]),
        'ready_s': loaded - STARTED + warm_up_s,
    }), flush=True)


def model_for(model_format: str, compute_seconds: float) -> str:
    if model_format == BUILTIN:
        from instance_segmentation_ros.model.source import builtin_model

        return str(builtin_model()[0])
    return bench_common.model_path(model_format, compute_seconds)


def measure(model_format: str, compute_seconds: float, warmup: str, frames: int) -> dict:
    model = model_for(model_format, compute_seconds)
    command = [sys.executable, __file__, '--child', model, '--frames', str(frames),
               '--warmup', warmup]
    started = time.perf_counter()
    output = subprocess.run(command, check=True, capture_output=True, text=True,
                            env=bench_common.ros_environment()).stdout
    result = json.loads(output.strip().splitlines()[-1])
    result['process_wall_s'] = time.perf_counter() - started
    result['first_over_steady'] = result['first_frame_s'] / result['steady_frame_s']
    return result


def measure_repeated(model_format: str, compute_seconds: float, warmup: str, frames: int,
                     repeats: int) -> dict:
    """`repeats` fresh processes; every figure is their median (one first frame is noisy)."""
    runs = [measure(model_format, compute_seconds, warmup, frames) for _ in range(repeats)]
    result = {key: median([run[key] for run in runs]) if isinstance(value, float) else value
              for key, value in runs[0].items()}
    result['first_over_steady_runs'] = [run['first_over_steady'] for run in runs]
    result['warmup'] = warmup
    result['model'] = model_format
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='fewer frames (smoke run)')
    parser.add_argument('--compute-seconds', type=float, default=0.0,
                        help='model time T of the tiny models (default 0: a few ms)')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--warmup', default='640x480', help=argparse.SUPPRESS)
    parser.add_argument('--frames', type=int, help='frames per process (default 40, quick 12)')
    parser.add_argument('--repeats', type=int, help='fresh processes per row (default 3, quick 1)')
    args = parser.parse_args(argv)
    frames = args.frames or (12 if args.quick else 40)
    repeats = args.repeats or (1 if args.quick else 3)
    if args.child:
        child(args.child, args.warmup, frames)
        return 0
    bench_common.print_header(f'Model start-up per format (tiny models, compute_seconds='
                              f'{args.compute_seconds:g}, 1280x720 frames, medians of '
                              f'{repeats} processes)')
    results = []
    for model_format in (*FORMATS, BUILTIN):
        model_for(model_format, args.compute_seconds)
        for warmup in WARMUPS:
            result = measure_repeated(model_format, args.compute_seconds, warmup, frames,
                                      repeats)
            results.append(result)
            print(f'{model_format} warm-up {warmup}: load {result["load_s"]:.2f} s, first '
                  f'{1000 * result["first_frame_s"]:.1f} ms, steady '
                  f'{1000 * result["steady_frame_s"]:.1f} ms', flush=True)
    print()

    def label(r):
        return r['format'] if r['model'] != BUILTIN else f'{r["format"]} (built-in demo model)'

    print(markdown_table(
        ['format', 'warm-up', 'import TF s', 'load s', 'warm-up s', 'first frame ms',
         '2nd frame ms', 'steady ms (median)', 'first / steady', 'each process',
         'process start -> ready s'],
        [[label(r), WARMUPS[r['warmup']], f'{r["import_tf_s"]:.2f}',
          f'{r["load_s"]:.2f}', f'{r["warm_up_s"]:.2f}' if r['warmup'] != 'none' else '-',
          f'{1000 * r["first_frame_s"]:.1f}', f'{1000 * r["second_frame_s"]:.1f}',
          f'{1000 * r["steady_frame_s"]:.1f}', f'{r["first_over_steady"]:.2f}',
          ' / '.join(f'{v:.2f}' for v in r['first_over_steady_runs']),
          f'{r["ready_s"]:.2f}'] for r in results]))
    print()
    for r in results:
        if r['warmup'] != 'none':
            ok = r['first_over_steady'] <= 1.5
            print(f'target first frame <= 1.5 x steady, {label(r)}, warm-up '
                  f'{WARMUPS[r["warmup"]]}: {"met" if ok else "NOT met"} '
                  f'({r["first_over_steady"]:.2f}x)')
    bench_common.save_json('model_startup.json', results)
    return 0


if __name__ == '__main__':
    sys.exit(main())
