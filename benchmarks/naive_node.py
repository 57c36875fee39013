"""The naive design, as a baseline: inference in the subscription callback, reliable queue of 10.

It is segmentation_node itself (same parameters, model, post-processing, buffers, outputs and
topics) with only the engine replaced: the subscription callback runs the model and publishes,
so frames wait in the subscription queue while it works.

    python benchmarks/naive_node.py --ros-args -p model_path:=/path/to/model
"""

from __future__ import annotations

import sys
import time
from functools import partial

import bench_common  # noqa: F401 - puts the repository on sys.path

from instance_segmentation_ros.engine.figures import StageFigures
from instance_segmentation_ros.ros.segmentation_node import SegmentationNode, run

NAIVE_QUEUE_DEPTH = 10


class InlineStages:
    """The engine without stage threads: `put` runs the model and the outputs at once.

    The pipeline's interface and figures, so that the node and its diagnostics are unchanged;
    the node's waits (`policy`), `mailbox` and `source` mean nothing here (one camera): the
    subscription's queue holds the frames.
    """

    def __init__(self, infer, publish, on_error, policy, mailbox=None, source=None):
        self.policy = policy
        self.figures = StageFigures()
        self._infer, self._publish, self._on_error = infer, publish, on_error

    def start(self):
        """No threads to start."""

    def put(self, frame):
        """Segment and publish `frame` before returning (the subscription queue waits)."""
        received = time.monotonic()
        self.figures.frame_received(replaced_one=False)
        try:
            started = time.perf_counter()
            result = self._infer(frame)
            model_s = time.perf_counter() - started
            self.figures.model_ran(model_s)
            cpu = time.thread_time()
            self._publish(frame, result)
            self.figures.outputs_ran(time.thread_time() - cpu)
            self.figures.frame_finished(model_s, time.monotonic() - received)
        except Exception as error:  # as the pipeline: one bad frame never stops the node
            self.figures.frame_failed()
            self._on_error(frame, error)

    def close(self):
        """No threads to stop."""


def main(args=None):
    return run(args, partial(SegmentationNode, engine=InlineStages,
                             input_depth=NAIVE_QUEUE_DEPTH))


if __name__ == '__main__':
    sys.exit(main())
