"""The naive design, as a baseline: inference in the subscription callback, reliable queue of 10.

Same model, same pipeline code (`Segmenter`, the same message buffers and JSON) and the same
node name and topics as segmentation_node; only the design differs: the callback runs the
model itself, so frames wait in the subscription queue while it works.

    python benchmarks/naive_node.py --ros-args -p model_path:=/path/to/model
"""

from __future__ import annotations

import sys

import bench_common  # noqa: F401 - puts the repository on sys.path
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

from instance_segmentation_ros.image_conversion import (
    fill_image_msg_from_buffer,
    image_msg_to_bgr,
    new_image_buffer,
)
from instance_segmentation_ros.labels import load_label_map
from instance_segmentation_ros.model import SegmentationModel
from instance_segmentation_ros.pipeline import Segmenter
from instance_segmentation_ros.postprocess import PostprocessSettings


class NaiveSegmentationNode(Node):
    def __init__(self):
        super().__init__('segmentation_node')
        model_path = self.declare_parameter('model_path', '').value
        self.segmenter = Segmenter(SegmentationModel(model_path), load_label_map(''))
        self.segmenter.model.warm_up()
        self.settings = PostprocessSettings()
        self.masks_pub = self.create_publisher(Image, '~/masks', 5)
        self.json_pub = self.create_publisher(String, '~/detections_json', 5)
        self.overlay_pub = self.create_publisher(Image, '~/overlay', 5)
        self.buffers = {}
        self.create_subscription(Image, '~/image', self.on_image,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))

    def buffer(self, name, height, width, channels):
        key = (name, height, width)
        if key not in self.buffers:
            self.buffers[key] = new_image_buffer(height, width, channels)
        return self.buffers[key]

    def on_image(self, message: Image):
        bgr = image_msg_to_bgr(message)
        height, width = bgr.shape[:2]
        mask_data, mask_view = self.buffer('masks', height, width, 1)
        result = self.segmenter.segment(bgr, self.settings, label_image=mask_view)
        if self.masks_pub.get_subscription_count():
            mask_msg = Image(header=message.header)
            fill_image_msg_from_buffer(mask_msg, mask_data, height, width, 'mono8')
            self.masks_pub.publish(mask_msg)
        if self.json_pub.get_subscription_count():
            stamp = message.header.stamp
            self.json_pub.publish(String(data=self.segmenter.frame_json(
                result, stamp.sec, stamp.nanosec, message.header.frame_id)))
        if self.overlay_pub.get_subscription_count():
            overlay_data, overlay_view = self.buffer('overlay', height, width, 3)
            self.segmenter.overlay(bgr, result, 0.5, out=overlay_view)
            overlay_msg = Image(header=message.header)
            fill_image_msg_from_buffer(overlay_msg, overlay_data, height, width, 'bgr8')
            self.overlay_pub.publish(overlay_msg)


def main(args=None):
    rclpy.init(args=args)
    node = None
    try:
        node = NaiveSegmentationNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
