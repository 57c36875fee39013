"""message_types: the type a `wait_for_type` parameter names, without rosidl_runtime_py."""

import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import String

from instance_segmentation_ros.ros.message_types import get_message_type


@pytest.mark.parametrize('name, expected', [
    ('std_msgs/msg/String', String), ('sensor_msgs/Image', Image),
    (' std_msgs/msg/String ', String)])
def test_named_message_types_are_found(name, expected):
    assert get_message_type(name) is expected


@pytest.mark.parametrize('name, fragment', [
    ('String', 'not of the form pkg/msg/Type'), ('std_msgs//String', 'not of the form'),
    ('std_msgs/msg/Nope', "unknown message type 'std_msgs/msg/Nope'"),
    ('no_such_msgs/msg/X', "unknown message type 'no_such_msgs/msg/X'")])
def test_unknown_message_types_are_one_clear_line(name, fragment):
    with pytest.raises(ValueError, match=fragment) as error:
        get_message_type(name)
    assert '\n' not in str(error.value)
