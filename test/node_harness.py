"""A segmentation node in this process plus a client that feeds it and records its outputs.

Shared by the node's DDS tests; the node is the real one, over real DDS, in its own context.
"""

from __future__ import annotations

import json
import time

import numpy as np
import tiny_models
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from ros_helpers import Collector, SpinningGraph, wait_for, wait_future
from sensor_msgs.msg import Image
from std_msgs.msg import String

from instance_segmentation_ros.image_conversion import fill_image_msg
from instance_segmentation_ros.segmentation_node import SegmentationNode

NAMESPACE = '/segmentation'  # where the launch files put the node


class Harness:
    """A segmentation node plus a client node that feeds it and records its outputs.

    `model_path` None starts the node without one (the built-in model). A `namespace` of its
    own keeps it apart from a node of another test that is still running. `raw_input` False:
    the node reads another topic than `image` (compressed input), so that one is not awaited.
    `connect` False: a lifecycle node, which has no topics until activated (then `connected`).
    """

    def __init__(self, model_path: str | None, extra_args=(), node_class=SegmentationNode,
                 namespace=NAMESPACE, raw_input=True, connect=True):
        model = [] if model_path is None else ['-p', f'model_path:={model_path}']
        self.graph = SpinningGraph(args=['--ros-args', *model, *extra_args])
        self.node = self.graph.add(node_class(context=self.graph.context, namespace=namespace))
        self.client = self.graph.node('test_client')
        self.masks, self.json, self.overlay, self.diagnostics = (Collector() for _ in range(4))
        prefix = namespace + '/'
        self.client.create_subscription(Image, prefix + 'masks', self.masks, 10)
        self._json_subscription = self.client.create_subscription(
            String, prefix + 'detections_json', self.json, 10)
        self.client.create_subscription(Image, prefix + 'overlay', self.overlay, 10)
        self.client.create_subscription(DiagnosticArray, '/diagnostics', self.diagnostics, 10)
        # Reliable, so that it matches best-effort and reliable subscriptions alike.
        self.publisher = self.client.create_publisher(Image, prefix + 'image', 10)
        self.parameters = AsyncParameterClient(self.client, namespace + '/segmentation_node')
        self._raw_input = raw_input
        if connect:
            assert self.connected()

    def connected(self) -> bool:
        """Wait until the node subscribes the image and publishes detections_json."""
        return wait_for(lambda: (self.publisher.get_subscription_count() > 0
                                 or not self._raw_input)
                        and self._json_subscription.get_publisher_count() > 0)

    def segment(self, message: Image, timeout: float = 10.0) -> dict:
        """Publish until a result for this message's stamp arrives; returns its JSON."""
        stamp = (message.header.stamp.sec, message.header.stamp.nanosec)

        def result():
            for text in list(self.json.messages):
                data = json.loads(text.data)
                if (data['header']['stamp']['sec'], data['header']['stamp']['nanosec']) == stamp:
                    return data
            return None

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and result() is None:
            self.publisher.publish(message)
            wait_for(lambda: result() is not None, timeout=0.5)
        data = result()
        assert data is not None, 'no detections_json for the published image'
        return data

    def set(self, *parameters: Parameter):
        return wait_future(self.parameters.set_parameters(list(parameters))).results

    def close(self):
        self.graph.close()


def scene_message(stamp_sec: int, encoding: str = 'bgr8', height=240, width=320, seed=0):
    rgb, truth = tiny_models.draw_scene(height, width, seed=seed)
    image = rgb[..., ::-1] if encoding == 'bgr8' else rgb
    message = fill_image_msg(Image(), np.ascontiguousarray(image), encoding)
    message.header.stamp.sec, message.header.stamp.nanosec = stamp_sec, 1234
    message.header.frame_id = 'test_camera'
    return message, rgb, truth


def find_by_stamp(collector: Collector, sec: int):
    matches = [m for m in collector.messages if m.header.stamp.sec == sec]
    return matches[-1] if matches else None
