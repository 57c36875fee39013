"""launch_testing: segmentation.launch.py segments a camera topic remapped at launch.

Needs launch_testing and launch_ros (a ROS 2 install, or the README's ROS tools for the pip
set-up); skipped without them. Runs under pytest, and alone: `launch_test THIS_FILE`.
"""

import json
import os
import sys
import unittest

import pytest

pytest.importorskip('launch_testing', reason='launch_testing is not installed (no PyPI wheel)')
pytest.importorskip('launch_ros', reason='launch_ros is not installed (no PyPI wheel)')
vision_msgs = pytest.importorskip('vision_msgs.msg',
                                  reason='vision_msgs is not installed (no PyPI wheel)')

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
from launch_test_support import SCENE_SEED, TopicRecorder, header_key  # noqa: E402

CAMERA = '/test_camera/image_raw'
OUTPUTS = {'/segmentation/detections_json': String, '/segmentation/masks': Image,
           '/segmentation/detections': vision_msgs.Detection2DArray,
           '/segmentation/label_info': vision_msgs.LabelInfo}
KEPT_CLASS = 'circle'


@pytest.mark.launch_test
def generate_test_description():
    segmentation = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(launch_file('segmentation.launch.py')),
        launch_arguments={'image_topic': CAMERA, 'classes': f'[{KEPT_CLASS}]',
                          'score_threshold': '0.3'}.items())
    return launch.LaunchDescription([segmentation, launch_testing.actions.ReadyToTest()])


def scene_message(index: int) -> Image:
    scene = generate_scene(SCENE_SEED, index)
    message = fill_image_msg(Image(), np.ascontiguousarray(scene.bgr), 'bgr8')
    message.header.stamp.sec, message.header.stamp.nanosec = 1000 + index, 500
    message.header.frame_id = 'test_camera'
    return message


class TestSegmentationLaunch(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.recorder = TopicRecorder(OUTPUTS)

    @classmethod
    def tearDownClass(cls):
        cls.recorder.close()

    def test_camera_frames_are_segmented_with_their_header(self):
        publisher = self.recorder.node.create_publisher(Image, CAMERA, 10)
        messages = [scene_message(index) for index in range(3)]
        wanted = {header_key(message) for message in messages}

        def answered(recorder):
            for message in messages:
                publisher.publish(message)
            return wanted <= {header_key(m) for m in recorder.messages('/segmentation/masks')}

        self.assertTrue(self.recorder.wait_for(answered, timeout=120),
                        'no segmentation of the remapped camera topic')
        compared = 0
        for message in messages:
            key = header_key(message)
            frames = [json.loads(m.data) for m in
                      self.recorder.messages('/segmentation/detections_json')]
            frame = next(f for f in frames if (f['header']['stamp']['sec'],
                                               f['header']['stamp']['nanosec'],
                                               f['header']['frame_id']) == key)
            names = {d['category_name'] for d in frame['detections']}
            self.assertLessEqual(names, {KEPT_CLASS})
            arrays = [a for a in self.recorder.messages('/segmentation/detections')
                      if header_key(a) == key]
            self.assertTrue(arrays, 'no Detection2DArray for the frame')
            self.assert_same_detections(arrays[0], frame)
            compared += len(frame['detections'])
        self.assertGreater(compared, 0, f'no {KEPT_CLASS} found in any scene')

    def assert_same_detections(self, array, frame):
        """Detection2DArray and detections_json of one frame tell the same."""
        detections = frame['detections']
        self.assertEqual([d.id for d in array.detections], [str(d['id']) for d in detections])
        for detection, entry in zip(array.detections, detections, strict=True):
            hypothesis = detection.results[0].hypothesis
            self.assertEqual(hypothesis.class_id, entry['category_name'])
            self.assertAlmostEqual(hypothesis.score, entry['score'], delta=1e-5)
            x, y, width, height = entry['bbox']  # rounded to 0.01 px in the JSON
            box = detection.bbox
            self.assertAlmostEqual(box.center.position.x, x + width / 2, delta=0.011)
            self.assertAlmostEqual(box.center.position.y, y + height / 2, delta=0.011)
            self.assertAlmostEqual(box.size_x, width, delta=0.011)
            self.assertAlmostEqual(box.size_y, height, delta=0.011)

    def test_label_info_is_latched_for_late_subscribers(self):
        self.assertTrue(self.recorder.wait_for(
            lambda r: r.messages('/segmentation/label_info'), timeout=120))
        info = self.recorder.messages('/segmentation/label_info')[-1]
        self.assertEqual({(c.class_id, c.class_name) for c in info.class_map},
                         {(1, 'circle'), (2, 'square'), (3, 'triangle')})
        self.assertAlmostEqual(info.threshold, 0.3, places=5)


@launch_testing.post_shutdown_test()
class TestAfterShutdown(unittest.TestCase):

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
