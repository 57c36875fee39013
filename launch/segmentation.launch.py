"""segmentation_node alone, on any image topic.

ros2 launch instance_segmentation_ros segmentation.launch.py \
    image_topic:=/camera/image_raw model_path:=/path/to/model classes:='[person, car]'

The node runs in the namespace `segmentation` (argument `namespace`), so its outputs are
/segmentation/masks, /segmentation/detections, /segmentation/overlay, ...
`lifecycle:=true` runs the managed segmentation_lifecycle_node instead, configured and
activated by the launch unless `autostart:=false` (then: ros2 lifecycle set ...).

The launch ends with the node, and with it every launch that includes this one (webcam, folder,
demo): `ros2 launch` exits 1 when the node fails (a model that cannot be loaded, an unknown
class), 0 when it ends cleanly (Ctrl+C).
"""

from launch import LaunchDescription
from launch.actions import EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

from instance_segmentation_ros.core.topics import SEGMENTATION_NAMESPACE
from instance_segmentation_ros.ros.launch_support import (
    PACKAGE,
    argument,
    boolean,
    config_file,
    declare_arguments,
    ends_launch,
    name_list,
)

ARGUMENTS = {
    'image_topic': ('/camera/image_raw', 'Image topic to segment (remapped to image); a '
                                         'relative name is relative to namespace'),
    'input_transport': ('', 'raw: sensor_msgs/Image on image_topic; compressed: '
                            'sensor_msgs/CompressedImage on image_topic/compressed; empty: '
                            'params_file'),
    'model_path': ('', 'SavedModel folder, frozen graph .pb, zoo model folder or downloaded '
                       'zoo model name; empty: the value in params_file'),
    'params_file': (config_file('segmentation.yaml'),
                    'YAML file with the segmentation_node parameters'),
    'classes': ('', 'Class names or ids to keep, e.g. "[person, car]"; empty: params_file'),
    'score_threshold': ('', 'Minimum score kept (0..1); empty: the value in params_file'),
    'image_width': ('', 'Width of the incoming images: the model is warmed up at this size '
                        'so that the first frame is fast (with image_height); empty: params_file'),
    'image_height': ('', 'Height of the incoming images (with image_width); empty: params_file'),
    'namespace': (SEGMENTATION_NAMESPACE, 'Namespace of the node and of its output topics (one '
                                          'per camera for a node per camera; '
                                          'multi_camera.launch.py serves several with one)'),
    'node_name': ('segmentation_node', 'Name of the node'),
    'lifecycle': ('false', 'true: run segmentation_lifecycle_node, the managed variant that '
                           '`ros2 lifecycle set` configures, activates, cleans up, ...'),
    'autostart': ('true', 'With lifecycle:=true, configure and activate the node at launch; '
                          'false leaves it unconfigured'),
}


def managed(context, node: LifecycleNode) -> list:
    """The lifecycle node, with autostart its configure and then, once inactive, activate."""
    if not argument(context, 'autostart', boolean, 'false'):
        return [node]

    def transition(transition_id: int) -> EmitEvent:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                           transition_id=transition_id))

    # Once: after a cleanup, a configure by hand is not followed by an activate of the launch's.
    activate = OnStateTransition(target_lifecycle_node=node, start_state='configuring',
                                 goal_state='inactive', handle_once=True,
                                 entities=[transition(Transition.TRANSITION_ACTIVATE)])
    return [node, RegisterEventHandler(activate), transition(Transition.TRANSITION_CONFIGURE)]


def segmentation_node(context):
    """The node, with the YAML file first and non-empty launch arguments on top of it."""
    overrides = {}
    for name in ('model_path', 'input_transport'):
        value = argument(context, name)
        if value:
            overrides[name] = value
    classes = argument(context, 'classes', name_list, "'[person, car]'")
    if classes:
        overrides['classes'] = classes
    score_threshold = argument(context, 'score_threshold', str.strip)
    if score_threshold:
        overrides['score_threshold'] = argument(context, 'score_threshold', float, '0.6')
    width, height = (argument(context, name, lambda text: int(text or 0), '640')
                     for name in ('image_width', 'image_height'))
    if width and height:  # 0 or empty: a camera's own default size
        overrides['warmup_width'], overrides['warmup_height'] = width, height
    options = dict(
        package=PACKAGE,
        name=LaunchConfiguration('node_name'),
        namespace=LaunchConfiguration('namespace'),
        parameters=[LaunchConfiguration('params_file'), overrides],
        remappings=[('image', LaunchConfiguration('image_topic'))],
        output='screen',
        emulate_tty=True,
    )
    if argument(context, 'lifecycle', boolean, 'true'):
        node = LifecycleNode(executable='segmentation_lifecycle_node', **options)
        return [*managed(context, node), *ends_launch([node], 'the segmentation node ended')]
    node = Node(executable='segmentation_node', **options)
    return [node, *ends_launch([node], 'the segmentation node ended')]


def generate_launch_description():
    """Declare the arguments and the nodes; see the module docstring for use."""
    return LaunchDescription([*declare_arguments(ARGUMENTS),
                              OpaqueFunction(function=segmentation_node)])
