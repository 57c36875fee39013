"""A folder of images segmented one by one, optionally recorded to a bag and shown in rviz2.

ros2 launch instance_segmentation_ros folder.launch.py folder:=images model_path:=/path/to/model \
    record:=true bag_path:=segmented_bag

folder_player publishes /image and waits for each result on /segmentation/detections_json
before the next image (lock-step), so a slow model drops nothing, however long it takes to
start; when the folder is done the whole launch shuts down and the bag is closed (exit status 0).
When the node or the player fails (a model that cannot be loaded, an unknown class, a folder
that does not exist) the launch ends at once with exit status 1. record:=true
without rosbag2 installed stops the launch before it starts anything. With transport:=compressed
the player publishes /image/compressed instead (JPEG and PNG files as they are, no re-encoding)
and the node reads that.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from instance_segmentation_ros.core.topics import FOLDER_IMAGE_TOPIC, RECORDED_TOPICS, RESULT_TOPIC
from instance_segmentation_ros.ros.launch_support import (
    PACKAGE,
    bag_recorder,
    config_file,
    ends_launch,
    launch_file,
    require_bag_recorder,
    rviz,
)


def generate_launch_description():
    """Declare the arguments and the nodes; see the module docstring for use."""
    arguments = [
        DeclareLaunchArgument('folder', description='Folder of images to play'),
        DeclareLaunchArgument('rate', default_value='2.0',
                              description='Most images per second (lock-step may be slower)'),
        DeclareLaunchArgument('transport', default_value='raw',
                              description='raw: sensor_msgs/Image on /image; compressed: '
                                          'sensor_msgs/CompressedImage on /image/compressed '
                                          '(JPEG and PNG files as they are)'),
        DeclareLaunchArgument('loop', default_value='false',
                              description='Start again at the end instead of shutting down'),
        DeclareLaunchArgument('model_path', default_value='',
                              description='Mask R-CNN model; empty: the value in params_file'),
        DeclareLaunchArgument('classes', default_value='',
                              description='Class names or ids to keep, e.g. "[person]"'),
        DeclareLaunchArgument('score_threshold', default_value='',
                              description='Minimum score kept (0..1); empty: params_file'),
        DeclareLaunchArgument('params_file', default_value=config_file('segmentation.yaml'),
                              description='segmentation_node parameters'),
        DeclareLaunchArgument('player_params_file',
                              default_value=config_file('folder_player.yaml'),
                              description='folder_player parameters'),
        DeclareLaunchArgument('record', default_value='false',
                              description='Record images and results with ros2 bag (mcap); '
                                          'needs rosbag2'),
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
            'transport': LaunchConfiguration('transport'),
            'wait_for_topic': RESULT_TOPIC,
        }],
        remappings=[('image', FOLDER_IMAGE_TOPIC)],
        output='screen', emulate_tty=True)
    segmentation = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(launch_file('segmentation.launch.py')),
        launch_arguments={
            'image_topic': FOLDER_IMAGE_TOPIC,
            'input_transport': LaunchConfiguration('transport'),
            'model_path': LaunchConfiguration('model_path'),
            'classes': LaunchConfiguration('classes'),
            'score_threshold': LaunchConfiguration('score_threshold'),
            'params_file': LaunchConfiguration('params_file'),
        }.items())
    return LaunchDescription([
        *arguments,
        require_bag_recorder(),  # first: nothing may start when the bag cannot be written
        bag_recorder(LaunchConfiguration('bag_path'), RECORDED_TOPICS),
        segmentation, player, rviz(), *ends_launch([player], 'folder finished'),
    ])
