"""launch_testing: folder.launch.py segments every image of a folder, then ends by itself.

Once per transport: with compressed the player publishes the PNG files as they are on
/image/compressed and the node reads them there.

Needs launch_testing and launch_ros (a ROS 2 install, or the README's ROS tools for the pip
set-up); skipped without them. Runs under pytest, and alone: `launch_test THIS_FILE`.
"""

import json
import os
import sys
import tempfile
import unittest

import cv2
import numpy as np
import pytest

pytest.importorskip('launch_testing', reason='launch_testing is not installed (no PyPI wheel)')
pytest.importorskip('launch_ros', reason='launch_ros is not installed (no PyPI wheel)')

import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from instance_segmentation_ros.core.image_conversion import image_msg_to_bgr  # noqa: E402
from instance_segmentation_ros.demo.coco_truth import write_coco_dataset  # noqa: E402
from instance_segmentation_ros.ros.launch_support import launch_file  # noqa: E402

# launch_test runs this file without pytest's pythonpath: the helpers are in ../support
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'support'))
from launch_test_support import SCENE_SEED, TopicRecorder, header_key  # noqa: E402

IMAGES = 4
RESULTS = '/segmentation/detections_json'
IMAGE_TOPICS = {'raw': '/image', 'compressed': '/image/compressed'}


@pytest.mark.launch_test
@launch_testing.parametrize('transport', list(IMAGE_TOPICS))
def generate_test_description(transport):
    folder = os.path.join(tempfile.mkdtemp(prefix='launch_folder_'), 'images')
    write_coco_dataset(folder, IMAGES, seed=SCENE_SEED)
    recorder = TopicRecorder(
        {'/image': Image, '/image/compressed': CompressedImage, RESULTS: String})
    launch_folder = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(launch_file('folder.launch.py')),
        launch_arguments={'folder': folder, 'rate': '20.0', 'transport': transport}.items())
    return (launch.LaunchDescription([launch_folder, launch_testing.actions.ReadyToTest()]),
            {'folder': folder, 'recorder': recorder})


class TestFolderLaunch(unittest.TestCase):

    def test_the_player_plays_every_image_in_lock_step(self, proc_output, folder):
        proc_output.assertWaitFor(
            f"done with '{folder}': published {IMAGES} images, skipped 0, 0 wait timeouts",
            timeout=180)


@launch_testing.post_shutdown_test()
class TestAfterShutdown(unittest.TestCase):

    @classmethod
    def tearDownClass(cls, recorder):
        recorder.close()

    def test_every_image_has_one_result_with_its_header(self, recorder, transport):
        images = [header_key(m) for m in recorder.messages(IMAGE_TOPICS[transport])]
        results = [json.loads(m.data)['header'] for m in recorder.messages(RESULTS)]
        self.assertEqual(len(images), IMAGES)
        self.assertEqual([(r['stamp']['sec'], r['stamp']['nanosec'], r['frame_id'])
                          for r in results], images)

    def test_only_the_transport_s_topic_has_images(self, recorder, transport):
        other = next(topic for name, topic in IMAGE_TOPICS.items() if name != transport)
        self.assertEqual(recorder.messages(other), [])

    def test_the_images_are_the_files(self, recorder, transport, folder):
        """Raw: the pixels of each file; compressed: each PNG file's own bytes."""
        paths = [os.path.join(folder, name) for name in sorted(os.listdir(folder))
                 if name.endswith('.png')]
        messages = recorder.messages(IMAGE_TOPICS[transport])
        self.assertEqual(len(messages), len(paths))
        for message, path in zip(messages, paths, strict=True):
            if transport == 'compressed':
                with open(path, 'rb') as file:
                    self.assertEqual((message.format, bytes(message.data)),
                                     ('bgr8; png compressed bgr8', file.read()))
            else:
                self.assertTrue(np.array_equal(image_msg_to_bgr(message), cv2.imread(path)))

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
