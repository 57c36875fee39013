"""launch_testing: folder.launch.py segments every image of a folder, then ends by itself.

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

from instance_segmentation_ros.launch_support import SHARE  # noqa: E402
from instance_segmentation_ros.synthetic_scenes import write_coco_dataset  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # launch_test: helpers beside
from launch_test_support import SCENE_SEED, TopicRecorder, header_key  # noqa: E402

IMAGES = 4
FOLDER = os.path.join(tempfile.mkdtemp(prefix='launch_folder_'), 'images')
RESULTS = '/segmentation/detections_json'
RECORDER = None


@pytest.mark.launch_test
def generate_test_description():
    global RECORDER
    write_coco_dataset(FOLDER, IMAGES, seed=SCENE_SEED)
    RECORDER = TopicRecorder({'/image': Image, RESULTS: String})
    folder = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(SHARE, 'launch', 'folder.launch.py')),
        launch_arguments={'folder': FOLDER, 'rate': '20.0'}.items())
    return launch.LaunchDescription([folder, launch_testing.actions.ReadyToTest()])


class TestFolderLaunch(unittest.TestCase):

    def test_the_player_plays_every_image_in_lock_step(self, proc_output):
        proc_output.assertWaitFor(
            f"done with '{FOLDER}': published {IMAGES} images, skipped 0, 0 wait timeouts",
            timeout=180)


@launch_testing.post_shutdown_test()
class TestAfterShutdown(unittest.TestCase):

    @classmethod
    def tearDownClass(cls):
        RECORDER.close()

    def test_every_image_has_one_result_with_its_header(self):
        images = [header_key(m) for m in RECORDER.messages('/image')]
        results = [json.loads(m.data)['header'] for m in RECORDER.messages(RESULTS)]
        self.assertEqual(len(images), IMAGES)
        self.assertEqual([(r['stamp']['sec'], r['stamp']['nanosec'], r['frame_id'])
                          for r in results], images)

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
