"""What the launch_testing files share: input they write, and a recorder of topics.

The launch tests start the real nodes through the real launch files, with the built-in demo
model and generated scenes, so they need nothing but the package. The recorder runs in a
context and thread of its own from before the launch starts, so it hears every message, and
the checks run after shutdown on what it kept: a launch that ends by itself (a folder that
is done) then cannot end a test half-way.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.qos import QoSProfile

from instance_segmentation_ros.demo.scenes import SceneSettings, generate_scene

SCENE_SEED = 3
SCENE_SIZE = (320, 240)  # width, height


def write_scene_video(path: Path, frames: int, fps: float = 10.0) -> Path:
    """A video file of generated scenes, to play as a camera."""
    width, height = SCENE_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, (width, height))
    settings = SceneSettings(width=width, height=height)
    scenes = [generate_scene(SCENE_SEED, index, settings).bgr for index in range(5)]
    for index in range(frames):
        writer.write(scenes[index % len(scenes)])
    writer.release()
    return path


def header_key(message) -> tuple[int, int, str]:
    """What makes two headers the same frame's: stamp and frame_id."""
    header = message.header
    return header.stamp.sec, header.stamp.nanosec, header.frame_id


class TopicRecorder:
    """Keep every message of some topics, heard by a node spinning in a thread of its own."""

    def __init__(self, topics: dict[str, type]):
        self._context = rclpy.Context()
        rclpy.init(context=self._context)
        self.node = rclpy.create_node('launch_test_recorder', context=self._context)
        self._lock = threading.Lock()
        self._messages = {topic: [] for topic in topics}
        for topic, message_type in topics.items():
            self.node.create_subscription(
                message_type, topic, lambda message, topic=topic: self._keep(topic, message),
                QoSProfile(depth=100))
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        try:
            self._executor.spin()
        except ExternalShutdownException:
            pass

    def _keep(self, topic: str, message):
        with self._lock:
            self._messages[topic].append(message)

    def messages(self, topic: str) -> list:
        with self._lock:
            return list(self._messages[topic])

    def wait_for(self, condition, timeout: float) -> bool:
        """Poll `condition(recorder)` until it holds or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self):
        self._context.try_shutdown()
        self._thread.join(timeout=5.0)
        self.node.destroy_node()
