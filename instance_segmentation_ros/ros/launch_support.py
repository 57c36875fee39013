"""What the package's launch files share: its paths and the optional ROS tools.

Imported by the files in `launch/` only (it needs the `launch` packages of a ROS install).
rviz2 and rosbag2 are separate ROS packages that a user may not have installed. Asking for one
that is missing must not end the launch half-way, with nodes already started and left behind,
so the launch files check first:

- `rviz:=true` without rviz2: one warning line, and the launch goes on without it;
- `record:=true` without rosbag2: one error line, and the launch stops before any node starts
  (exit status 1), since a run whose bag the user asked for and does not get is lost work.

A launch argument that cannot be used stops the launch the same way: `argument` converts one
or raises the one line that says what to write instead.

A launch ends honestly: `ends_launch` ends it when the processes it exists for are done, and
`ros2 launch` exits 1 as soon as one of them fails (`fails_launch` for a process whose clean
end does not end the launch). The share folder is looked up on first use, so that importing
this module needs no ament index.
"""

from __future__ import annotations

import functools
import os

import launch.logging
import yaml
from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    OpaqueFunction,
    RegisterEventHandler,
)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from ..errors import InstanceSegmentationError

PACKAGE = 'instance_segmentation_ros'
RVIZ_CONFIG = 'instance_segmentation.rviz'


class MissingToolError(InstanceSegmentationError):
    """A ROS tool a launch argument asks for is not installed; the message says which."""


class ArgumentError(InstanceSegmentationError, ValueError):
    """A launch argument that cannot be used; the message says what to write instead."""


class ProcessFailedError(InstanceSegmentationError):
    """A process the launch exists for ended with a non-zero status; the message says which."""


def installed(package: str) -> bool:
    """Whether a ROS package is in the ament index of this environment."""
    try:
        get_package_share_directory(package)
    except PackageNotFoundError:
        return False
    return True


def declare_arguments(arguments: dict) -> list[DeclareLaunchArgument]:
    """One DeclareLaunchArgument per entry of a launch file's {name: (default, description)}."""
    return [DeclareLaunchArgument(name, default_value=default, description=description)
            for name, (default, description) in arguments.items()]


@functools.cache
def share_folder() -> str:
    """The package's installed share folder, looked up when first needed, not at import."""
    return get_package_share_directory(PACKAGE)


def config_file(name: str) -> str:
    """A file of the package's config/ folder, as installed."""
    return os.path.join(share_folder(), 'config', name)


def launch_file(name: str) -> str:
    """A launch file of the package as installed, for the launch files that include it."""
    return os.path.join(share_folder(), 'launch', name)


def argument(context, name: str, convert=str, example: str = ''):
    """A launch argument converted, or one line that says what is wrong with it."""
    text = LaunchConfiguration(name).perform(context)
    try:
        return convert(text)
    except (ValueError, yaml.YAMLError) as error:
        reason = f' ({error})' if isinstance(error, ArgumentError) else ''
        raise ArgumentError(f'launch argument {name}:={text!r} is not valid{reason}; for '
                            f'example {name}:={example}') from None


def name_list(text: str) -> list[str]:
    """Names from a YAML list ('[left, right]') or a single name; empty text: no names.

    Every entry stays the text it was written as: `[0, on]` is ['0', 'on'], never a number
    or a boolean (camera indices, folder names, camera or class names and class ids that YAML
    would read otherwise).
    """
    names = yaml.load(text, Loader=yaml.BaseLoader) if text.strip() else []
    names = names if isinstance(names, list) else [names]
    if not all(isinstance(name, str) and name for name in names):
        raise ArgumentError('expected a list of names')
    return names


def boolean(text: str) -> bool:
    """A launch argument's true or false, as launch conditions spell them."""
    value = text.strip().lower()
    if value not in ('true', 'false', '1', '0'):
        raise ValueError(text)
    return value in ('true', '1')


def rviz(argument: str = 'rviz', config: str = RVIZ_CONFIG) -> OpaqueFunction:
    """rviz2 with a display config of the package's config/ folder when `argument` is true.

    Unless rviz2 is missing: then one warning, and the launch goes on.
    """
    def start(context):
        if not IfCondition(LaunchConfiguration(argument)).evaluate(context):
            return []
        if not installed('rviz2'):
            launch.logging.get_logger('launch').warning(
                f'{argument}:=true but rviz2 is not installed (sudo apt install '
                'ros-$ROS_DISTRO-rviz2): going on without it')
            return []
        return [Node(package='rviz2', executable='rviz2', name='rviz2',
                     arguments=['-d', config_file(config)])]
    return OpaqueFunction(function=start)


def require_bag_recorder(argument: str = 'record') -> OpaqueFunction:
    """Stop the launch before anything starts when `argument` is true and rosbag2 is missing.

    Put it first in the launch description: an exception raised there ends the launch with
    exit status 1 and one error line, before any process was started.
    """
    def check(context):
        if IfCondition(LaunchConfiguration(argument)).evaluate(context) and not installed(
                'ros2bag'):
            raise MissingToolError(f'{argument}:=true needs rosbag2, which is not installed '
                              '(sudo apt install ros-$ROS_DISTRO-rosbag2 '
                              f'ros-$ROS_DISTRO-rosbag2-storage-mcap), or leave out {argument}')
        return []
    return OpaqueFunction(function=check)


def bag_recorder(bag_path, topics, argument: str = 'record') -> ExecuteProcess:
    """`ros2 bag record` of `topics` into `bag_path` (mcap) when `argument` is true."""
    return ExecuteProcess(
        cmd=['ros2', 'bag', 'record', '--storage', 'mcap', '--output', bag_path, *topics],
        output='screen', condition=IfCondition(LaunchConfiguration(argument)))


def ends_launch(processes: list[ExecuteProcess], done: str) -> list[RegisterEventHandler]:
    """End the launch once every one of `processes` has ended; exit status 1 if one failed.

    A process ending with a non-zero status ends the launch at once, whatever the others are
    doing, and `ros2 launch` exits 1 (the only way launch has to set its exit status is an
    exception in the launch: it logs the message as one error line and shuts everything down).
    Once all have ended with 0 (a folder done, Ctrl+C) the launch shuts down with reason `done`
    and exits 0.
    """
    running = set(processes)

    def ended(event, context):
        raise_if_failed(event)
        running.discard(event.action)
        if running or context.is_shutdown:  # a second Shutdown fails launch_ros's own handler
            return []
        return [EmitEvent(event=Shutdown(reason=done))]

    return [RegisterEventHandler(OnProcessExit(target_action=process, on_exit=ended))
            for process in processes]


def fails_launch(process: ExecuteProcess) -> RegisterEventHandler:
    """End the launch with exit status 1 when `process` fails; its clean end leaves it running."""
    return RegisterEventHandler(OnProcessExit(
        target_action=process, on_exit=lambda event, context: raise_if_failed(event)))


def raise_if_failed(event) -> None:
    """Raise the one line that ends the launch with status 1 when a process exited non-zero."""
    if event.returncode != 0:
        raise ProcessFailedError(f'{event.process_name} ended with exit status '
                                 f'{event.returncode}: ending the launch')
