"""A USB webcam segmented live, optionally shown in rviz2.

ros2 launch instance_segmentation_ros webcam.launch.py model_path:=/path/to/model rviz:=true \
    width:=1280 height:=720
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    GroupAction,
    IncludeLaunchDescription,
    OpaqueFunction,
)
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace

PACKAGE = 'instance_segmentation_ros'
SHARE = get_package_share_directory(PACKAGE)


def webcam_publisher(context):
    """The camera node, with its YAML file first and non-empty launch arguments on top."""
    overrides = {'device': LaunchConfiguration('device').perform(context)}
    for size in ('width', 'height'):
        value = LaunchConfiguration(size).perform(context)
        if value:
            overrides[size] = int(value)
    return [Node(
        package=PACKAGE, executable='webcam_publisher', name='webcam_publisher',
        parameters=[LaunchConfiguration('camera_params_file'), overrides],
        remappings=[('image_raw', 'camera/image_raw'), ('camera_info', 'camera/camera_info')],
        output='screen', emulate_tty=True)]


def generate_launch_description():
    """Declare the arguments and the nodes; see the module docstring for use."""
    arguments = [
        DeclareLaunchArgument('device', default_value='0',
                              description='Camera index, device path (/dev/video0) or video URL'),
        DeclareLaunchArgument('model_path', default_value='',
                              description='Mask R-CNN model; empty: the value in params_file'),
        DeclareLaunchArgument('classes', default_value='',
                              description='Class names or ids to keep, e.g. "[person]"'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(SHARE, 'config', 'segmentation.yaml'),
                              description='segmentation_node parameters'),
        DeclareLaunchArgument('width', default_value='',
                              description='Image width asked of the camera, also the size the '
                                          'model is warmed up at; empty: camera_params_file'),
        DeclareLaunchArgument('height', default_value='',
                              description='Image height asked of the camera (see width); '
                                          'empty: camera_params_file'),
        DeclareLaunchArgument('camera_params_file',
                              default_value=os.path.join(SHARE, 'config', 'webcam.yaml'),
                              description='webcam_publisher parameters'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of both nodes (for several cameras)'),
        DeclareLaunchArgument('rviz', default_value='false',
                              description='Start rviz2 showing the overlay and masks'),
    ]
    camera = OpaqueFunction(function=webcam_publisher)
    segmentation = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(SHARE, 'launch', 'segmentation.launch.py')),
        launch_arguments={
            'image_topic': 'camera/image_raw',
            'model_path': LaunchConfiguration('model_path'),
            'classes': LaunchConfiguration('classes'),
            'params_file': LaunchConfiguration('params_file'),
            'image_width': LaunchConfiguration('width'),
            'image_height': LaunchConfiguration('height'),
        }.items())
    rviz = Node(
        package='rviz2', executable='rviz2', name='rviz2',
        arguments=['-d', PathJoinSubstitution([SHARE, 'config', 'instance_segmentation.rviz'])],
        condition=IfCondition(LaunchConfiguration('rviz')))
    return LaunchDescription([
        *arguments,
        GroupAction([PushRosNamespace(LaunchConfiguration('namespace')),
                     camera, segmentation, rviz]),
    ])
