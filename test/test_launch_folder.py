"""launch_testing: folder.launch.py plays a folder in lock-step and shuts down when done.

Runs where launch_testing and launch_ros are installed (a ROS 2 workspace: `colcon test`);
skipped elsewhere, since they have no PyPI wheels.
"""

import os
import tempfile
import unittest

import pytest

pytest.importorskip('launch_testing',
                    reason='launch_testing is not installed (ROS 2 workspace only)')
pytest.importorskip('launch_ros', reason='launch_ros is not installed (ROS 2 workspace only)')

import cv2  # noqa: E402
import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import tiny_models  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

IMAGES = 4
WORKDIR = tempfile.mkdtemp()
MODEL = tiny_models.export_tf1_frozen_graph(os.path.join(WORKDIR, 'model.pb'))
FOLDER = os.path.join(WORKDIR, 'images')
os.makedirs(FOLDER)
for index in range(IMAGES):
    cv2.imwrite(os.path.join(FOLDER, f'{index}.png'),
                tiny_models.draw_scene(seed=index)[0][..., ::-1])


@pytest.mark.launch_test
def generate_test_description():
    share = get_package_share_directory('instance_segmentation_ros')
    folder = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'folder.launch.py')),
        launch_arguments={'folder': FOLDER, 'model_path': MODEL, 'rate': '20.0'}.items())
    return launch.LaunchDescription([folder, launch_testing.actions.ReadyToTest()])


class TestFolderLaunch(unittest.TestCase):

    def test_every_image_gets_a_result_then_the_launch_ends(self, proc_output):
        proc_output.assertWaitFor(f"done with '{FOLDER}': published {IMAGES}", timeout=120)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):

    def test_exit_codes(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
