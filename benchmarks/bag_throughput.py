"""The bag command's frames per second against the model-bound rate 1/T, and the node's.

A bag of FRAMES generated 640x480 scenes (with `--depth` an aligned depth image and its
camera_info beside each frame, so that the 3D outputs are made too) is segmented by the bag
command, one local process, with (1) the built-in demo model and (2) a tiny model of fixed
time T (`--fixed-time`). T is the mean model call of the run itself, read from the
`inference_ms` of the output's detections_json; 1/T is the rate the model alone allows, and
rate x T the share of it that the command reaches (1.0: the model is all the cost). The rate
is the command's own (segmenting, not loading the model); the rest of the time per frame,
1/rate - T, is reading, decoding, post-processing and writing the bag.

The same bag is then played, with the same models, through a `segmentation_node` process in
`processing_mode: every_frame` (what the README suggests for bags): its camera frames are read
with rosbags and published by an rclpy publisher in lock-step with `detections_json` (the next
frame goes out when the last one's result is back), after one warm-up frame that is not
counted. Its rate is frames over the time from the first publish to the last result; the ratio
bag/node says how much faster the command is than replaying the bag into the node. (Without
--depth only: the replay plays the camera topic alone.)

    python benchmarks/bag_throughput.py [--frames 30] [--fixed-time 0.05] [--depth] [--no-node]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import bench_common
from bench_common import WORK, console_script, markdown_table, model_path, print_header, save_json

RATE = re.compile(r'([0-9.]+) frames/s')
HEIGHT, WIDTH = 480, 640
CAMERA = '/cam/color/image_raw'
RESULTS = '/cam/color/segmentation'  # where the bag command and the node put CAMERA's results
RESULT_TIMEOUT_S = 120.0  # one frame's result: only bounds a hang


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


class Player(bench_common.SpinningNode):
    """Publishes a bag's camera frames one at a time, each when the last one's result is back."""

    def __init__(self):
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from std_msgs.msg import String

        super().__init__('bag_player')
        self.publisher = self.node.create_publisher(Image, CAMERA, QoSProfile(
            depth=1, history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE))
        self.results = self.node.create_subscription(String, f'{RESULTS}/detections_json',
                                                     self._on_json, 10)
        self.arrived = threading.Condition(self.lock)
        self.done = {}  # stamp (sec, nanosec) -> inference_ms

    def _on_json(self, message):
        data = json.loads(message.data)
        stamp = (data['header']['stamp']['sec'], data['header']['stamp']['nanosec'])
        with self.arrived:
            self.done[stamp] = data['inference_ms']
            self.arrived.notify_all()

    def segment(self, message, timeout: float) -> float | None:
        """Publish one frame and wait for its detections_json: its inference_ms, or None."""
        stamp = (message.header.stamp.sec, message.header.stamp.nanosec)
        self.publisher.publish(message)
        with self.arrived:
            self.arrived.wait_for(lambda: stamp in self.done, timeout)
            return self.done.get(stamp)


def played_image(recorded):
    """A recorded sensor_msgs/Image as the rclpy message that `ros2 bag play` publishes."""
    from sensor_msgs.msg import Image

    message = Image(height=recorded.height, width=recorded.width, encoding=recorded.encoding,
                    is_bigendian=recorded.is_bigendian, step=recorded.step,
                    data=bytes(recorded.data))
    message.header.stamp.sec = recorded.header.stamp.sec
    message.header.stamp.nanosec = recorded.header.stamp.nanosec
    message.header.frame_id = recorded.header.frame_id
    return message


def replay(bag: Path, model: str | None, frames: int) -> dict:
    """The bag's camera frames through segmentation_node (every_frame), in lock-step."""
    from rosbags.highlevel import AnyReader

    command = [console_script('segmentation_node'), '--ros-args',
               '-p', 'processing_mode:=every_frame', '-p', f'queue_size:={frames + 10}',
               '-p', 'input_reliability:=reliable', '-r', f'__ns:={RESULTS}',
               '-r', f'image:={CAMERA}']
    if model:
        command += ['-p', f'model_path:={model}']
    player = Player()
    node = bench_common.start(command, 'bag_throughput_node.log')
    try:
        if not bench_common.wait_until(
                lambda: (player.publisher.get_subscription_count() > 0
                         and player.results.get_publisher_count() > 0)
                or node.poll() is not None, 300):
            raise RuntimeError('segmentation_node did not come up')
        if node.poll() is not None:
            raise RuntimeError(f'segmentation_node exited with {node.returncode} (log: '
                               f'{WORK / "bag_throughput_node.log"})')
        with AnyReader([bag]) as reader:
            wanted = [c for c in reader.connections if c.topic == CAMERA]
            recorded = [reader.deserialize(raw, connection.msgtype)
                        for connection, _, raw in reader.messages(connections=wanted)]
        messages = [played_image(frame) for frame in recorded]
        probe = played_image(recorded[0])
        probe.header.stamp.sec = 1  # no frame of the bag has it
        # The node publishes only to subscribers it has discovered: the warm-up frame is sent
        # again until its result comes back.
        if not bench_common.wait_until(lambda: player.segment(probe, 2.0) is not None, 120, 0):
            raise RuntimeError('no result came back for the warm-up frame')
        calls = []
        started = time.monotonic()
        for message in messages:
            inference_ms = player.segment(message, RESULT_TIMEOUT_S)
            if inference_ms is None:
                raise RuntimeError(f'no result for the frame stamped {message.header.stamp}')
            calls.append(inference_ms / 1000.0)
        elapsed = time.monotonic() - started
    finally:
        bench_common.stop(node)
        player.close()
    return {'rate': len(calls) / elapsed, 'wall_s': elapsed, 'frames': len(calls),
            'model_s': sum(calls) / len(calls)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--fixed-time', type=float, default=0.05, metavar='T',
                        help='seconds per call of the fixed-time tiny model (default: 0.05)')
    parser.add_argument('--depth', action='store_true',
                        help='aligned depth beside every frame: the 3D outputs are made too')
    parser.add_argument('--no-node', action='store_true',
                        help='time the bag command only, not the replay through the node')
    options = parser.parse_args()
    print_header('bag: frames/s against the model-bound rate 1/T', sys.argv)
    WORK.mkdir(parents=True, exist_ok=True)
    bag = WORK / f'bag_throughput_{options.frames}{"_depth" if options.depth else ""}'
    if not bag.exists():
        write_bag(bag, options.frames, options.depth)
    models = {'built-in demo model': None,
              f'tiny model, T = {options.fixed_time * 1000:g} ms': model_path(
                  'tf2_od_api', options.fixed_time)}
    with_node = not (options.depth or options.no_node)
    rows, compared, raw = [], [], {}
    for name, model in models.items():
        result = raw[name] = run(bag, WORK / 'bag_throughput_out', model)
        bound = 1.0 / result['model_s']
        rows.append([name, f'{result["rate"]:.2f}', f'{result["model_s"] * 1000:.1f}',
                     f'{bound:.2f}', f'{result["rate"] / bound:.2f}',
                     f'{1000 / result["rate"] - result["model_s"] * 1000:.1f}',
                     f'{result["wall_s"]:.1f}'])
        if with_node:
            node = raw[f'{name}, node replay'] = replay(bag, model, options.frames)
            compared.append([
                name, f'{result["rate"]:.2f}', f'{result["rate"] * result["model_s"]:.2f}',
                f'{node["rate"]:.2f}', f'{node["model_s"] * 1000:.1f}',
                f'{node["rate"] * node["model_s"]:.2f}', f'{result["rate"] / node["rate"]:.2f}'])
    depth = (f', aligned depth (3D of {sum(r.get("located", 0) for r in raw.values())} '
             f'instances)' if options.depth else '')
    print(f'{options.frames} frames {WIDTH}x{HEIGHT}, one local process{depth}')
    print(markdown_table(['model', 'frames/s', 'T: mean model call ms', '1/T frames/s',
                          'rate x T', 'other ms/frame', 'wall s (with start-up)'], rows))
    if with_node:
        print()
        print('the same bag through segmentation_node (every_frame, lock-step replay):')
        print(markdown_table(['model', 'bag frames/s', 'bag rate x T', 'node frames/s',
                              'node T ms', 'node rate x T', 'bag/node'], compared))
    print(f'raw: {save_json("bag_throughput.json", raw)}')


if __name__ == '__main__':
    main()
