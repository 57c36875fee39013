"""multi_camera.launch.py's arguments, turned into nodes without starting them.

The launch file's own function runs in a launch context as `ros2 launch` would run it; what it
gives each node is checked where it ends up: the node's parameters are read back from the files
launch_ros writes for the process, by rcl's own YAML parser (an rclpy node given those files),
so `cameras` is seen as the string array segmentation_node receives, a one-camera list too.
Refused arguments raise the one line `ros2 launch` prints before anything starts.

Needs launch and launch_ros (a ROS 2 install, or the README's ROS tools for the pip set-up);
skipped without them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip('launch', reason='launch is not installed (no PyPI wheel)')
pytest.importorskip('launch_ros', reason='launch_ros is not installed (no PyPI wheel)')

import rclpy  # noqa: E402
from launch import LaunchContext  # noqa: E402
from launch.actions import RegisterEventHandler  # noqa: E402
from launch_ros.actions import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from instance_segmentation_ros.core.topics import DEFAULT_CAMERAS  # noqa: E402
from instance_segmentation_ros.ros.launch_support import ArgumentError  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parents[2] / 'launch' / 'multi_camera.launch.py'


def load_launch_file():
    spec = importlib.util.spec_from_file_location('multi_camera_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MULTI_CAMERA = load_launch_file()


def launch_actions(**arguments: str) -> tuple[LaunchContext, list]:
    """The launch file's actions for these arguments (the others at their defaults)."""
    context = LaunchContext()
    for name, (default, _) in MULTI_CAMERA.ARGUMENTS.items():
        context.launch_configurations[name] = arguments.pop(name, default)
    assert not arguments, f'not arguments of the launch file: {arguments}'
    return context, MULTI_CAMERA.nodes(context)


def launched(**arguments: str) -> dict[str, Node]:
    """The launch file's nodes for these arguments (the others at their defaults), by name."""
    context, actions = launch_actions(**arguments)
    nodes = {}
    for action in actions:
        if isinstance(action, Node):
            action._perform_substitutions(context)  # as Node.execute does first
            nodes[action.node_name] = action
    return nodes


def parameters(node: Node, **types: Parameter.Type) -> dict:
    """Values of some parameters the node's process gets, as rcl reads its --params-file files.

    Each is declared with its type, as the node declares it, so a value of another type (a
    list of booleans for a string array) is refused here as it would be there.
    """
    # launch_ros keeps the files it passes as --params-file in this (private) list.
    files = [path for path, is_file in node._Node__expanded_parameter_arguments if is_file]
    arguments = ['--ros-args', '-r', f'__ns:={node.expanded_node_namespace}']
    for path in files:
        arguments += ['--params-file', path]
    context = rclpy.Context()
    rclpy.init(context=context, args=[])
    try:
        reader = rclpy.create_node(node.node_name.rsplit('/', 1)[-1], context=context,
                                   cli_args=arguments)
        values = {name: reader.declare_parameter(name, kind).value
                  for name, kind in types.items()}
        reader.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    return values


STRING, DOUBLE, INTEGER, BOOL = (Parameter.Type.STRING, Parameter.Type.DOUBLE,
                                 Parameter.Type.INTEGER, Parameter.Type.BOOL)
STRINGS = Parameter.Type.STRING_ARRAY


@pytest.mark.parametrize('cameras, expected', [
    ('[left, right]', ['left', 'right']),
    ('[left]', ['left']),
    ('front', ['front']),
    ("[on, 'yes']", ['on', 'yes']),  # names YAML 1.1 reads as booleans
    ('[/robot/left, rear]', ['/robot/left', 'rear']),
], ids=['two', 'one', 'bare-name', 'yaml-booleans', 'absolute'])
def test_the_node_gets_the_cameras_as_a_string_array(cameras, expected):
    node = launched(cameras=cameras)['/segmentation/segmentation_node']
    assert list(parameters(node, cameras=STRINGS)['cameras']) == expected


def test_the_default_cameras_are_left_and_right_on_their_own_image_topics():
    node = launched()['/segmentation/segmentation_node']
    assert list(parameters(node, cameras=STRINGS)['cameras']) == list(DEFAULT_CAMERAS) == [
        'left', 'right']
    assert node.expanded_remapping_rules == [('left/image', '/left/image'),
                                            ('right/image', '/right/image')]


def test_image_topics_remap_each_camera_relative_ones_in_the_node_namespace():
    node = launched(image_topics='[/front/image_raw, rear_raw]', cameras='[front, rear]',
                    namespace='robot/segmentation')['/robot/segmentation/segmentation_node']
    assert node.expanded_remapping_rules == [
        ('front/image', '/front/image_raw'), ('rear/image', '/robot/segmentation/rear_raw')]


def test_the_other_arguments_reach_the_node_on_top_of_the_params_file():
    node = launched(model_path='/models/m', classes='[circle]', score_threshold='0.3',
                    input_transport='compressed')['/segmentation/segmentation_node']
    values = parameters(node, model_path=STRING, classes=STRINGS, score_threshold=DOUBLE,
                        input_transport=STRING, mask_threshold=DOUBLE)
    assert values['model_path'] == '/models/m'
    assert list(values['classes']) == ['circle']
    assert values['score_threshold'] == pytest.approx(0.3)
    assert values['input_transport'] == 'compressed'
    assert values['mask_threshold'] == pytest.approx(0.5)  # from params_file


