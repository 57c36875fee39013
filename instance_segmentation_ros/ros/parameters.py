"""Node parameters from tables: descriptors with ranges, declaring a table, one-line errors."""

from __future__ import annotations

import re

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter

ParameterTable = dict[str, tuple[object, ParameterDescriptor]]
"""name -> (default value, or Parameter.Type for a string array that defaults to [], descriptor)"""


def descriptor(description: str, read_only: bool = False,
               integer: tuple[int, int] | None = None,
               floating: tuple[float, float] | None = None) -> ParameterDescriptor:
    """A ParameterDescriptor with an optional (low, high) integer or floating point range."""
    result = ParameterDescriptor(description=description, read_only=read_only)
    if integer is not None:
        result.integer_range = [IntegerRange(from_value=integer[0], to_value=integer[1], step=1)]
    if floating is not None:
        result.floating_point_range = [
            FloatingPointRange(from_value=floating[0], to_value=floating[1], step=0.0)]
    return result


def ros_arguments_error_text(exc: Exception) -> str:
    """One line for --ros-args that rcl refused, with the quoting hint a glob like *.gif needs."""
    text = f'invalid ROS arguments: {str(exc).strip().splitlines()[0]}'
    if 'parameter override rule' in text:
        text += (' (values are YAML: quote one that starts with *, & or !, as in '
                 '-p "pattern:=\'*.gif\'")')
    return text


def parameter_error_text(exc: Exception) -> str:
    """One readable line for a parameter error, with a hint for the common int/double slip."""
    text = str(exc)
    if not isinstance(exc, ParameterException):
        return text
    message, _, name = text.rpartition(': ')
    message = message.split('Reason: ', 1)[-1]
    text = f"parameter '{name}': {message}"
    given = re.search(r"to '(-?\d+)' of type 'INTEGER', expecting type 'DOUBLE'", message)
    if given:  # the value as the user meant it, e.g. score_threshold:=1 -> 1.0
        text += f' (write doubles with a decimal point: {name}:={given.group(1)}.0)'
    return text


def declare_table(node: Node, table: ParameterTable) -> dict[str, Parameter]:
    """Declare every parameter of `table` on `node`; return them by name.

    A string array is declared by type (an empty list would make it a byte array), so it has
    no value unless one was given: it is then set to [].
    """
    declared = {name: node.declare_parameter(name, default, descriptor_)
                for name, (default, descriptor_) in table.items()}
    node.set_parameters([Parameter(name, Parameter.Type.STRING_ARRAY, [])
                         for name, (default, _) in table.items()
                         if default == Parameter.Type.STRING_ARRAY
                         and declared[name].type_ == Parameter.Type.NOT_SET])
    return declared


SECONDS = (0.0, 86400.0)


def lock_step_parameters(image_topic: str, item: str, scope: str = '') -> ParameterTable:
    """The parameters of a player that waits for its consumer (folder_player, a video file).

    `item` is what it publishes one at a time (image, frame); `scope` says where they apply,
    when not always ('A live source ignores it').
    """
    scope = f'. {scope}' if scope else ''
    return {
        'wait_for_topic': ('', descriptor(
            f'Lock-step mode: no {item} before a subscriber on {image_topic} and a publisher on '
            f'this topic are matched, however long that takes; after each {item} wait for a '
            f'message on this topic; empty = off{scope}', read_only=True)),
        'wait_for_type': ('std_msgs/msg/String', descriptor(
            'Message type of wait_for_topic, e.g. sensor_msgs/msg/Image', read_only=True)),
        'wait_timeout': (30.0, descriptor(
            f'Seconds to wait for the message on wait_for_topic after each {item} before '
            'warning and going on; 0 = forever', floating=SECONDS)),
        'wait_for_subscriber': (10.0, descriptor(
            f'Seconds the first {item} waits for a subscriber on {image_topic} (lock-step '
            f'mode: for the rest of discovery, once its consumer is matched); 0 = none{scope}',
            floating=SECONDS)),
    }
