"""Soak: many frames through folder_player -> segmentation_node in lock-step, over real DDS.

Reports frames lost (published images without a result), frames the node dropped, latency
drift (per-frame round trip, first tenth vs last tenth of the run) and the node's RSS growth.

    python benchmarks/soak.py                 # 10,000 frames at 640x480
    python benchmarks/soak.py --frames 300 --size 160x120

The test suite runs a short version of the same code (test/integration/test_soak.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import cv2

TEST_DIR = Path(__file__).resolve().parents[1] / 'test' / 'support'
sys.path.insert(0, str(TEST_DIR))

import rclpy  # noqa: E402
import tiny_models  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from ros_helpers import (  # noqa: E402
    Collector,
    SpinningGraph,
    start_process,
    stop_process,
    wait_for,
)
from std_msgs.msg import String  # noqa: E402

DISTINCT_IMAGES = 20


@dataclass
class SoakResult:
    """What one soak run measured."""

    frames: int
    published: int
    results: int
    dropped_by_node: int
    rejected_by_node: int
    seconds: float
    round_trip_first_ms: float
    round_trip_last_ms: float
    rss_start_mb: float
    rss_end_mb: float

    @property
    def lost(self) -> int:
        return self.published - self.results

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_start_mb


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024.0
    return float('nan')


def script(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def run_soak(frames: int, height: int = 480, width: int = 640, workdir: str | None = None,
             timeout: float | None = None) -> SoakResult:
    """Play `frames` images in lock-step and collect what came out."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix='soak_'))
    model = tiny_models.export_tf2_od_saved_model(str(workdir / 'model'))
    folder = workdir / 'images'
    folder.mkdir()
    for index in range(DISTINCT_IMAGES):
        rgb, _ = tiny_models.draw_scene(height, width, seed=index)
        cv2.imwrite(str(folder / f'{index:04d}.png'), rgb[..., ::-1])

    node = start_process([script('segmentation_node'), '--ros-args',
                          '-p', f'model_path:={model}', '-r', '__ns:=/segmentation',
                          '-r', 'image:=/image'])
    graph = SpinningGraph()
    player = None
    try:
        client = graph.node('soak_monitor')
        results, names, diagnostics = Collector(), Collector(), Collector()
        client.create_subscription(String, '/segmentation/detections_json', results, 50)
        client.create_subscription(String, '/image_file', names, 50)
        client.create_subscription(DiagnosticArray, '/diagnostics', diagnostics, 10)
        assert wait_for(lambda: len(diagnostics) > 0, timeout=120), 'node did not start'
        rss_start = rss_mb(node.pid)
        player = start_process([
            script('folder_player'), '--ros-args', '-p', f'folder:={folder}',
            '-p', 'rate:=1000.0', '-p', 'loop:=true', '-p', 'wait_timeout:=10.0',
            '-p', 'wait_for_topic:=/segmentation/detections_json'])
        started = time.monotonic()
        deadline = started + (timeout or frames * 0.5 + 60)
        wait_for(lambda: len(results) >= frames, timeout=deadline - time.monotonic(),
                 interval=0.2)
        stop_process(player)
        elapsed = time.monotonic() - started
        time.sleep(1.5)  # let the last result and diagnostics arrive
        rss_end = rss_mb(node.pid)
        values = {kv.key: kv.value for kv in diagnostics.last.status[0].values}
        arrivals = [json.loads(m.data) for m in results.messages]
        stamps = [d['header']['stamp']['sec'] + d['header']['stamp']['nanosec'] * 1e-9
                  for d in arrivals]
        gaps = [b - a for a, b in pairwise(stamps)]
        tenth = max(len(gaps) // 10, 1)
        return SoakResult(
            frames=frames, published=len(names), results=len(results),
            dropped_by_node=int(values['frames_dropped']),
            rejected_by_node=int(values['frames_rejected']), seconds=elapsed,
            round_trip_first_ms=1000 * statistics.median(gaps[:tenth]) if gaps else 0.0,
            round_trip_last_ms=1000 * statistics.median(gaps[-tenth:]) if gaps else 0.0,
            rss_start_mb=rss_start, rss_end_mb=rss_end)
    finally:
        graph.close()
        if player is not None:
            stop_process(player)
        stop_process(node)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=10000)
    parser.add_argument('--size', default='640x480', help='WIDTHxHEIGHT of the images')
    arguments = parser.parse_args()
    width, height = (int(v) for v in arguments.size.split('x'))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    rclpy.logging.set_logger_level('soak_monitor', rclpy.logging.LoggingSeverity.WARN)
    result = run_soak(arguments.frames, height, width)
    print(f'frames asked {result.frames}, images published {result.published}, '
          f'results {result.results}, lost {result.lost} (the last image may be in flight)')
    print(f'dropped by the node {result.dropped_by_node}, rejected {result.rejected_by_node}')
    print(f'{result.results / result.seconds:.1f} frames/s over {result.seconds:.0f} s')
    print(f'round trip per frame: first tenth {result.round_trip_first_ms:.1f} ms, last tenth '
          f'{result.round_trip_last_ms:.1f} ms '
          f'(x{result.round_trip_last_ms / max(result.round_trip_first_ms, 1e-9):.2f})')
    print(f'node RSS {result.rss_start_mb:.0f} MB -> {result.rss_end_mb:.0f} MB '
          f'({result.rss_growth_mb:+.1f} MB)')


if __name__ == '__main__':
    main()
