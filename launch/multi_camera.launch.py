"""Several cameras, one model: one segmentation_node serving every camera in fair turns.

ros2 launch instance_segmentation_ros multi_camera.launch.py \
    folders:='[left_images, right_images]' loop:=true rviz:=true
ros2 launch instance_segmentation_ros multi_camera.launch.py devices:='[0, 2]' \
    model_path:=/path/to/model rviz:=true
ros2 launch instance_segmentation_ros multi_camera.launch.py cameras:='[front, rear]' \
    image_topics:='[/front/image_raw, /rear/image_raw]' model_path:=/path/to/model

The node (namespace `segmentation`) gets the camera names as its `cameras` parameter and
publishes each camera's outputs under the camera's name: /segmentation/left/overlay,
/segmentation/right/detections_json, ... Camera c's images come from /c/image, or from its
entry in image_topics (a remap of the node's c/image). With folders, a folder_player per camera
publishes them there, in lock-step with that camera's results, and the launch ends when every
folder is done (unless loop:=true); with devices, a webcam_publisher per camera (a video file
in lock-step as a folder is; when every device is a file, the launch ends when all are done).
Each camera's images carry its own frame_id (frame_ids; default its name). A list whose length
is not the number of cameras, or a folder that does not exist, stops the launch with one error
line before anything starts. The launch ends when the node does; the node, a player or a
webcam failing ends it at once with exit status 1.
"""

import os

from launch import LaunchDescription
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from rclpy.exceptions import InvalidTopicNameException
from rclpy.expand_topic_name import expand_topic_name
from rclpy.validate_full_topic_name import validate_full_topic_name

from instance_segmentation_ros.core.topics import (
    SEGMENTATION_NAMESPACE,
    camera_image_topic,
    camera_topic,
)
from instance_segmentation_ros.core.video_source import parse_device
from instance_segmentation_ros.ros.launch_support import (
    PACKAGE,
    ArgumentError,
    argument,
    boolean,
    config_file,
    declare_arguments,
    ends_launch,
    fails_launch,
    name_list,
    rviz,
)

NODE_NAME = 'segmentation_node'
ARGUMENTS = {
    'cameras': ('[left, right]',  # topics.DEFAULT_CAMERAS, which config/multi_camera.rviz shows
                'YAML list of camera names, relative to namespace or absolute (/robot/left); '
                'camera c has its outputs under c (/segmentation/c/overlay, ...)'),
    'image_topics': ('', 'YAML list of image topics, one per camera in the order of cameras; '
                         'empty: /c/image for camera c'),
    'folders': ('', 'YAML list of image folders, one per camera: a folder_player per camera '
                    'plays its folder on its image topic, in lock-step with its results'),
    'devices': ('', 'YAML list of webcams, one per camera (index, /dev/videoN, video file or '
                    'stream URL): a webcam_publisher per camera on its image topic; a video '
                    'file in lock-step with its results'),
    'frame_ids': ('', 'YAML list of the frame_ids the folder players or webcams give their '
                      'images, one per camera; empty: the camera names (/ as _)'),
    'rate': ('2.0', 'With folders: most images per second of each player (lock-step may be '
                    'slower)'),
    'loop': ('false', 'With folders: play them again and again instead of ending the launch '
                      'when every folder is done'),
    'width': ('', 'With devices: image width asked of each webcam; with height also the size '
                  'the model is warmed up at; empty: camera_params_file'),
    'height': ('', 'With devices: image height asked of each webcam (see width)'),
    'input_transport': ('', 'raw: sensor_msgs/Image on the image topics; compressed: '
                            'sensor_msgs/CompressedImage on image_topic/compressed (folder '
                            'players then publish their JPEG and PNG files as they are); empty: '
                            'params_file'),
    'model_path': ('', 'SavedModel folder, frozen graph .pb, zoo model folder or downloaded '
                       'zoo model name; empty: the value in params_file'),
    'classes': ('', 'Class names or ids to keep, e.g. "[person, car]"; empty: params_file'),
    'score_threshold': ('', 'Minimum score kept (0..1); empty: the value in params_file'),
    'params_file': (config_file('segmentation.yaml'),
                    'YAML file with the segmentation_node parameters'),
    'player_params_file': (config_file('folder_player.yaml'), 'folder_player parameters'),
    'camera_params_file': (config_file('webcam.yaml'), 'webcam_publisher parameters'),
    'namespace': (SEGMENTATION_NAMESPACE, 'Namespace of the node; relative camera names put '
                                          'their outputs under it'),
    'rviz': ('false', 'Start rviz2 showing the overlays of the cameras left and right '
                      '(config/multi_camera.rviz)'),
}


