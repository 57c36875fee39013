"""Benchmark 6: whether XLA (`jit_compile=True`) speeds up a model's serving signature.

Loads a model as segmentation_node does (`load_segmenter`, default: the built-in demo
model, a trained Model Garden Mask R-CNN), then times its serving signature called as the node
calls it and the same signature wrapped in `tf.function(jit_compile=True)`, on one camera-sized
image: XLA's compile time (first call) and the medians of both. Decides whether an XLA option
is worth offering on the device at hand (`--device cpu` or `gpu:0`).

    python benchmarks/xla_compile.py [--model PATH] [--device auto] [--width 640 --height 480]
"""

from __future__ import annotations

import argparse
import sys
import time

import bench_common
from bench_common import markdown_table, median


def timed_median(function, calls: int) -> float:
    function()
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return 1000 * median(seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', help='model path (default: the built-in demo model)')
    parser.add_argument('--device', default='auto')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--calls', type=int, default=15)
    args = parser.parse_args(argv)
    bench_common.print_header('XLA compilation of the serving signature')

    import numpy as np
    import tensorflow as tf

    from instance_segmentation_ros.model.segmenter import choose_model, load_segmenter

    model = load_segmenter(choose_model(args.model), device=args.device).model
    rgb = np.random.default_rng(0).integers(0, 256, (args.height, args.width, 3), np.uint8)
    batch = tf.convert_to_tensor(rgb[np.newaxis])
    signature, key = model._function, model._input_key  # what predict() calls

    def call(function):
        return lambda: function(**{key: batch}) if key else function(batch)

    compiled = tf.function(lambda x: signature(**{key: x}) if key else signature(x),
                           jit_compile=True)
    plain_ms = timed_median(call(signature), args.calls)
    started = time.perf_counter()
    try:
        compiled(batch)
    except Exception as error:  # XLA refuses ops it cannot compile
        print(f'XLA cannot compile {model.name}: {str(error).splitlines()[0]}')
        return 1
    compile_s = time.perf_counter() - started
    xla_ms = timed_median(lambda: compiled(batch), args.calls)
    print(markdown_table(
        ['model', 'device', 'image', 'plain ms (median)', 'XLA compile s', 'XLA ms (median)',
         'XLA / plain'],
        [[model.name, args.device, f'{args.width}x{args.height}', f'{plain_ms:.1f}',
          f'{compile_s:.1f}', f'{xla_ms:.1f}', f'{xla_ms / plain_ms:.2f}']]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
