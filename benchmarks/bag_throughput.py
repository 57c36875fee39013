"""The bag command's frames per second against the model-bound rate 1/T.

A bag of FRAMES generated 640x480 scenes (with `--depth` an aligned depth image and its
camera_info beside each frame, so that the 3D outputs are made too) is segmented by the bag
command, one local process, with (1) the built-in demo model and (2) a tiny model of fixed
time T (`--fixed-time`). T is the mean model call of the run itself, read from the
`inference_ms` of the output's detections_json; 1/T is the rate the model alone allows, and
rate x T the share of it that the command reaches (1.0: the model is all the cost). The rate
is the command's own (segmenting, not loading the model); the rest of the time per frame,
1/rate - T, is reading, decoding, post-processing and writing the bag.

    python benchmarks/bag_throughput.py [--frames 30] [--fixed-time 0.05] [--depth]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_common import WORK, console_script, markdown_table, model_path, print_header, save_json

RATE = re.compile(r'([0-9.]+) frames/s')
HEIGHT, WIDTH = 480, 640


def write_bag(path: Path, frames: int, depth: bool):
    """Scenes on /cam/color/image_raw, 10 per second; with `depth` their aligned depth."""
    import numpy as np
    import tiny_models
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    types = store.types

    def header(index):
        return types['std_msgs/msg/Header'](stamp=types['builtin_interfaces/msg/Time'](
            sec=1000 + index // 10, nanosec=index % 10 * 10**8), frame_id='cam')

    def image(index, array, encoding):
        data = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
        return store.serialize_cdr(types['sensor_msgs/msg/Image'](
            header=header(index), height=HEIGHT, width=WIDTH, encoding=encoding,
            is_bigendian=0, step=len(data) // HEIGHT, data=data), 'sensor_msgs/msg/Image')

    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        add = {topic: writer.add_connection(topic, msgtype, typestore=store)
               for topic, msgtype in (
                   ('/cam/color/image_raw', 'sensor_msgs/msg/Image'),
                   ('/cam/aligned_depth_to_color/image_raw', 'sensor_msgs/msg/Image'),
                   ('/cam/aligned_depth_to_color/camera_info', 'sensor_msgs/msg/CameraInfo'))
               if depth or 'color' in topic}
        if depth:
            info = types['sensor_msgs/msg/CameraInfo'](
                header=header(0), height=HEIGHT, width=WIDTH, distortion_model='plumb_bob',
                d=np.zeros(5), k=np.array([500.0, 0, WIDTH / 2, 0, 500.0, HEIGHT / 2, 0, 0, 1]),
                r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
                roi=types['sensor_msgs/msg/RegionOfInterest'](
                    x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
            writer.write(add['/cam/aligned_depth_to_color/camera_info'], 10**9,
                         store.serialize_cdr(info, 'sensor_msgs/msg/CameraInfo'))
        for index in range(frames):
            rgb, masks = tiny_models.draw_scene(HEIGHT, WIDTH, seed=index)
            log_time = (10 + index) * 10**8
            writer.write(add['/cam/color/image_raw'], log_time,
                         image(index, rgb[..., ::-1], 'bgr8'))
            if depth:
                distance = np.full((HEIGHT, WIDTH), 3000, np.uint16)
                for near, mask in zip((1500, 2200), masks.values(), strict=True):
                    distance[mask] = near
                writer.write(add['/cam/aligned_depth_to_color/image_raw'], log_time + 10**6,
                             image(index, distance, '16UC1'))


def run(bag: Path, out: Path, model: str | None) -> dict:
    """One bag command: its rate, wall time and the mean model call T of its frames."""
    from rosbags.highlevel import AnyReader

    command = [console_script('instance-segmentation'), 'bag', str(bag), str(out)]
    if model:
        command += ['--model', model]
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - started
    if done.returncode:
        raise SystemExit(f'{" ".join(command)} failed ({done.returncode}):\n{done.stderr}')
    calls, located = [], 0
    with AnyReader([out]) as reader:
        wanted = [c for c in reader.connections if c.topic.endswith('detections_json')]
        for connection, _, raw in reader.messages(connections=wanted):
            frame = json.loads(reader.deserialize(raw, connection.msgtype).data)
            calls.append(frame['inference_ms'] / 1000.0)
            located += sum(1 for d in frame['detections'] if d.get('centroid'))
    shutil.rmtree(out, ignore_errors=True)
    return {'rate': float(RATE.search(done.stdout).group(1)), 'wall_s': wall,
            'frames': len(calls), 'model_s': sum(calls) / len(calls), 'located': located}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--fixed-time', type=float, default=0.05, metavar='T',
                        help='seconds per call of the fixed-time tiny model (default: 0.05)')
    parser.add_argument('--depth', action='store_true',
                        help='aligned depth beside every frame: the 3D outputs are made too')
    options = parser.parse_args()
    print_header('bag: frames/s against the model-bound rate 1/T', sys.argv)
    WORK.mkdir(parents=True, exist_ok=True)
    bag = WORK / f'bag_throughput_{options.frames}{"_depth" if options.depth else ""}'
    if not bag.exists():
        write_bag(bag, options.frames, options.depth)
    models = {'built-in demo model': None,
              f'tiny model, T = {options.fixed_time * 1000:g} ms': model_path(
                  'tf2_od_api', options.fixed_time)}
    rows, raw = [], {}
    for name, model in models.items():
        result = raw[name] = run(bag, WORK / 'bag_throughput_out', model)
        bound = 1.0 / result['model_s']
        rows.append([name, f'{result["rate"]:.2f}', f'{result["model_s"] * 1000:.1f}',
                     f'{bound:.2f}', f'{result["rate"] / bound:.2f}',
                     f'{1000 / result["rate"] - result["model_s"] * 1000:.1f}',
                     f'{result["wall_s"]:.1f}'])
    depth = (f', aligned depth (3D of {sum(r["located"] for r in raw.values())} instances)'
             if options.depth else '')
    print(f'{options.frames} frames {WIDTH}x{HEIGHT}, one local process{depth}')
    print(markdown_table(['model', 'frames/s', 'T: mean model call ms', '1/T frames/s',
                          'rate x T', 'other ms/frame', 'wall s (with start-up)'], rows))
    print(f'raw: {save_json("bag_throughput.json", raw)}')


if __name__ == '__main__':
    main()
