"""launch_testing: segmentation.launch.py starts the node on a remapped topic and it answers.

Runs where launch_testing and launch_ros are installed (a ROS 2 workspace: `colcon test`);
skipped elsewhere, since they have no PyPI wheels.
"""

import json
import os
import tempfile
import time
import unittest

import pytest

pytest.importorskip('launch_testing',
                    reason='launch_testing is not installed (ROS 2 workspace only)')
pytest.importorskip('launch_ros', reason='launch_ros is not installed (ROS 2 workspace only)')

import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import numpy as np  # noqa: E402
import rclpy  # noqa: E402
import tiny_models  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from instance_segmentation_ros.image_conversion import fill_image_msg  # noqa: E402

MODEL = tiny_models.export_tf2_od_saved_model(os.path.join(tempfile.mkdtemp(), 'model'))


@pytest.mark.launch_test
def generate_test_description():
    share = get_package_share_directory('instance_segmentation_ros')
    segmentation = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'segmentation.launch.py')),
        launch_arguments={'image_topic': '/test_camera/image_raw', 'model_path': MODEL,
                          'classes': '[car]'}.items())
    return launch.LaunchDescription([segmentation, launch_testing.actions.ReadyToTest()])


class TestSegmentationLaunch(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('launch_test_client')

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def test_node_segments_the_remapped_topic_with_the_class_filter(self):
        results = []
        self.node.create_subscription(String, '/segmentation_node/detections_json',
                                      results.append, 10)
        publisher = self.node.create_publisher(Image, '/test_camera/image_raw', 10)
        rgb, _ = tiny_models.draw_scene()
        message = fill_image_msg(Image(), np.ascontiguousarray(rgb), 'rgb8')
        deadline = time.monotonic() + 60
        while not results and time.monotonic() < deadline:
            publisher.publish(message)
            rclpy.spin_once(self.node, timeout_sec=0.2)
        self.assertTrue(results, 'no result from the launched node')
        names = [d['category_name'] for d in json.loads(results[-1].data)['detections']]
        self.assertEqual(names, ['car'])


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):

    def test_exit_code(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