def node_namespace(context) -> str:
    """The node's namespace as an absolute name ('/segmentation'), as launch_ros makes it."""
    return '/' + LaunchConfiguration('namespace').perform(context).strip('/')


def camera_names(text: str) -> list[str]:
    """The cameras: at least one, no two alike, each a name a topic can start with."""
    cameras = name_list(text)
    if not cameras:
        raise ArgumentError('give at least one camera')
    for camera in cameras:
        try:
            validate_full_topic_name(expand_topic_name(f'{camera}/image', NODE_NAME, '/'))
        except (ValueError, InvalidTopicNameException):
            raise ArgumentError(f'{camera!r} is not a camera name: letters, digits and _ '
                                'between single /, not starting with a digit') from None
        if '~' in camera or '{' in camera:
            raise ArgumentError(f'{camera!r} is not a camera name: no ~ or {{}}')
    if len(set(cameras)) < len(cameras):
        raise ArgumentError('a camera is named twice')
    return cameras


def per_camera(context, name: str, cameras: list[str], example: str) -> list[str]:
    """A launch argument's list of one entry per camera, or [] when it is empty."""
    values = argument(context, name, name_list, example)
    if values and len(values) != len(cameras):
        raise ArgumentError(
            f'launch argument {name} has {len(values)} entries for the {len(cameras)} cameras '
            f'[{", ".join(cameras)}]: give one per camera, in the order of cameras')
    return values


def image_topics(context, cameras: list[str]) -> list[str]:
    """Each camera's image topic, absolute: its entry in image_topics, else /c/image."""
    topics = per_camera(context, 'image_topics', cameras, "'[/left/image_raw, /right/image_raw]'")
    if not topics:
        return [camera_image_topic(camera) for camera in cameras]
    namespace = node_namespace(context)
    resolved = []
    for topic in topics:
        try:  # relative: relative to the node's namespace, as segmentation.launch.py reads it
            resolved.append(expand_topic_name(topic, NODE_NAME, namespace))
            validate_full_topic_name(resolved[-1])
        except (ValueError, InvalidTopicNameException):
            raise ArgumentError(f'launch argument image_topics: {topic!r} is not a topic '
                                'name') from None
    return resolved


def segmentation_node(context, cameras: list[str], topics: list[str]) -> Node:
    """The node, with the YAML file first and non-empty launch arguments on top of it."""
    # A Python list of str reaches the node as a string array, even a one-camera list.
    overrides = {'cameras': cameras}
    for name in ('model_path', 'input_transport'):
        value = argument(context, name, str.strip)
        if value:
            overrides[name] = value
    classes = argument(context, 'classes', name_list, "'[person, car]'")
    if classes:
        overrides['classes'] = classes
    if argument(context, 'score_threshold', str.strip):
        overrides['score_threshold'] = argument(context, 'score_threshold', float, '0.6')
    width, height = (argument(context, name, lambda text: int(text or 0), '640')
                     for name in ('width', 'height'))
    if width and height:
        overrides['warmup_width'], overrides['warmup_height'] = width, height
    return Node(
        package=PACKAGE, executable='segmentation_node', name=NODE_NAME,
        namespace=LaunchConfiguration('namespace'),
        parameters=[LaunchConfiguration('params_file'), overrides],
        # The node's own c/image, resolved in its namespace, to each camera's topic.
        remappings=[(f'{camera}/image', topic)
                    for camera, topic in zip(cameras, topics, strict=True)],
        output='screen', emulate_tty=True)


def camera_namespace(camera: str) -> str:
    """Where a camera's player or webcam runs: /c, beside its default image topic."""
    return '/' + camera.strip('/')