def test_class_names_and_ids_reach_the_node_as_written():
    node = launched(classes="[on, 1.50, '3']")['/segmentation/segmentation_node']
    assert list(parameters(node, classes=STRINGS)['classes']) == ['on', '1.50', '3']


def test_a_folder_player_per_camera_in_lock_step_with_its_own_results(tmp_path):
    folders = [tmp_path / 'a', tmp_path / 'b']
    for folder in folders:
        folder.mkdir()
    nodes = launched(folders=f'[{folders[0]}, {folders[1]}]', rate='5',
                     frame_ids='[cam_a, cam_b]', input_transport='compressed')
    assert set(nodes) == {'/segmentation/segmentation_node', '/left/folder_player',
                          '/right/folder_player'}
    for camera, folder, frame_id in zip(DEFAULT_CAMERAS, folders, ['cam_a', 'cam_b'],
                                        strict=True):
        player = nodes[f'/{camera}/folder_player']
        values = parameters(player, folder=STRING, frame_id=STRING, wait_for_topic=STRING,
                            rate=DOUBLE, loop=BOOL, transport=STRING)
        assert values == {'folder': str(folder), 'frame_id': frame_id,
                          'wait_for_topic': f'/segmentation/{camera}/detections_json',
                          'rate': 5.0, 'loop': False, 'transport': 'compressed'}
        assert player.expanded_remapping_rules == [('image', f'/{camera}/image')]


def test_a_webcam_per_camera_with_the_device_as_written():
    nodes = launched(devices='[0, /dev/video2]', width='320', height='240')
    for camera, device in zip(DEFAULT_CAMERAS, ['0', '/dev/video2'], strict=True):
        webcam = nodes[f'/{camera}/webcam_publisher']
        values = parameters(webcam, device=STRING, frame_id=STRING, width=INTEGER,
                            height=INTEGER)
        assert values == {'device': device, 'frame_id': camera, 'width': 320, 'height': 240}
        assert webcam.expanded_remapping_rules == [('image_raw', f'/{camera}/image')]
    assert parameters(nodes['/segmentation/segmentation_node'], warmup_width=INTEGER,
                      warmup_height=INTEGER) == {'warmup_width': 320, 'warmup_height': 240}


@pytest.mark.parametrize('devices, files_end_the_launch', [
    ('[left.mp4, file:///videos/right.avi]', True), ('[left.mp4, 0]', False)],
    ids=['files', 'a-file-and-a-camera'])
def test_a_video_file_plays_in_lock_step_with_its_camera_s_results(devices,
                                                                    files_end_the_launch):
    nodes = launched(devices=devices)
    left, right = (parameters(nodes[f'/{camera}/webcam_publisher'], wait_for_topic=STRING)
                   for camera in DEFAULT_CAMERAS)
    assert left == {'wait_for_topic': '/segmentation/left/detections_json'}
    assert right == {'wait_for_topic': '/segmentation/right/detections_json'
                     if files_end_the_launch else ''}  # a camera: from camera_params_file
    _, actions = launch_actions(devices=devices)
    handlers = [action for action in actions if isinstance(action, RegisterEventHandler)]
    # The node's end ends the launch, and each webcam's is watched: a failure ends it too, and
    # so does the clean end of every file when all devices are files (ends_launch); a camera's
    # clean end leaves the rest running (fails_launch).
    assert len(handlers) == 1 + len(DEFAULT_CAMERAS)


def test_without_folders_or_devices_only_the_node_starts():
    assert list(launched()) == ['/segmentation/segmentation_node']


@pytest.mark.parametrize('arguments, message', [
    ({'folders': '[only_one]'},
     'launch argument folders has 1 entries for the 2 cameras [left, right]: give one per '
     'camera'),
    ({'image_topics': '[/a, /b, /c]'}, 'launch argument image_topics has 3 entries'),
    ({'devices': '[0]', 'cameras': '[a, b, c]'}, 'devices has 1 entries for the 3 cameras'),
    ({'folders': '[x, y]', 'devices': '[0, 1]'}, 'give folders or devices, not both'),
    ({'folders': '[/no/such/a, /no/such/b]'},
     "launch argument folders: '/no/such/a' is not a folder"),
    ({'cameras': '[left, left]'}, 'a camera is named twice'),
    ({'cameras': '[]'}, 'give at least one camera'),
    ({'cameras': '[2nd]'}, "'2nd' is not a camera name"),
    ({'cameras': '[left, [a]]'}, "cameras:='[left, [a]]' is not valid (expected a list"),
    ({'cameras': '[left'}, "cameras:='[left' is not valid; for example cameras:='[left, "
                           "right]'"),
    ({'image_topics': '[/a b, /c]'}, "image_topics: '/a b' is not a topic name"),
    ({'devices': '[0, 1]', 'input_transport': 'compressed'}, 'leave out input_transport'),
    ({'score_threshold': 'high'}, "score_threshold:='high' is not valid"),
], ids=lambda value: '' if isinstance(value, str) else ' '.join(value))
def test_a_refused_argument_raises_one_line_before_any_node(arguments, message, tmp_path):
    with pytest.raises(ArgumentError) as raised:
        launched(**arguments)
    assert message in str(raised.value)
    assert '\n' not in str(raised.value)
