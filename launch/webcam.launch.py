"""A USB webcam segmented live, optionally shown in rviz2.

ros2 launch instance_segmentation_ros webcam.launch.py model_path:=/path/to/model rviz:=true \
    width:=1280 height:=720

The camera publishes camera/image_raw and camera/camera_info; segmentation_node, in the
namespace `segmentation`, publishes segmentation/masks, segmentation/overlay, ... With
namespace:=front all of them move under /front (one launch per camera).

A video file as the device (device:=clip.mp4) is played in lock-step with the node's
detections_json: its first frame waits until the model is loaded, each next frame for the
result of the one before, and the launch ends (status 0) when every frame of the file is
segmented. The launch also ends when segmentation_node does (see segmentation.launch.py); it
or the camera failing (a model that cannot be loaded, a camera that cannot be opened with
reconnect: false) ends it with exit status 1.
"""

from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    GroupAction,
    IncludeLaunchDescription,
    OpaqueFunction,
)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace

from instance_segmentation_ros.core.topics import SEGMENTATION_NAMESPACE
from instance_segmentation_ros.core.video_source import parse_device
from instance_segmentation_ros.ros.launch_support import (
    PACKAGE,
    config_file,
    ends_launch,
    fails_launch,
    launch_file,
    rviz,
)

CAMERA_TOPIC = 'camera/image_raw'


def camera_and_segmentation(context):
    """The camera node and segmentation_node on its images, under the launch's namespace."""
    overrides = {'device': LaunchConfiguration('device').perform(context)}
    for size in ('width', 'height'):
        value = LaunchConfiguration(size).perform(context)
        if value:
            overrides[size] = int(value)
    is_file = parse_device(overrides['device'])[0] == 'file'
    if is_file:  # every frame segmented: relative, so the node's results in this namespace
        overrides['wait_for_topic'] = f'{SEGMENTATION_NAMESPACE}/detections_json'
    camera = Node(
        package=PACKAGE, executable='webcam_publisher', name='webcam_publisher',
        parameters=[LaunchConfiguration('camera_params_file'), overrides],
        remappings=[('image_raw', CAMERA_TOPIC), ('camera_info', 'camera/camera_info')],
        output='screen', emulate_tty=True)
    # segmentation_node lives one namespace deeper than the camera, so it is given the
    # camera's topic as an absolute name (a relative remap would resolve in its own namespace).
    namespace = LaunchConfiguration('namespace').perform(context).strip('/')
    image_topic = '/' + '/'.join(filter(None, (namespace, CAMERA_TOPIC)))
    segmentation = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(launch_file('segmentation.launch.py')),
        launch_arguments={
            'namespace': SEGMENTATION_NAMESPACE,  # relative: under the pushed namespace
            'image_topic': image_topic,
            'model_path': LaunchConfiguration('model_path'),
            'classes': LaunchConfiguration('classes'),
            'params_file': LaunchConfiguration('params_file'),
            'image_width': LaunchConfiguration('width'),
            'image_height': LaunchConfiguration('height'),
        }.items())
    # A file ends: then the launch does, its frames segmented (a camera runs until Ctrl+C).
    camera_ends = (ends_launch([camera], 'the video file finished') if is_file
                   else [fails_launch(camera)])
    # segmentation first: a launch argument it refuses then stops the launch before the
    # camera starts (a launch that fails half-way leaves the processes it started running).
    return [GroupAction([segmentation]), camera, *camera_ends]


def generate_launch_description():
    """Declare the arguments and the nodes; see the module docstring for use."""
    arguments = [
        DeclareLaunchArgument('device', default_value='0',
                              description='Camera index, device path (/dev/video0), video file '
                                          'or stream URL'),
        DeclareLaunchArgument('model_path', default_value='',
                              description='Mask R-CNN model; empty: the value in params_file'),
        DeclareLaunchArgument('classes', default_value='',
                              description='Class names or ids to keep, e.g. "[person]"'),
        DeclareLaunchArgument('params_file', default_value=config_file('segmentation.yaml'),
                              description='segmentation_node parameters'),
        DeclareLaunchArgument('width', default_value='',
                              description='Image width asked of the camera, also the size the '
                                          'model is warmed up at; empty: camera_params_file'),
        DeclareLaunchArgument('height', default_value='',
                              description='Image height asked of the camera (see width); '
                                          'empty: camera_params_file'),
        DeclareLaunchArgument('camera_params_file', default_value=config_file('webcam.yaml'),
                              description='webcam_publisher parameters'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of the camera, segmentation and rviz '
                                          '(one per camera, for several cameras)'),
        DeclareLaunchArgument('rviz', default_value='false',
                              description='Start rviz2 showing the overlay and masks'),
    ]
    return LaunchDescription([
        *arguments,
        GroupAction([PushRosNamespace(LaunchConfiguration('namespace')),
                     OpaqueFunction(function=camera_and_segmentation), rviz()]),
    ])
