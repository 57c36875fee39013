"""launch_testing: segmentation.launch.py lifecycle:=true autostart:=true segments at once.

The managed node is configured and activated by the launch itself, so a camera topic gets
results as with the plain node. Needs launch_testing and launch_ros (a ROS 2 install, or the
README's ROS tools for the pip set-up); skipped without them. Runs under pytest, and alone:
`launch_test THIS_FILE`.
"""

import json
import os
import sys
import unittest

import pytest

pytest.importorskip('launch_testing', reason='launch_testing is not installed (no PyPI wheel)')
pytest.importorskip('launch_ros', reason='launch_ros is not installed (no PyPI wheel)')

import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import numpy as np  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from instance_segmentation_ros.core.image_conversion import fill_image_msg  # noqa: E402
from instance_segmentation_ros.demo.scenes import generate_scene  # noqa: E402
from instance_segmentation_ros.ros.launch_support import launch_file  # noqa: E402

# launch_test runs this file without pytest's pythonpath: the helpers are in ../support
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'support'))
from launch_test_support import SCENE_SEED, TopicRecorder  # noqa: E402

CAMERA = '/test_camera/image_raw'
RESULTS = '/segmentation/detections_json'


@pytest.mark.launch_test
def generate_test_description():
    segmentation = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(launch_file('segmentation.launch.py')),
        launch_arguments={'image_topic': CAMERA, 'lifecycle': 'true',
                          'autostart': 'true'}.items())
    return launch.LaunchDescription([segmentation, launch_testing.actions.ReadyToTest()])


class TestLifecycleLaunch(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.recorder = TopicRecorder({RESULTS: String})

    @classmethod
    def tearDownClass(cls):
        cls.recorder.close()

    def test_the_autostarted_node_segments_camera_frames(self):
        publisher = self.recorder.node.create_publisher(Image, CAMERA, 10)
        scene = generate_scene(SCENE_SEED, 0)
        message = fill_image_msg(Image(), np.ascontiguousarray(scene.bgr), 'bgr8')
        message.header.stamp.sec, message.header.frame_id = 2000, 'test_camera'

        def answered(recorder):
            publisher.publish(message)
            return any(json.loads(m.data)['header']['stamp']['sec'] == 2000
                       for m in recorder.messages(RESULTS))

        self.assertTrue(self.recorder.wait_for(answered, timeout=120),
                        'the lifecycle node was not configured and activated by the launch')
        frame = next(json.loads(m.data) for m in self.recorder.messages(RESULTS)
                     if json.loads(m.data)['header']['stamp']['sec'] == 2000)
        self.assertEqual(frame['model'], 'demo_model')
        self.assertTrue(frame['detections'], 'no shape found in the scene')


@launch_testing.post_shutdown_test()
class TestAfterShutdown(unittest.TestCase):

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
