"""Bags of camera frames for the bag command's tests, written with rosbags."""

import numpy as np
import tiny_models
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

CAMERA = '/cam/image_raw'
RESULTS = '/cam/segmentation'  # where the bag command puts CAMERA's results


def camera_bag(path, frames: int, storage: str = 'mcap', first_stamp_s: int = 100):
    """A rosbag2 of `frames` tiny-model scenes on CAMERA (bgr8), stamps one second apart."""
    store = get_typestore(Stores.ROS2_JAZZY)
    types = store.types
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    with Writer(path, version=8, storage_plugin=plugin) as writer:
        camera = writer.add_connection(CAMERA, 'sensor_msgs/msg/Image', typestore=store)
        for index in range(frames):
            rgb, _ = tiny_models.draw_scene(seed=index)
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            header = types['std_msgs/msg/Header'](
                stamp=types['builtin_interfaces/msg/Time'](sec=first_stamp_s + index, nanosec=5),
                frame_id='cam_optical')
            message = types['sensor_msgs/msg/Image'](
                header=header, height=bgr.shape[0], width=bgr.shape[1], encoding='bgr8',
                is_bigendian=0, step=bgr.shape[1] * 3, data=bgr.reshape(-1))
            writer.write(camera, (1000 + index) * 10**8,
                         store.serialize_cdr(message, 'sensor_msgs/msg/Image'))
    return path
