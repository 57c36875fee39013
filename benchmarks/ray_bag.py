"""The bag command on a Ray cluster against one local process: frames per second and memory.

A bag of FRAMES generated 640x480 scenes is segmented (1) by one local process (TensorFlow's
default threads: every core), (2) on a Ray head started here on 127.0.0.1 with 1 and with 2
actors of 1 CPU (1 TensorFlow thread) each. The rate is the command's own (segmenting only,
not loading). Memory: the peak resident set of the command's process, of each actor's worker
and of Ray's daemons, sampled every 0.2 s. With a zero-time tiny model the same runs give
Ray's cost per frame: 1/rate(Ray, 1 actor) - 1/rate(local).

    python benchmarks/ray_bag.py [--frames 60] [--model builtin|tiny]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_common import (
    WORK,
    console_script,
    markdown_table,
    model_path,
    print_header,
    rss_mb,
    save_json,
)

RAY_ENV = {**os.environ, 'RAY_ADDRESS': '', 'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER': '0',
           'RAY_AUTH_MODE': 'token'}
RATE = re.compile(r'([0-9.]+) frames/s')


def write_bag(path: Path, frames: int):
    """A bag of generated scenes on /cam/image_raw."""
    import numpy as np
    import tiny_models
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    types = store.types
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        camera = writer.add_connection('/cam/image_raw', 'sensor_msgs/msg/Image', typestore=store)
        for index in range(frames):
            rgb, _ = tiny_models.draw_scene(480, 640, seed=index)
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            header = types['std_msgs/msg/Header'](
                stamp=types['builtin_interfaces/msg/Time'](sec=index, nanosec=0), frame_id='cam')
            message = types['sensor_msgs/msg/Image'](
                header=header, height=480, width=640, encoding='bgr8', is_bigendian=0,
                step=640 * 3, data=bgr.reshape(-1))
            writer.write(camera, (index + 1) * 10**8,
                         store.serialize_cdr(message, 'sensor_msgs/msg/Image'))


def matching(fragment: str) -> list[int]:
    found = subprocess.run(['pgrep', '-f', fragment], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def peak_rss(process: subprocess.Popen) -> dict:
    """Sample the command, the actors and Ray's daemons until the command ends: peaks in MiB."""
    peaks = {'command': 0.0, 'actor': 0.0, 'ray daemons': 0.0}

    def sample():
        for key, pids in (('command', [process.pid]), ('actor', matching('ray::FrameSegmenter')),
                          ('ray daemons', matching('raylet|gcs_server'))):
            values = []
            for pid in pids:
                try:
                    values.append(rss_mb(pid))
                except OSError:
                    pass
            if values:
                value = max(values) if key == 'actor' else sum(values)
                peaks[key] = max(peaks[key], value)

    while process.poll() is None:
        sample()
        time.sleep(0.2)
    return peaks


def run(bag: Path, out: Path, model: str | None, extra: list[str]) -> dict:
    command = [console_script('instance-segmentation'), 'bag', str(bag), str(out), *extra]
    if model:
        command += ['--model', model]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, env=RAY_ENV)
    holder = {}
    sampler = threading.Thread(target=lambda: holder.update(peak_rss(process)))
    sampler.start()
    stdout, _ = process.communicate(timeout=1800)
    sampler.join()
    shutil.rmtree(out, ignore_errors=True)
    if process.returncode:
        raise SystemExit(f'{" ".join(command)} failed ({process.returncode}):\n{stdout}')
    return {'rate': float(RATE.search(stdout).group(1)), 'wall_s': time.monotonic() - started,
            **holder}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=60)
    parser.add_argument('--model', choices=('builtin', 'tiny'), default='builtin',
                        help='the built-in demo model, or a zero-time tiny model (overhead)')
    options = parser.parse_args()
    print_header('bag: one local process against Ray actors', sys.argv)
    WORK.mkdir(parents=True, exist_ok=True)
    bag = WORK / f'ray_bag_{options.frames}'
    if not bag.exists():
        write_bag(bag, options.frames)
    model = model_path('tf2_od_api', 0.0) if options.model == 'tiny' else None
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    ray = str(Path(sys.executable).parent / 'ray')
    temp = tempfile.mkdtemp(prefix='ray', dir='/tmp')
    subprocess.run([ray, 'start', '--head', '--node-ip-address', '127.0.0.1', '--port',
                    str(port), '--num-cpus', '2', '--num-gpus', '0', '--include-dashboard',
                    'false', '--disable-usage-stats', '--temp-dir', temp], check=True,
                   env=RAY_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows, raw = [], {}
    try:
        cases = {'local, 1 process (2 threads)': [],
                 'Ray, 1 actor (1 thread)': ['--ray', f'127.0.0.1:{port}', '--ray-actors', '1'],
                 'Ray, 2 actors (1 thread each)': ['--ray', f'127.0.0.1:{port}',
                                                   '--ray-actors', '2']}
        for name, extra in cases.items():
            result = raw[name] = run(bag, WORK / 'ray_bag_out', model, extra)
            rows.append([name, f'{result["rate"]:.2f}', f'{1000 / result["rate"]:.1f}',
                         f'{result["wall_s"]:.1f}', f'{result["command"]:.0f}',
                         f'{result["actor"]:.0f}' if result['actor'] else '-',
                         f'{result["ray daemons"]:.0f}' if result['ray daemons'] else '-'])
    finally:
        subprocess.run([ray, 'stop', '--force'], env=RAY_ENV, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(temp, ignore_errors=True)
    print(f'{options.frames} frames 640x480, model: {options.model}')
    print(markdown_table(['run', 'frames/s', 'ms/frame', 'wall s (with start-up)',
                          'command RSS MiB', 'actor RSS MiB (each)', 'Ray daemons RSS MiB'],
                         rows))
    local, single = raw['local, 1 process (2 threads)'], raw['Ray, 1 actor (1 thread)']
    extra_ms = 1000 / single['rate'] - 1000 / local['rate']
    print(f'Ray per frame, over a local process: {extra_ms:.1f} ms')
    print(f'raw: {save_json(f"ray_bag_{options.model}.json", raw)}')


if __name__ == '__main__':
    main()