def folder_players(context, cameras, topics, frame_ids, folders) -> list[Node]:
    """A folder_player per camera, in lock-step with that camera's detections_json."""
    for folder in folders:
        if not os.path.isdir(folder):
            raise ArgumentError(f'launch argument folders: {folder!r} is not a folder')
    rate = argument(context, 'rate', float, '2.0')
    if rate <= 0:
        raise ArgumentError(f'launch argument rate:={rate:g} is not valid; for example '
                            'rate:=2.0')
    loop = argument(context, 'loop', boolean, 'true')
    transport = argument(context, 'input_transport', str.strip) or 'raw'
    namespace = node_namespace(context)
    return [Node(
        package=PACKAGE, executable='folder_player', name='folder_player',
        namespace=camera_namespace(camera),
        parameters=[LaunchConfiguration('player_params_file'), {
            'folder': folder, 'rate': rate, 'loop': loop, 'transport': transport,
            'frame_id': frame_id,
            'wait_for_topic': camera_topic(camera, 'detections_json', namespace),
        }],
        remappings=[('image', topic)],
        output='screen', emulate_tty=True)
        for camera, topic, frame_id, folder in zip(
            cameras, topics, frame_ids, folders, strict=True)]


def webcams(context, cameras, topics, frame_ids, devices) -> list[Node]:
    """A webcam_publisher per camera, its images on the camera's image topic.

    A video file is played in lock-step with that camera's detections_json, as a folder is.
    """
    if (argument(context, 'input_transport', str.strip) or 'raw') != 'raw':
        raise ArgumentError('webcams (devices) publish raw images: leave out input_transport')
    size = {}
    for name in ('width', 'height'):
        value = argument(context, name, lambda text: int(text or 0), '640')
        if value:
            size[name] = value
    namespace = node_namespace(context)
    return [Node(
        package=PACKAGE, executable='webcam_publisher', name='webcam_publisher',
        namespace=camera_namespace(camera),
        parameters=[LaunchConfiguration('camera_params_file'),
                    {'device': device, 'frame_id': frame_id, **size,
                     **({'wait_for_topic': camera_topic(camera, 'detections_json', namespace)}
                        if is_video_file(device) else {})}],
        remappings=[('image_raw', topic)],
        output='screen', emulate_tty=True)
        for camera, topic, frame_id, device in zip(
            cameras, topics, frame_ids, devices, strict=True)]


def is_video_file(device: str) -> bool:
    """Whether a device is a video file, which ends, rather than a camera or a stream."""
    return parse_device(device)[0] == 'file'


def nodes(context):
    """Every argument checked first; then the node, the cameras and the handlers."""
    cameras = argument(context, 'cameras', camera_names, "'[left, right]'")
    topics = image_topics(context, cameras)
    frame_ids = per_camera(context, 'frame_ids', cameras, "'[left_camera, right_camera]'") or [
        camera.strip('/').replace('/', '_') for camera in cameras]
    folders = per_camera(context, 'folders', cameras, "'[left_images, right_images]'")
    devices = per_camera(context, 'devices', cameras, "'[0, 2]'")
    if folders and devices:
        raise ArgumentError('give folders or devices, not both')
    node = segmentation_node(context, cameras, topics)
    if folders:
        sources = folder_players(context, cameras, topics, frame_ids, folders)
        handlers = ends_launch(sources, 'every folder finished')
    else:
        sources = webcams(context, cameras, topics, frame_ids, devices) if devices else []
        # Cameras run until Ctrl+C; only files all end.
        handlers = (ends_launch(sources, 'every video file finished')
                    if devices and all(map(is_video_file, devices))
                    else [fails_launch(webcam) for webcam in sources])
    # Without the node the cameras have no purpose (a model that does not load: exit 1).
    handlers += ends_launch([node], f'{NODE_NAME} ended')
    return [node, *sources, *handlers]


def generate_launch_description():
    """Declare the arguments and the nodes; see the module docstring for use."""
    return LaunchDescription([*declare_arguments(ARGUMENTS), OpaqueFunction(function=nodes),
                              rviz(config='multi_camera.rviz')])
