"""The naive design, as a baseline: inference in the subscription callback, reliable queue of 10.

It is segmentation_node itself (same parameters, model, post-processing, buffers, outputs and
topics) with only the subscription design replaced: the callback runs the model and publishes,
so frames wait in the subscription queue while it works.

    python benchmarks/naive_node.py --ros-args -p model_path:=/path/to/model
"""

from __future__ import annotations

import sys
import time

import bench_common  # noqa: F401 - puts the repository on sys.path
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image

from instance_segmentation_ros.segmentation_node import SegmentationNode, run

NAIVE_QUEUE_DEPTH = 10


class NaiveSegmentationNode(SegmentationNode):
    """segmentation_node with the model call in the callback instead of the stage threads."""

    def _start_stages(self):
        """No stage threads: the subscription callback does the work."""

    def _subscribe(self, qos: QoSProfile):
        self._subscription = self.create_subscription(
            Image, 'image', self._segment_now,
            QoSProfile(depth=NAIVE_QUEUE_DEPTH, reliability=qos.reliability))

    def _segment_now(self, message: Image):
        self._received += 1
        self._publish_outputs(self._infer(message, time.monotonic()))


def main(args=None):
    return run(args, NaiveSegmentationNode)


if __name__ == '__main__':
    sys.exit(main())
