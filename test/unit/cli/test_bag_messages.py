"""rosbags messages with ROS's defaults for the fields not given."""

import numpy as np
from rosbags.typesys import Stores, get_typestore

from instance_segmentation_ros.cli.bag_messages import new_message

INFO = 'sensor_msgs/msg/CameraInfo'


def test_new_message_gives_every_other_field_its_ros_default():
    store = get_typestore(Stores.ROS2_JAZZY)
    marker = new_message(store, 'visualization_msgs/msg/Marker', ns='boxes', id=4)
    assert (marker.ns, marker.id, marker.text, marker.frame_locked) == ('boxes', 4, '', False)
    assert marker.pose.orientation.w == 1.0 and marker.pose.position.x == 0.0
    assert marker.points == [] and len(marker.texture.data) == 0
    info = new_message(store, INFO)
    assert info.k.shape == (9,) and info.d.shape == (0,)
    data = store.serialize_cdr(marker, 'visualization_msgs/msg/Marker')
    assert store.deserialize_cdr(data, 'visualization_msgs/msg/Marker').ns == 'boxes'
    assert np.array_equal(store.deserialize_cdr(store.serialize_cdr(info, INFO), INFO).k,
                          np.zeros(9))
