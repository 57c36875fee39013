"""Benchmark 9: the lifecycle node's memory (RSS) through configure, cleanup and configure again.

The node process (`python -m instance_segmentation_ros.ros.segmentation_lifecycle_node`) is driven
through its lifecycle services from this process: unconfigured, configure, activate and
segment 1280x720 frames, deactivate, cleanup, configure again, and so on; its RSS is read from
/proc after each step, once with TensorFlow's default CPU allocator and once with
`TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1` (oneDNN's allocator keeps large freed blocks in a pool of its
own; the system allocator gives them back); the frames' median round trip shows what the
setting costs per frame. Models: the built-in demo model (a trained Model Garden Mask R-CNN,
19 MB of weights), a bigger tiny TF2 export (`weights_mb=250`: 250 MB of weights, the order
of a large zoo Mask R-CNN's) and the plain tiny TF2 export.

A second part loads each model in a fresh process without ROS and reads RSS after each step of
the release that cleanup does (`model.release_memory`): the model dropped, gc.collect,
malloc_trim, to show what each gives back.

    python benchmarks/lifecycle_memory.py [--quick] [--frames N] [--cycles N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import bench_common
from bench_common import markdown_table

NODE = '/segmentation/segmentation_node'
SYSTEM_ALLOCATOR = 'TF_ONEDNN_USE_SYSTEM_ALLOCATOR'


def models(quick: bool) -> dict[str, str]:
    """Label -> model_path ('' is the built-in model)."""
    chosen = {'built-in demo model': '',
              'bigger tiny model (TF2, 250 MB of weights)': bench_common.model_path(
                  'tf2_od_api', 0.0, weights_mb=250)}
    if not quick:
        chosen['tiny TF2 model'] = bench_common.model_path('tf2_od_api', 0.0)
    return chosen


class Driver(bench_common.SpinningNode):
    """Asks for transitions and sends frames, one at a time, waiting for each result."""

    def __init__(self):
        from camera_publisher import scene_bgr
        from lifecycle_msgs.srv import ChangeState
        from sensor_msgs.msg import Image
        from std_msgs.msg import String

        from instance_segmentation_ros.core.image_conversion import fill_image_msg

        super().__init__('lifecycle_memory_driver')
        self.change_state = self.node.create_client(ChangeState, NODE + '/change_state')
        self.request_type = ChangeState.Request
        self.publisher = self.node.create_publisher(Image, '/segmentation/image', 1)
        self.message = fill_image_msg(Image(), scene_bgr(720, 1280), 'bgr8')
        self.answered = threading.Event()
        self.node.create_subscription(String, '/segmentation/detections_json',
                                      lambda message: self.answered.set(), 10)

    def change(self, label: str):
        if not bench_common.wait_until(self.change_state.service_is_ready, 120):
            raise SystemExit('the lifecycle node did not come up (see its log)')
        request = self.request_type()
        request.transition.label = label
        future = self.change_state.call_async(request)
        if not bench_common.wait_until(future.done, 300) or not future.result().success:
            raise SystemExit(f'transition {label} failed (see the node log)')

    def segment(self, frames: int) -> float:
        """Median seconds from publishing a frame to its result (the first frame left out)."""
        round_trips = []
        for index in range(frames + 1):
            self.answered.clear()
            self.message.header.stamp.sec = index
            sent = time.perf_counter()
            while not self.answered.wait(0.5):  # until subscribed: the first is lost
                self.publisher.publish(self.message)
                sent = time.perf_counter()
            round_trips.append(time.perf_counter() - sent)
        return bench_common.median(round_trips[1:])


def node_run(model_path: str, frames: int, cycles: int,
             system_allocator: bool) -> list[tuple[str, float]]:
    """RSS (MiB) of a lifecycle node process after each step, and its frames' round trip."""
    command = [sys.executable, '-m', 'instance_segmentation_ros.ros.segmentation_lifecycle_node',
               '--ros-args', '-r', '__ns:=/segmentation', '-p', 'input_reliability:=reliable',
               '-p', 'warmup_width:=1280', '-p', 'warmup_height:=720']
    if model_path:  # else the built-in model
        command += ['-p', f'model_path:={model_path}']
    if system_allocator:
        os.environ[SYSTEM_ALLOCATOR] = '1'
    process = bench_common.start(command, 'lifecycle_memory_node.log')
    os.environ.pop(SYSTEM_ALLOCATOR, None)
    driver = Driver()
    figures = []
    try:
        bench_common.wait_until(driver.change_state.service_is_ready, 120)
        figures.append(('unconfigured (started)', bench_common.rss_mb(process.pid)))
        for cycle in range(1, cycles + 1):
            driver.change('configure')
            figures.append((f'configure {cycle}', bench_common.rss_mb(process.pid)))
            driver.change('activate')
            round_trip = driver.segment(frames)
            figures.append((f'active, {frames} frames', bench_common.rss_mb(process.pid)))
            figures.append((f'frame round trip {cycle}, median ms', round_trip * 1000))
            driver.change('deactivate')
            driver.change('cleanup')
            figures.append((f'cleanup {cycle}', bench_common.rss_mb(process.pid)))
    finally:
        driver.close()
        bench_common.stop(process)
    return figures


def release_steps(model_path: str):
    """Runs in a fresh process: RSS after import, load + warm-up and each release step."""
    import ctypes
    import gc
    from pathlib import Path

    from instance_segmentation_ros.model.segmenter import choose_model, load_segmenter
    from instance_segmentation_ros.model.tensorflow_model import configure_tensorflow

    def rss():
        for line in Path('/proc/self/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0

    configure_tensorflow()
    steps = [('TensorFlow imported', rss())]
    model = load_segmenter(choose_model(model_path)).model
    model.warm_up(720, 1280)
    steps.append(('loaded and warmed up', rss()))
    del model
    steps.append(('model dropped', rss()))
    gc.collect()
    steps.append(('gc.collect', rss()))
    ctypes.CDLL(None).malloc_trim(0)
    steps.append(('malloc_trim', rss()))
    print(json.dumps(steps))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='two models, one frame, 2 cycles')
    parser.add_argument('--frames', type=int, default=10)
    parser.add_argument('--cycles', type=int, default=3)
    parser.add_argument('--release-steps', metavar='MODEL_PATH', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.release_steps is not None:
        return release_steps(args.release_steps)
    frames, cycles = (1, 2) if args.quick else (args.frames, args.cycles)
    bench_common.print_header('Lifecycle node memory: RSS through configure and cleanup')
    results = {}
    for label, path in models(args.quick).items():
        default, system = (node_run(path, frames, cycles, system_allocator)
                           for system_allocator in (False, True))
        child = subprocess.run([sys.executable, __file__, '--release-steps', path],
                               capture_output=True, text=True, check=True,
                               env=bench_common.ros_environment())
        steps = json.loads(child.stdout.strip().splitlines()[-1])
        results[label] = {'node': default, 'node_system_allocator': system,
                          'release_steps': steps}
        print(f'### {label}\n')
        print(markdown_table(
            ['node step', 'RSS MiB (default)', f'RSS MiB ({SYSTEM_ALLOCATOR}=1)'],
            [(name, f'{value:.0f}', f'{other:.0f}')
             for (name, value), (_, other) in zip(default, system, strict=True)]))
        print()
        print(markdown_table(['in-process step (no ROS)', 'RSS MiB'],
                             [(name, f'{value:.0f}') for name, value in steps]))
        print(flush=True)
    print(f'raw results: {bench_common.save_json("lifecycle_memory.json", results)}')


if __name__ == '__main__':
    main()
