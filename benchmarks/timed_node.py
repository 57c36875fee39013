"""segmentation_node with a clock on each stage, for benchmarks/latency_breakdown.py.

It is segmentation_node itself (same parameters, defaults and threads) with its pipeline given
clocked stages: for every frame it records the wall-clock time (the clock of the image stamps)
at which it reached the subscription callback, entered and left the model call, and entered
and left the output stage, plus the output stage's thread CPU time. The records are written as
JSON to `--stages-file` when the pipeline closes.

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

from instance_segmentation_ros.engine.pipeline import TwoStagePipeline
from instance_segmentation_ros.ros.segmentation_node import SegmentationNode, run


def stamp_ns(frame: tuple) -> int:
    """The stamp of a pipeline frame, (camera, Image), in nanoseconds."""
    _, message = frame
    return message.header.stamp.sec * 10**9 + message.header.stamp.nanosec


class TimedPipeline(TwoStagePipeline):
    """The node's pipeline recording when each frame passes each stage boundary."""

    def __init__(self, stages_file: Path, infer, publish, on_error, policy, mailbox=None,
                 source=None):
        self.stages = {}  # image stamp (ns) -> {boundary: time.time_ns()}
        self._stages_file = stages_file

        def timed_infer(frame):
            self._record(frame, 'model_start')
            result = infer(frame)
            self._record(frame, 'model_end')
            return result

        def timed_publish(frame, result):
            self._record(frame, 'outputs_start')
            cpu = time.thread_time_ns()
            publish(frame, result)
            self._record(frame, 'outputs_end')
            self._record(frame, 'outputs_cpu_ns', time.thread_time_ns() - cpu)

        super().__init__(timed_infer, timed_publish, on_error, policy, mailbox, source)

    def _record(self, frame, boundary: str, value: int | None = None):
        self.stages.setdefault(stamp_ns(frame), {})[boundary] = (
            time.time_ns() if value is None else value)

    def put(self, frame):
        """Record the arrival, then hand the frame over as the node's pipeline does."""
        self._record(frame, 'received')
        super().put(frame)

    def close(self, timeout: float = 0.1):
        """Stop the stages, then write the records of every frame that was published."""
        super().close(timeout)
        finished = {stamp: times for stamp, times in list(self.stages.items())
                    if 'outputs_end' in times}
        self._stages_file.write_text(json.dumps(finished))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--stages-file', required=True, type=Path)
    args, ros_args = parser.parse_known_args(argv)
    return run(ros_args, partial(SegmentationNode, engine=partial(TimedPipeline,
                                                                  args.stages_file)))


if __name__ == '__main__':
    sys.exit(main())
