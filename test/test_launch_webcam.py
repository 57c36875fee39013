"""launch_testing: webcam.launch.py, with a video file as the camera, yields segmentations.

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

import cv2  # noqa: E402
import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import rclpy  # noqa: E402
import tiny_models  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from std_msgs.msg import String  # noqa: E402

WORKDIR = tempfile.mkdtemp()
MODEL = tiny_models.export_model_garden(os.path.join(WORKDIR, 'model'))
VIDEO = os.path.join(WORKDIR, 'camera.avi')
_writer = cv2.VideoWriter(VIDEO, cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (320, 240))
for _index in range(100):
    _writer.write(tiny_models.draw_scene(seed=_index % 5)[0][..., ::-1].copy())
_writer.release()


@pytest.mark.launch_test
def generate_test_description():
    share = get_package_share_directory('instance_segmentation_ros')
    webcam = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'webcam.launch.py')),
        launch_arguments={'device': VIDEO, 'model_path': MODEL,
                          'width': '320', 'height': '240'}.items())
    return launch.LaunchDescription([webcam, launch_testing.actions.ReadyToTest()])


class TestWebcamLaunch(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('launch_test_client')

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def test_camera_frames_are_segmented(self):
        results = []
        self.node.create_subscription(String, '/segmentation_node/detections_json',
                                      results.append, 10)
        deadline = time.monotonic() + 60
        while not results and time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=0.2)
        self.assertTrue(results, 'no result from the launched nodes')
        data = json.loads(results[-1].data)
        self.assertEqual(data['header']['frame_id'], 'camera')
        self.assertEqual([d['category_name'] for d in data['detections']], ['person', 'car'])
