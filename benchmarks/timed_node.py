"""segmentation_node with a clock on each stage, for benchmarks/latency_breakdown.py.

It is segmentation_node itself (same parameters, defaults and threads) with the hand-over
points between its stages overridden to record, for every frame, the wall-clock time (the clock
of the image stamps) at which it reached the subscription callback, entered and left the model
call, and entered and left the output stage, plus the output stage's thread CPU time. The
records are written as JSON to `--stages-file` when the node stops.

    python benchmarks/timed_node.py --stages-file stages.json --ros-args -p model_path:=MODEL
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import bench_common  # noqa: F401 - puts the repository on sys.path
import rclpy
from rclpy.executors import ExternalShutdownException
from sensor_msgs.msg import Image

from instance_segmentation_ros.node_support import use_large_frame_dds_profile
from instance_segmentation_ros.segmentation_node import SegmentationNode


def stamp_ns(message: Image) -> int:
    return message.header.stamp.sec * 10**9 + message.header.stamp.nanosec


class TimedSegmentationNode(SegmentationNode):
    """segmentation_node recording when each frame passes each stage boundary."""

    def __init__(self, **kwargs):
        self.stages = {}  # image stamp (ns) -> {boundary: time.time_ns()}; before the threads
        super().__init__(**kwargs)

    def _record(self, message: Image, boundary: str, value: int | None = None):
        self.stages.setdefault(stamp_ns(message), {})[boundary] = (
            time.time_ns() if value is None else value)

    def _on_image(self, message: Image):
        self._record(message, 'received')
        super()._on_image(message)

    def _infer(self, message: Image, received: float):
        self._record(message, 'model_start')
        inferred = super()._infer(message, received)
        self._record(message, 'model_end')
        return inferred

    def _publish_outputs(self, inferred):
        self._record(inferred.message, 'outputs_start')
        cpu = time.thread_time_ns()
        super()._publish_outputs(inferred)
        self._record(inferred.message, 'outputs_end')
        self._record(inferred.message, 'outputs_cpu_ns', time.thread_time_ns() - cpu)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--stages-file', required=True, type=Path)
    args, ros_args = parser.parse_known_args(argv)
    use_large_frame_dds_profile()
    rclpy.init(args=ros_args)
    node = None
    try:
        node = TimedSegmentationNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
            finished = {stamp: times for stamp, times in list(node.stages.items())
                        if 'outputs_end' in times}
            args.stages_file.write_text(json.dumps(finished))
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
