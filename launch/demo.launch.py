"""The offline demo: generated scenes -> folder_player -> segmentation_node (built-in model).

ros2 launch instance_segmentation_ros demo.launch.py rviz:=true

Scenes of circles, squares and triangles are generated when the launch starts, played in
lock-step into segmentation_node, which runs the built-in demo model (no model_path); the
launch ends when the scenes are done, unless loop:=true.
"""

import os
import tempfile

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    OpaqueFunction,
    RegisterEventHandler,
)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = 'instance_segmentation_ros'
SHARE = get_package_share_directory(PACKAGE)
RESULT_TOPIC = '/segmentation_node/detections_json'


def scenes_and_nodes(context):
    """Write the scenes, then start the player on them and the segmentation node."""
    from instance_segmentation_ros.demo import HELD_OUT_SEED
    from instance_segmentation_ros.synthetic_scenes import write_coco_dataset

    folder = LaunchConfiguration('scenes_folder').perform(context) or tempfile.mkdtemp(
        prefix='instance_segmentation_demo_')
    write_coco_dataset(folder, int(LaunchConfiguration('count').perform(context)),
                       seed=HELD_OUT_SEED)
    player = Node(
        package=PACKAGE, executable='folder_player', name='folder_player',
        parameters=[os.path.join(SHARE, 'config', 'folder_player.yaml'), {
            'folder': folder,
            'rate': ParameterValue(LaunchConfiguration('rate'), value_type=float),
            'loop': ParameterValue(LaunchConfiguration('loop'), value_type=bool),
            'wait_for_topic': RESULT_TOPIC,
        }],
        output='screen', emulate_tty=True)
    segmentation = Node(
        package=PACKAGE, executable='segmentation_node', name='segmentation_node',
        parameters=[os.path.join(SHARE, 'config', 'segmentation.yaml'),
                    {'score_threshold': 0.3}],
        remappings=[('~/image', '/image')], output='screen', emulate_tty=True)
    shutdown_when_done = RegisterEventHandler(OnProcessExit(
        target_action=player, on_exit=[EmitEvent(event=Shutdown(reason='demo finished'))]))
    return [segmentation, player, shutdown_when_done]


def generate_launch_description():
    """Declare the arguments and the nodes; see the module docstring for use."""
    return LaunchDescription([
        DeclareLaunchArgument('count', default_value='20',
                              description='Number of generated scenes'),
        DeclareLaunchArgument('rate', default_value='2.0',
                              description='Most scenes per second (lock-step may be slower)'),
        DeclareLaunchArgument('loop', default_value='false',
                              description='Play the scenes again and again'),
        DeclareLaunchArgument('scenes_folder', default_value='',
                              description='Where to write the scenes; empty: a new temporary '
                                          'folder'),
        DeclareLaunchArgument('rviz', default_value='false',
                              description='Start rviz2 showing the overlay and masks'),
        OpaqueFunction(function=scenes_and_nodes),
        Node(package='rviz2', executable='rviz2', name='rviz2',
             arguments=['-d', PathJoinSubstitution([SHARE, 'config',
                                                    'instance_segmentation.rviz'])],
             condition=IfCondition(LaunchConfiguration('rviz'))),
    ])
