"""launch_testing: webcam.launch.py in a namespace, a video file as the camera, segments it.

Needs launch_testing and launch_ros (a ROS 2 install, or the README's ROS tools for the pip
set-up); skipped without them. Runs under pytest, and alone: `launch_test THIS_FILE`.
"""

import json
import os
import sys
import tempfile
import unittest
from pathlib import Path

import pytest

pytest.importorskip('launch_testing', reason='launch_testing is not installed (no PyPI wheel)')
pytest.importorskip('launch_ros', reason='launch_ros is not installed (no PyPI wheel)')

import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from instance_segmentation_ros.ros.launch_support import launch_file  # noqa: E402

# launch_test runs this file without pytest's pythonpath: the helpers are in ../support
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'support'))
from launch_test_support import TopicRecorder, header_key, write_scene_video  # noqa: E402

NAMESPACE = 'cam1'
CAMERA = f'/{NAMESPACE}/camera/image_raw'
RESULTS = f'/{NAMESPACE}/segmentation/detections_json'
VIDEO = Path(tempfile.mkdtemp(prefix='launch_webcam_')) / 'camera.avi'


@pytest.mark.launch_test
def generate_test_description():
    write_scene_video(VIDEO, frames=600)  # 60 s at 10 Hz: longer than the test
    webcam = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(launch_file('webcam.launch.py')),
        launch_arguments={'device': str(VIDEO), 'namespace': NAMESPACE,
                          'width': '320', 'height': '240'}.items())
    return launch.LaunchDescription([webcam, launch_testing.actions.ReadyToTest()])


class TestWebcamLaunch(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.recorder = TopicRecorder({CAMERA: Image, RESULTS: String})

    @classmethod
    def tearDownClass(cls):
        cls.recorder.close()

    def test_nodes_are_in_the_namespace(self):
        expected = {(f'/{NAMESPACE}', 'webcam_publisher'),
                    (f'/{NAMESPACE}/segmentation', 'segmentation_node')}

        def started(recorder):
            names = recorder.node.get_node_names_and_namespaces()
            return expected <= {(namespace, name) for name, namespace in names}

        self.assertTrue(self.recorder.wait_for(started, timeout=60),
                        self.recorder.node.get_node_names_and_namespaces())

    def test_camera_frames_are_segmented_with_their_header(self):
        def segmented(recorder):
            return len(recorder.messages(RESULTS)) >= 3

        self.assertTrue(self.recorder.wait_for(segmented, timeout=120),
                        f'no results on {RESULTS}')
        frames = {header_key(m) for m in self.recorder.messages(CAMERA)}
        for result in self.recorder.messages(RESULTS):
            header = json.loads(result.data)['header']
            key = (header['stamp']['sec'], header['stamp']['nanosec'], header['frame_id'])
            self.assertEqual(key[2], 'camera')
            self.assertIn(key, frames, "a result whose header is no camera frame's")


@launch_testing.post_shutdown_test()
class TestAfterShutdown(unittest.TestCase):

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
