"""node_support's Fast DDS profile choice, and parameters' error texts."""

import os
from pathlib import Path
from xml.etree import ElementTree

import pytest
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.parameter import Parameter

from instance_segmentation_ros.ros.node_support import (
    DDS_PROFILE_VARIABLE,
    use_large_frame_dds_profile,
)
from instance_segmentation_ros.ros.parameters import parameter_error_text, ros_arguments_error_text


def test_packaged_profile_is_used_when_none_is_set(monkeypatch):
    monkeypatch.delenv(DDS_PROFILE_VARIABLE, raising=False)
    monkeypatch.delenv('RMW_IMPLEMENTATION', raising=False)
    use_large_frame_dds_profile()
    profile = Path(os.environ[DDS_PROFILE_VARIABLE])
    segment = ElementTree.parse(profile).getroot().find('.//{*}segment_size')
    assert int(segment.text) >= 8 * 2**20  # holds a 1280x720 bgr8 frame and the outputs


@pytest.mark.parametrize('variable, value', [
    (DDS_PROFILE_VARIABLE, '/home/me/my_profile.xml'),
    ('RMW_IMPLEMENTATION', 'rmw_cyclonedds_cpp'),
])
def test_the_users_choice_is_kept(monkeypatch, variable, value):
    monkeypatch.delenv(DDS_PROFILE_VARIABLE, raising=False)
    monkeypatch.setenv(variable, value)
    use_large_frame_dds_profile()
    assert os.environ.get(DDS_PROFILE_VARIABLE) == (
        value if variable == DDS_PROFILE_VARIABLE else None)


def test_parameter_type_errors_name_the_parameter_and_hint_at_doubles():
    error = InvalidParameterTypeException(Parameter('rate', value=5), 'DOUBLE')
    text = parameter_error_text(error)
    assert "parameter 'rate'" in text and 'rate:=5.0' in text


def test_the_double_hint_repeats_the_value_given_not_an_example():
    error = InvalidParameterTypeException(Parameter('score_threshold', value=1), 'DOUBLE')
    text = parameter_error_text(error)
    assert 'score_threshold:=1.0' in text and '5.0' not in text


def test_a_glob_without_quotes_gets_the_quoting_hint():
    error = RuntimeError("failed to initialize rcl: Couldn't parse parameter override rule: "
                         "'-p pattern:=*.gif'. Error: Error parsing an event")
    text = ros_arguments_error_text(error)
    assert text.startswith('invalid ROS arguments: ')
    assert '-p "pattern:=\'*.gif\'"' in text
