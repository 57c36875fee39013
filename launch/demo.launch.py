"""The offline demo: generated scenes -> folder_player -> segmentation_node (built-in model).

ros2 launch instance_segmentation_ros demo.launch.py rviz:=true

Scenes of circles, squares and triangles are generated when the launch starts and played by
folder.launch.py in lock-step into segmentation_node, which runs the built-in demo model (no
model_path); the launch ends when the scenes are done, unless loop:=true, with the exit status of
folder.launch.py (1 when the node or the player fails). Scenes written to a new temporary folder
(no scenes_folder) are deleted when the launch ends, however it ends.
"""

import atexit
import shutil
import tempfile

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

from instance_segmentation_ros.ros.launch_support import launch_file

PASSED_ON = ('rate', 'transport', 'loop', 'rviz', 'record', 'bag_path')


def scenes_and_folder_launch(context):
    """Write the scenes, then play them with folder.launch.py and the built-in model."""
    from instance_segmentation_ros.demo.coco_truth import write_coco_dataset
    from instance_segmentation_ros.demo.evaluation import HELD_OUT_SEED

    folder = LaunchConfiguration('scenes_folder').perform(context)
    if not folder:
        folder = tempfile.mkdtemp(prefix='instance_segmentation_demo_')
        # At exit, not on the Shutdown event: the player may still be reading the scenes then,
        # and the launch exits after every process has ended, however the launch ended.
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    write_coco_dataset(folder, int(LaunchConfiguration('count').perform(context)),
                       seed=HELD_OUT_SEED)
    arguments = {name: LaunchConfiguration(name) for name in PASSED_ON}
    arguments.update(folder=folder, model_path='', score_threshold='0.3')
    folder_launch = PythonLaunchDescriptionSource(launch_file('folder.launch.py'))
    return [IncludeLaunchDescription(folder_launch, launch_arguments=arguments.items())]


def generate_launch_description():
    """Declare the arguments and the nodes; see the module docstring for use."""
    return LaunchDescription([
        DeclareLaunchArgument('count', default_value='20',
                              description='Number of generated scenes'),
        DeclareLaunchArgument('rate', default_value='2.0',
                              description='Most scenes per second (lock-step may be slower)'),
        DeclareLaunchArgument('transport', default_value='raw',
                              description='raw: sensor_msgs/Image on /image; compressed: '
                                          "the scenes' PNG files on /image/compressed"),
        DeclareLaunchArgument('loop', default_value='false',
                              description='Play the scenes again and again'),
        DeclareLaunchArgument('scenes_folder', default_value='',
                              description='Where to write the scenes (kept); empty: a new '
                                          'temporary folder, deleted at the end'),
        DeclareLaunchArgument('rviz', default_value='false',
                              description='Start rviz2 showing the overlay and masks'),
        DeclareLaunchArgument('record', default_value='false',
                              description='Record scenes and results with ros2 bag (mcap); '
                                          'needs rosbag2'),
        DeclareLaunchArgument('bag_path', default_value='demo_bag',
                              description='Output folder of the bag (must not exist)'),
        OpaqueFunction(function=scenes_and_folder_launch),
    ])
