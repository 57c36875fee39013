"""launch_testing: multi_camera.launch.py, two folders segmented by one node, then the end.

The cameras left and right play folders of different image sizes (and, by default, frame_ids
of their own names), each in lock-step with its own results, into one segmentation_node with
the built-in model. Each camera's detections_json must hold exactly its own frames, one
result per image in order, of its own size; the overlay topics that the shipped rviz config
shows (config/multi_camera.rviz; rviz2 itself cannot run here) must carry each camera's
segmented frames; and the launch must end by itself once both folders are done, every process
with exit status 0.

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
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from instance_segmentation_ros.core.image_conversion import image_msg_to_bgr  # noqa: E402
from instance_segmentation_ros.core.topics import camera_image_topic, camera_topic  # noqa: E402
from instance_segmentation_ros.demo.coco_truth import write_coco_dataset  # noqa: E402
from instance_segmentation_ros.ros.launch_support import config_file, launch_file  # noqa: E402

# launch_test runs this file without pytest's pythonpath: the helpers are in ../support
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'support'))
from launch_test_support import SCENE_SEED, TopicRecorder, header_key  # noqa: E402

# camera: (images, (width, height)); sizes differ so that a frame of one camera in the other's
# results shows.
CAMERAS = {'left': (4, (320, 240)), 'right': (3, (256, 192))}


def results_topic(camera: str) -> str:
    return camera_topic(camera, 'detections_json')


def rviz_image_topics() -> list[str]:
    """The topics of the Image displays of the installed multi-camera rviz config."""
    with open(config_file('multi_camera.rviz')) as file:
        displays = yaml.safe_load(file)['Visualization Manager']['Displays']
    return ['/' + display['Topic']['Value'].lstrip('/') for display in displays
            if display['Class'] == 'rviz_default_plugins/Image']


@pytest.mark.launch_test
def generate_test_description():
    root = tempfile.mkdtemp(prefix='launch_multi_camera_')
    folders = {}
    for offset, (camera, (count, size)) in enumerate(CAMERAS.items()):
        folders[camera] = os.path.join(root, camera)
        write_coco_dataset(folders[camera], count, seed=SCENE_SEED + offset, size=size)
    topics = {camera_image_topic(camera): Image for camera in CAMERAS}
    topics.update({results_topic(camera): String for camera in CAMERAS})
    topics.update({topic: Image for topic in rviz_image_topics()})
    recorder = TopicRecorder(topics)
    multi_camera = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(launch_file('multi_camera.launch.py')),
        launch_arguments={'cameras': f'[{", ".join(CAMERAS)}]',
                          'folders': f'[{", ".join(folders.values())}]',
                          'rate': '20.0', 'model_path': ''}.items())
    return (launch.LaunchDescription([multi_camera, launch_testing.actions.ReadyToTest()]),
            {'folders': folders, 'recorder': recorder})


class TestMultiCameraLaunch(unittest.TestCase):

    def test_each_player_plays_its_folder_in_lock_step(self, proc_output, folders):
        for camera, (count, _) in CAMERAS.items():
            proc_output.assertWaitFor(
                f"done with '{folders[camera]}': published {count} images, skipped 0, "
                '0 wait timeouts', timeout=120)


@launch_testing.post_shutdown_test()
class TestAfterShutdown(unittest.TestCase):

    @classmethod
    def tearDownClass(cls, recorder):
        recorder.close()

    def test_each_camera_s_results_are_its_own_frames_one_per_image(self, recorder):
        for camera, (count, (width, height)) in CAMERAS.items():
            images = [header_key(m) for m in recorder.messages(camera_image_topic(camera))]
            self.assertEqual(len(images), count, camera)
            self.assertEqual({frame_id for _, _, frame_id in images}, {camera})
            self.assertEqual({(m.width, m.height) for m in
                              recorder.messages(camera_image_topic(camera))}, {(width, height)})
            results = [json.loads(m.data) for m in recorder.messages(results_topic(camera))]
            self.assertEqual([(r['header']['stamp']['sec'], r['header']['stamp']['nanosec'],
                               r['header']['frame_id']) for r in results], images, camera)
            self.assertEqual({(r['width'], r['height']) for r in results}, {(width, height)},
                             camera)

    def test_rviz_s_overlays_show_each_camera_s_frames_segmented(self, recorder):
        self.assertEqual(rviz_image_topics(), [camera_topic(camera, 'overlay')
                                               for camera in CAMERAS])
        for camera in CAMERAS:
            inputs = {header_key(m): image_msg_to_bgr(m)
                      for m in recorder.messages(camera_image_topic(camera))}
            overlays = recorder.messages(camera_topic(camera, 'overlay'))
            self.assertEqual([header_key(m) for m in overlays], list(inputs), camera)
            for overlay in overlays:  # the input with the instances drawn on it
                drawn = image_msg_to_bgr(overlay)
                self.assertEqual(drawn.shape, inputs[header_key(overlay)].shape)
                self.assertFalse(np.array_equal(drawn, inputs[header_key(overlay)]), camera)

    def test_both_cameras_found_shapes(self, recorder):
        for camera in CAMERAS:
            detections = [d for m in recorder.messages(results_topic(camera))
                          for d in json.loads(m.data)['detections']]
            self.assertTrue(detections, f'no detection in any {camera} frame')

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
