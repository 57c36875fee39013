"""Bags of camera frames (and RGB-D ones) for the bag command's tests, written with rosbags."""

import numpy as np
import tiny_models
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from instance_segmentation_ros.demo import depth_scenes, scenes
from instance_segmentation_ros.demo.evaluation import HELD_OUT_SEED

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


COLOUR = '/cam/color/image_raw'
DEPTH = '/cam/aligned_depth_to_color/image_raw'
INFO = '/cam/aligned_depth_to_color/camera_info'
RGBD_RESULTS = '/cam/color/segmentation'  # where the bag command puts COLOUR's results
START_S = 1_700_000_000
PERIOD_NS = 100_000_000


def rgbd_scene(index):
    """Synthetic RGB-D scene `index` of HELD_OUT_SEED: (BGR, depth in mm)."""
    scene = scenes.generate_scene(HELD_OUT_SEED, index)
    return scene.bgr, depth_scenes.render_depth(scene, HELD_OUT_SEED, index).depth_mm


def tiny_scene(index):
    """The tiny model's scene `index` in RGB-D: (BGR, depth in mm).

    Its red disc is 1.5 m away, its green box 2.5 m, before a wall at 2 m on the left that
    tilts away to the right.
    """
    rgb, masks = tiny_models.draw_scene(seed=index)
    depth = np.repeat(2000 + np.arange(rgb.shape[1], dtype=np.uint16)[None] * 4,
                      rgb.shape[0], axis=0)
    for distance, mask in zip((1500, 2500), masks.values(), strict=True):
        depth[mask] = distance
    return np.ascontiguousarray(rgb[..., ::-1]), depth


def rgbd_bag(path, frames: int, depth_offsets_ns: list[int], scene_of=rgbd_scene,
             depth_log_delay_ns: int = 30_000_000):
    """Scenes 0..frames-1 with their depth, the depth stamped `depth_offsets_ns` off.

    Each depth frame is logged `depth_log_delay_ns` after its colour frame (after it, as a
    driver may), and the camera_info once, before everything.
    """
    store = get_typestore(Stores.ROS2_JAZZY)
    types = store.types
    camera = depth_scenes.CAMERA

    def header(stamp_ns):
        return types['std_msgs/msg/Header'](stamp=types['builtin_interfaces/msg/Time'](
            sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id='cam_color_optical')

    def image(stamp_ns, array, encoding):
        height, width = array.shape[:2]
        data = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
        return types['sensor_msgs/msg/Image'](
            header=header(stamp_ns), height=height, width=width, encoding=encoding,
            is_bigendian=0, step=len(data) // height, data=data)

    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        add = {topic: writer.add_connection(topic, msgtype, typestore=store) for topic, msgtype
               in ((COLOUR, 'sensor_msgs/msg/Image'), (DEPTH, 'sensor_msgs/msg/Image'),
                   (INFO, 'sensor_msgs/msg/CameraInfo'))}
        first = START_S * 10**9
        info = types['sensor_msgs/msg/CameraInfo'](
            header=header(first), height=240, width=320, distortion_model='plumb_bob',
            d=np.zeros(5), k=np.array([camera.fx, 0, camera.cx, 0, camera.fy, camera.cy, 0, 0,
                                       1.0]),
            r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
            roi=types['sensor_msgs/msg/RegionOfInterest'](x_offset=0, y_offset=0, height=0,
                                                          width=0, do_rectify=False))
        writer.write(add[INFO], first, store.serialize_cdr(info, 'sensor_msgs/msg/CameraInfo'))
        for index in range(frames):
            bgr, depth = scene_of(index)
            stamp = first + index * PERIOD_NS
            writer.write(add[COLOUR], stamp + 1000, store.serialize_cdr(
                image(stamp, bgr, 'bgr8'), 'sensor_msgs/msg/Image'))
            writer.write(add[DEPTH], stamp + 1000 + depth_log_delay_ns, store.serialize_cdr(
                image(stamp + depth_offsets_ns[index], depth, '16UC1'),
                'sensor_msgs/msg/Image'))
    return path
