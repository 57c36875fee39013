"""The bag command's depth topics by REP-118 names."""

import pytest

from instance_segmentation_ros.cli.bag_depth import (
    check_depth_topic,
    depth_candidates,
    find_depth,
)
from instance_segmentation_ros.cli.common import CliError

IMAGE, INFO = 'sensor_msgs/msg/Image', 'sensor_msgs/msg/CameraInfo'


def test_depth_is_looked_for_under_realsense_names_then_the_nodes():
    assert depth_candidates('/cam/color/image_raw') == [
        '/cam/aligned_depth_to_color/image_raw', '/cam/color/depth/image_raw']
    assert depth_candidates('/image') == ['/depth/image']
    assert depth_candidates('/left/image/compressed') == ['/left/depth/image']


def test_a_depth_image_counts_only_with_a_camera_info_beside_it():
    types = {'/cam/color/image_raw': IMAGE, '/cam/aligned_depth_to_color/image_raw': IMAGE,
             '/image': IMAGE, '/depth/image': IMAGE}
    assert find_depth(None, ['/cam/color/image_raw', '/image'], types) == {}
    types['/cam/aligned_depth_to_color/camera_info'] = INFO
    assert find_depth(None, ['/cam/color/image_raw', '/image'], types) == {
        '/cam/color/image_raw': '/cam/aligned_depth_to_color/image_raw'}


def test_depth_topic_is_checked_and_takes_one_camera():
    types = {'/d/image': IMAGE, '/d/camera_info': INFO, '/info_only/camera_info': INFO}
    check_depth_topic('/d/image', types)
    with pytest.raises(CliError, match='not a sensor_msgs/Image topic'):
        check_depth_topic('/d/camera_info', types)
    with pytest.raises(CliError, match='no /x/camera_info'):
        check_depth_topic('/x/image', {'/x/image': IMAGE})
    with pytest.raises(CliError, match='needs one camera topic, not 2'):
        find_depth('/d/image', ['/a', '/b'], types)
    assert find_depth('/d/image', ['/a'], types) == {'/a': '/d/image'}
