"""launch_testing: demo.launch.py generates scenes, segments each one, then ends by itself.

Needs launch_testing and launch_ros (a ROS 2 install, or the README's ROS tools for the pip
set-up); skipped without them. Runs under pytest, and alone: `launch_test THIS_FILE`.
"""

import json
import os
import sys
import tempfile
import unittest

import pytest

pytest.importorskip('launch_testing', reason='launch_testing is not installed (no PyPI wheel)')
pytest.importorskip('launch_ros', reason='launch_ros is not installed (no PyPI wheel)')

import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from instance_segmentation_ros.demo.scenes import LABELS  # noqa: E402
from instance_segmentation_ros.ros.launch_support import launch_file  # noqa: E402

# launch_test runs this file without pytest's pythonpath: the helpers are in ../support
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'support'))
from launch_test_support import TopicRecorder, header_key  # noqa: E402

SCENES = 3
FOLDER = tempfile.mkdtemp(prefix='launch_demo_')
RESULTS = '/segmentation/detections_json'
RECORDER = None


@pytest.mark.launch_test
def generate_test_description():
    global RECORDER
    RECORDER = TopicRecorder({'/image': Image, RESULTS: String})
    demo = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(launch_file('demo.launch.py')),
        launch_arguments={'count': str(SCENES), 'scenes_folder': FOLDER,
                          'rate': '10.0'}.items())
    return launch.LaunchDescription([demo, launch_testing.actions.ReadyToTest()])


class TestDemoLaunch(unittest.TestCase):

    def test_every_scene_is_played_in_lock_step(self, proc_output):
        proc_output.assertWaitFor(
            f"done with '{FOLDER}': published {SCENES} images, skipped 0, 0 wait timeouts",
            timeout=180)


@launch_testing.post_shutdown_test()
class TestAfterShutdown(unittest.TestCase):

    @classmethod
    def tearDownClass(cls):
        RECORDER.close()

    def test_every_scene_has_a_result_with_its_header(self):
        images = [header_key(m) for m in RECORDER.messages('/image')]
        results = [json.loads(m.data) for m in RECORDER.messages(RESULTS)]
        self.assertEqual(len(images), SCENES)
        self.assertEqual([(r['header']['stamp']['sec'], r['header']['stamp']['nanosec'],
                           r['header']['frame_id']) for r in results], images)
        found = [d['category_name'] for r in results for d in r['detections']]
        self.assertTrue(found and set(found) <= set(LABELS), found)

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
