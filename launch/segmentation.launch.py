"""segmentation_node alone, on any image topic.

ros2 launch instance_segmentation_ros segmentation.launch.py \
    image_topic:=/camera/image_raw model_path:=/path/to/model classes:='[person, car]'

The node runs in the namespace `segmentation` (argument `namespace`), so its outputs are
/segmentation/masks, /segmentation/detections, /segmentation/overlay, ...
"""

import yaml
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from instance_segmentation_ros.launch_support import PACKAGE, config_file
from instance_segmentation_ros.topics import SEGMENTATION_NAMESPACE

ARGUMENTS = {
    'image_topic': ('/camera/image_raw', 'Image topic to segment (remapped to image); a '
                                         'relative name is relative to namespace'),
    'model_path': ('', 'SavedModel folder, frozen graph .pb, zoo model folder or downloaded '
                       'zoo model name; empty: the value in params_file'),
    'params_file': (config_file('segmentation.yaml'),
                    'YAML file with the segmentation_node parameters'),
    'classes': ('', 'Class names or ids to keep, e.g. "[person, car]"; empty: params_file'),
    'score_threshold': ('', 'Minimum score kept (0..1); empty: the value in params_file'),
    'image_width': ('', 'Width of the incoming images: the model is warmed up at this size '
                        'so that the first frame is fast (with image_height); empty: params_file'),
    'image_height': ('', 'Height of the incoming images (with image_width); empty: params_file'),
    'namespace': (SEGMENTATION_NAMESPACE, 'Namespace of the node and of its output topics '
                                          '(one per camera, for several cameras)'),
    'node_name': ('segmentation_node', 'Name of the node'),
}


def declare_arguments():
    """One DeclareLaunchArgument per entry of ARGUMENTS, each with its description."""
    return [DeclareLaunchArgument(name, default_value=default, description=description)
            for name, (default, description) in ARGUMENTS.items()]


def segmentation_node(context):
    """The node, with the YAML file first and non-empty launch arguments on top of it."""
    overrides = {}
    model_path = LaunchConfiguration('model_path').perform(context)
    if model_path:
        overrides['model_path'] = model_path
    classes = yaml.safe_load(LaunchConfiguration('classes').perform(context) or '[]')
    if classes:
        overrides['classes'] = [str(name) for name in
                                (classes if isinstance(classes, list) else [classes])]
    score_threshold = LaunchConfiguration('score_threshold').perform(context)
    if score_threshold:
        overrides['score_threshold'] = float(score_threshold)
    width, height = (LaunchConfiguration(name).perform(context)
                     for name in ('image_width', 'image_height'))
    if width and height and int(width) and int(height):  # 0 = a camera's own default size
        overrides['warmup_width'], overrides['warmup_height'] = int(width), int(height)
    return [Node(
        package=PACKAGE,
        executable='segmentation_node',
        name=LaunchConfiguration('node_name'),
        namespace=LaunchConfiguration('namespace'),
        parameters=[LaunchConfiguration('params_file'), overrides],
        remappings=[('image', LaunchConfiguration('image_topic'))],
        output='screen',
        emulate_tty=True,
    )]


def generate_launch_description():
    """Declare the arguments and the nodes; see the module docstring for use."""
    return LaunchDescription([*declare_arguments(), OpaqueFunction(function=segmentation_node)])
