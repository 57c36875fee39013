"""launch_testing: webcam.launch.py in a namespace with a video file as the device.

A file is not a live camera: its first frame waits until segmentation_node has loaded its
model, each next frame for the result of the one before, so every frame of the file is
segmented, and the launch ends by itself when the file is done.

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
FRAMES = 6
SEGMENTED_TIMEOUT = 300.0  # s: the model loads for 15-20 s, slower on a busy machine


@pytest.mark.launch_test
def generate_test_description():
    video = Path(tempfile.mkdtemp(prefix='launch_webcam_')) / 'camera.avi'
    write_scene_video(video, frames=FRAMES)  # 0.6 s at 10 Hz: played at once, it would be lost
    recorder = TopicRecorder({CAMERA: Image, RESULTS: String})
    webcam = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(launch_file('webcam.launch.py')),
        launch_arguments={'device': str(video), 'namespace': NAMESPACE,
                          'width': '320', 'height': '240'}.items())
    return (launch.LaunchDescription([webcam, launch_testing.actions.ReadyToTest()]),
            {'video': video, 'recorder': recorder})


class TestWebcamLaunch(unittest.TestCase):

    def test_the_file_is_segmented_frame_by_frame_and_the_launch_ends(self, proc_output,
                                                                      proc_info, video,
                                                                      recorder):
        expected = {(f'/{NAMESPACE}', 'webcam_publisher'),
                    (f'/{NAMESPACE}/segmentation', 'segmentation_node')}

        def started(recorder):
            names = recorder.node.get_node_names_and_namespaces()
            return expected <= {(namespace, name) for name, namespace in names}

        self.assertTrue(recorder.wait_for(started, timeout=60),
                        recorder.node.get_node_names_and_namespaces())
        proc_output.assertWaitFor(
            f"end of '{video}': published {FRAMES} frames", timeout=SEGMENTED_TIMEOUT)
        proc_output.assertWaitFor('0 wait timeouts', timeout=10)
        # The file is done, so the whole launch ends: the node too, without a Ctrl+C. Seen as
        # the node leaving the graph: its process exit is the launch's end, and a test still
        # waiting then is stopped by launch_testing ("Launch stopped before the active tests
        # finished"); the process and its exit status are checked after shutdown.
        node = ('segmentation_node', f'/{NAMESPACE}/segmentation')
        self.assertTrue(recorder.wait_for(
            lambda recorder: node not in recorder.node.get_node_names_and_namespaces(),
            timeout=60), recorder.node.get_node_names_and_namespaces())


@launch_testing.post_shutdown_test()
class TestAfterShutdown(unittest.TestCase):

    @classmethod
    def tearDownClass(cls, recorder):
        recorder.close()

    def test_every_frame_has_one_result_with_its_header(self, recorder):
        frames = [header_key(m) for m in recorder.messages(CAMERA)]
        results = [json.loads(m.data)['header'] for m in recorder.messages(RESULTS)]
        self.assertEqual(len(frames), FRAMES)
        self.assertEqual([(r['stamp']['sec'], r['stamp']['nanosec'], r['frame_id'])
                          for r in results], frames)
        self.assertTrue(all(frame_id == 'camera' for _, _, frame_id in frames))

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
