"""One camera's tracks: its MaskTracker, and the track_masks topics that show the ids.

Each camera the node serves keeps its own tracks and ids, fed its processed frames with their
header stamps; the 16UC1 image (pixel = track id, 0 = background) and its lossless PNG are
made only for whichever has subscribers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from ..core.compressed import TRACK_MASK_FORMAT, encode_png
from ..core.detections import Instances
from ..core.image_conversion import fill_image_msg_from_buffer, new_image_buffer
from ..core.tracking import MaskTracker, TrackerSettings, track_id_image


class CameraTracks:
    """`update` gives each instance of a frame its track id and publishes the id image."""

    def __init__(self, create_publisher: Callable, settings: TrackerSettings):
        self.tracker = MaskTracker(settings)
        self._raw = create_publisher(Image, 'track_masks')
        self._png = create_publisher(CompressedImage, 'track_masks/compressed')
        self._buffer = None  # (height, width, message data, uint16 view), reused per size

    def apply(self, settings: TrackerSettings):
        """Use new tracker settings from the next frame on; the tracks stay."""
        self.tracker.settings = settings

    def update(self, header, instances: Instances) -> np.ndarray:
        """The track id of each instance (0: not confirmed yet), published as an image."""
        track_ids = self.tracker.update(header.stamp.sec + header.stamp.nanosec * 1e-9,
                                        instances)
        raw, png = self._raw.get_subscription_count(), self._png.get_subscription_count()
        if raw or png:
            self._publish(header, instances.label_image, track_ids, raw, png)
        return track_ids

    def _publish(self, header, label_image: np.ndarray, track_ids: np.ndarray, raw, png):
        height, width = label_image.shape
        if self._buffer is None or self._buffer[:2] != (height, width):
            data, view = new_image_buffer(height, width, 2)
            self._buffer = (height, width, data, view.view(np.uint16)[..., 0])
        data, ids = self._buffer[2:]  # little-endian, as the message's is_bigendian 0
        track_id_image(label_image, track_ids, out=ids)
        if raw:
            message = Image(header=header)
            fill_image_msg_from_buffer(message, data, height, width, 'mono16')
            message.encoding = '16UC1'
            self._raw.publish(message)
        if png:
            self._png.publish(CompressedImage(header=header, format=TRACK_MASK_FORMAT,
                                              data=encode_png(ids)))
