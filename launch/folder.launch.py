"""A folder of images segmented one by one, optionally recorded to a bag and shown in rviz2.

ros2 launch instance_segmentation_ros folder.launch.py folder:=images model_path:=/path/to/model \
    record:=true bag_path:=segmented_bag

The player waits for each result before the next image (lock-step), so a slow model drops
nothing; when the folder is done the whole launch shuts down and the bag is closed.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    IncludeLaunchDescription,
    RegisterEventHandler,
)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = 'instance_segmentation_ros'
SHARE = get_package_share_directory(PACKAGE)
RESULT_TOPIC = '/segmentation_node/detections_json'
RECORDED_TOPICS = ['/image', '/segmentation_node/masks', '/segmentation_node/overlay',
                   RESULT_TOPIC, '/segmentation_node/detections', '/image_file']


def generate_launch_description():
    """Declare the arguments and the nodes; see the module docstring for use."""
    arguments = [
        DeclareLaunchArgument('folder', description='Folder of images to play'),
        DeclareLaunchArgument('rate', default_value='2.0',
                              description='Most images per second (lock-step may be slower)'),
        DeclareLaunchArgument('loop', default_value='false',
                              description='Start again at the end instead of shutting down'),
        DeclareLaunchArgument('model_path', default_value='',
                              description='Mask R-CNN model; empty: the value in params_file'),
        DeclareLaunchArgument('classes', default_value='',
                              description='Class names or ids to keep, e.g. "[person]"'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(SHARE, 'config', 'segmentation.yaml'),
                              description='segmentation_node parameters'),
        DeclareLaunchArgument('player_params_file',
                              default_value=os.path.join(SHARE, 'config', 'folder_player.yaml'),
                              description='folder_player parameters'),
        DeclareLaunchArgument('record', default_value='false',
                              description='Record images and results with ros2 bag (mcap)'),
        DeclareLaunchArgument('bag_path', default_value='segmentation_bag',
                              description='Output folder of the bag (must not exist)'),
        DeclareLaunchArgument('rviz', default_value='false',
                              description='Start rviz2 showing the overlay and masks'),
    ]
    player = Node(
        package=PACKAGE, executable='folder_player', name='folder_player',
        parameters=[LaunchConfiguration('player_params_file'), {
            'folder': LaunchConfiguration('folder'),
            # Typed, so that rate:=5 reaches the node as the double it declares.
            'rate': ParameterValue(LaunchConfiguration('rate'), value_type=float),
            'loop': ParameterValue(LaunchConfiguration('loop'), value_type=bool),
            'wait_for_topic': RESULT_TOPIC,
        }],
        output='screen', emulate_tty=True)
    segmentation = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(SHARE, 'launch', 'segmentation.launch.py')),
        launch_arguments={
            'image_topic': '/image',
            'model_path': LaunchConfiguration('model_path'),
            'classes': LaunchConfiguration('classes'),
            'params_file': LaunchConfiguration('params_file'),
        }.items())
    recorder = ExecuteProcess(
        cmd=['ros2', 'bag', 'record', '--storage', 'mcap',
             '--output', LaunchConfiguration('bag_path'), *RECORDED_TOPICS],
        output='screen', condition=IfCondition(LaunchConfiguration('record')))
    rviz = Node(
        package='rviz2', executable='rviz2', name='rviz2',
        arguments=['-d', PathJoinSubstitution([SHARE, 'config', 'instance_segmentation.rviz'])],
        condition=IfCondition(LaunchConfiguration('rviz')))
    shutdown_when_done = RegisterEventHandler(OnProcessExit(
        target_action=player, on_exit=[EmitEvent(event=Shutdown(reason='folder finished'))]))
    return LaunchDescription([*arguments, recorder, segmentation, player, rviz,
                              shutdown_when_done])
