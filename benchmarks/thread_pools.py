"""Benchmark 7: model call time and CPU use for TensorFlow thread pool settings.

For each (intra_op_threads, inter_op_threads) pair, a fresh process loads the model as
segmentation_node does (`load_segmenter` with those parameters; default model: the built-in
demo model), warms it up, then calls `predict` on one camera-sized image for `--seconds` and
reports the median call time and the process's CPU time per wall second (cores in use). Fresh
processes, because TensorFlow fixes its thread pools once per process.

    python benchmarks/thread_pools.py [--model PATH] [--pairs 0,0 0,1 1,1] [--seconds 6]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import bench_common
from bench_common import markdown_table, median


def child(model: str, intra: int, inter: int, seconds: float, width: int, height: int):
    """Runs in the fresh process: prints one JSON line."""
    import numpy as np

    from instance_segmentation_ros.model.segmenter import choose_model, load_segmenter

    segmentation = load_segmenter(choose_model(model), device='cpu', intra_op_threads=intra,
                                  inter_op_threads=inter).model
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)
    segmentation.warm_up(height, width)
    calls = []
    wall, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < seconds:
        started = time.perf_counter()
        segmentation.predict(rgb)
        calls.append(time.perf_counter() - started)
    cores = (time.process_time() - cpu) / (time.perf_counter() - wall)
    print(json.dumps({'call_ms': 1000 * median(calls), 'cores': cores, 'calls': len(calls),
                      'model': segmentation.name}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='', help='model path (default: the demo model)')
    parser.add_argument('--pairs', nargs='+', default=['0,0', '0,1', '1,1', '2,2'],
                        help='intra,inter thread counts (0 = TensorFlow default)')
    parser.add_argument('--seconds', type=float, default=6.0)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--child', nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.model, *args.child, args.seconds, args.width, args.height)
        return 0
    bench_common.print_header('TensorFlow thread pools: model call time and CPU use')
    rows = []
    for pair in args.pairs:
        intra, inter = (int(n) for n in pair.split(','))
        command = [sys.executable, __file__, '--child', str(intra), str(inter),
                   '--model', args.model, '--seconds', str(args.seconds),
                   '--width', str(args.width), '--height', str(args.height)]
        output = subprocess.run(command, check=True, capture_output=True, text=True,
                                env=bench_common.ros_environment()).stdout
        result = json.loads(output.strip().splitlines()[-1])
        rows.append([result['model'], f'{args.width}x{args.height}', intra, inter,
                     f'{result["call_ms"]:.1f}', f'{result["cores"]:.2f}', result['calls']])
        print(f'intra {intra}, inter {inter}: {result["call_ms"]:.1f} ms, '
              f'{result["cores"]:.2f} cores', flush=True)
    print()
    print(markdown_table(['model', 'image', 'intra_op_threads', 'inter_op_threads',
                          'call ms (median)', 'cores in use', 'calls'], rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
