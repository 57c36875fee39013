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
from functools import partial
from pathlib import Path

import bench_common  # noqa: F401 - puts the repository on sys.path
from sensor_msgs.msg import Image

from instance_segmentation_ros.segmentation_node import SegmentationNode, run


def stamp_ns(message: Image) -> int:
    return message.header.stamp.sec * 10**9 + message.header.stamp.nanosec


class TimedSegmentationNode(SegmentationNode):
    """segmentation_node recording when each frame passes each stage boundary."""

    def __init__(self, stages_file: Path, **kwargs):
        self.stages = {}  # image stamp (ns) -> {boundary: time.time_ns()}; before the threads
        self._stages_file = stages_file
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

    def destroy_node(self):
        """Stop the stages, then write the records of every frame that was published."""
        super().destroy_node()
        finished = {stamp: times for stamp, times in list(self.stages.items())
                    if 'outputs_end' in times}
        self._stages_file.write_text(json.dumps(finished))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--stages-file', required=True, type=Path)
    args, ros_args = parser.parse_known_args(argv)
    return run(ros_args, partial(TimedSegmentationNode, args.stages_file))


if __name__ == '__main__':
    sys.exit(main())
