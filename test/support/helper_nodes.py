"""What the tests of the helper nodes share: their inputs (a video, a folder) and recorders."""

import os
import time

import cv2
import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import String

from instance_segmentation_ros.core.compressed import compressed_msg_to_bgr

RELIABLE = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
COLOUR = (0, 100, 200)  # BGR of the generated video, except the first channel that counts frames


def write_video(path, frames=30, size=(160, 120), fps=30.0):
    """An MJPG .avi of solid frames, written aside and renamed so it appears complete."""
    partial = path.with_name('partial_' + path.name)
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*'MJPG'), fps, size)
    assert writer.isOpened()
    for k in range(frames):
        writer.write(np.full((size[1], size[0], 3), (8 * k % 256,) + COLOUR[1:], np.uint8))
    writer.release()
    os.replace(partial, path)
    return path


def stamp_of(msg):
    return msg.header.stamp.sec, msg.header.stamp.nanosec


class CameraRecorder:
    """Collects image_raw and camera_info messages."""

    def __init__(self, node, qos=RELIABLE):
        self.images = []
        self.infos = {}
        node.create_subscription(Image, 'image_raw', self.images.append, qos)
        node.create_subscription(
            CameraInfo, 'camera_info', lambda msg: self.infos.setdefault(stamp_of(msg), msg), qos)

    def matched_infos(self):
        """(image, camera_info) pairs with the same stamp."""
        return [(image, self.infos[stamp_of(image)]) for image in self.images
                if stamp_of(image) in self.infos]


class FolderRecorder:
    """Collects what arrives on image_file and image (image/compressed when compressed)."""

    def __init__(self, node, transport='raw'):
        self.images = []  # (width, frame_id, stamp in s, arrival monotonic time)
        self.names = []
        if transport == 'compressed':
            node.create_subscription(CompressedImage, 'image/compressed', self._on_image,
                                     RELIABLE)
        else:
            node.create_subscription(Image, 'image', self._on_image, RELIABLE)
        node.create_subscription(String, 'image_file', self._on_name, RELIABLE)

    def _on_image(self, msg):
        stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
        if isinstance(msg, CompressedImage):
            height, width = compressed_msg_to_bgr(msg).shape[:2]
        else:
            assert msg.encoding == 'bgr8' and len(msg.data) == msg.step * msg.height
            height, width = msg.height, msg.width
        self.images.append((width, msg.header.frame_id, stamp, time.monotonic()))
        assert height == 24

    def _on_name(self, msg):
        self.names.append(msg.data)

    @property
    def widths(self):
        return [width for width, *_ in self.images]


def make_folder(root, count=5, corrupt=True):
    """Images img_k.png of width 32 + k (so a received image tells which file it was)."""
    root.mkdir(exist_ok=True)
    for k in range(count):
        image = np.full((24, 32 + k, 3), (40 * k, 255 - 40 * k, 7), np.uint8)
        assert cv2.imwrite(str(root / f'img_{k}.png'), image)
    if corrupt:
        (root / 'img_2b.png').write_bytes(b'\x89PNG\r\n\x1a\n this is not an image')
        (root / 'notes.txt').write_text('not an image either')
    return root
