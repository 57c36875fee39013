"""A segmentation node in this process plus a client that feeds it and records its outputs.

Shared by the node's DDS tests; the node is the real one, over real DDS, in its own context.
"""

from __future__ import annotations

import json
import re
import time

import numpy as np
import tiny_models
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Log
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from ros_helpers import (
    Collector,
    SpinningGraph,
    console_command,
    start_process,
    wait_for,
    wait_future,
)
from sensor_msgs.msg import Image
from std_msgs.msg import String

from instance_segmentation_ros.core.image_conversion import fill_image_msg
from instance_segmentation_ros.ros import detection_msgs
from instance_segmentation_ros.ros.adaptive_input import NO_PUBLISHER_NOTICE_S
from instance_segmentation_ros.ros.segmentation_node import SegmentationNode

NAMESPACE = '/segmentation'  # where the launch files put the node


class CameraTopics:
    """The client's end of one camera's topics under `prefix` (a namespace ending in '/').

    A reliable publisher of its images (it matches best-effort and reliable subscriptions
    alike) and collectors of what the node publishes for it: masks, detections_json, overlay
    and, with `detections` where vision_msgs is installed, the Detection2DArray.
    """

    def __init__(self, client, prefix: str, detections: bool = False):
        self.prefix = prefix
        self.masks, self.json, self.overlay = Collector(), Collector(), Collector()
        self.detections = Collector() if detections and detection_msgs.AVAILABLE else None
        client.create_subscription(Image, prefix + 'masks', self.masks, 10)
        self.json_subscription = client.create_subscription(
            String, prefix + 'detections_json', self.json, 10)
        client.create_subscription(Image, prefix + 'overlay', self.overlay, 10)
        if self.detections is not None:
            client.create_subscription(detection_msgs.Detection2DArray, prefix + 'detections',
                                       self.detections, 10)
        self.publisher = client.create_publisher(Image, prefix + 'image', 10)

    def outputs(self) -> dict[str, Collector]:
        """The collectors of the node's outputs by topic name (relative to the prefix)."""
        collectors = {'masks': self.masks, 'detections_json': self.json,
                      'overlay': self.overlay}
        if self.detections is not None:
            collectors['detections'] = self.detections
        return collectors

    def connected(self, raw_input: bool = True) -> bool:
        """Wait until the node publishes detections_json (and subscribes the image if raw)."""
        return wait_for(lambda: (self.publisher.get_subscription_count() > 0 or not raw_input)
                        and self.json_subscription.get_publisher_count() > 0)

    def segment(self, message: Image, timeout: float = 10.0) -> dict:
        """Publish until a result for this message's stamp arrives; returns its JSON."""
        stamp = (message.header.stamp.sec, message.header.stamp.nanosec)

        def result():
            for text in list(self.json.messages):
                data = json.loads(text.data)
                if (data['header']['stamp']['sec'], data['header']['stamp']['nanosec']) == stamp:
                    return data
            return None

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and result() is None:
            self.publisher.publish(message)
            wait_for(lambda: result() is not None, timeout=0.5)
        data = result()
        assert data is not None, 'no detections_json for the published image'
        return data


def camera_prefix(namespace: str, camera: str) -> str:
    """Where the node puts a camera's topics: under its namespace unless `camera` is absolute."""
    return (camera if camera.startswith('/') else f'{namespace.rstrip("/")}/{camera}') + '/'


class Harness:
    """A segmentation node plus a client node that feeds it and records its outputs.

    `model_path` None starts the node without one (the built-in model). A `namespace` of its
    own keeps it apart from a node of another test that is still running. `raw_input` False:
    the node reads another topic than `image` (compressed input), so that one is not awaited.
    `connect` False: a lifecycle node, which has no topics until activated (then `connected`).
    `cameras` starts the node with that `cameras` parameter: then `cameras[name]` are the
    `CameraTopics` of each (its detections too), and the node namespace's own topics (`masks`,
    `json`, `overlay`, `publisher` as for one camera) are there to show that nothing comes out
    on them.
    """

    def __init__(self, model_path: str | None, extra_args=(), node_class=SegmentationNode,
                 namespace=NAMESPACE, raw_input=True, connect=True, cameras=()):
        model = [] if model_path is None else ['-p', f'model_path:={model_path}']
        if cameras:
            model += ['-p', f'cameras:=[{", ".join(cameras)}]']
        self.graph = SpinningGraph(args=['--ros-args', *model, *extra_args])
        self.node = self.graph.add(node_class(context=self.graph.context, namespace=namespace))
        self.client = self.graph.node('test_client')
        self.diagnostics = Collector()
        self.client.create_subscription(DiagnosticArray, '/diagnostics', self.diagnostics, 10)
        self.log = Collector()  # every node's lines, as /rosout has them
        self.client.create_subscription(Log, '/rosout', self.log, 100)
        self._logger_name = '.'.join([*namespace.strip('/').split('/'), 'segmentation_node'])
        self.own = CameraTopics(self.client, namespace + '/')
        self.masks, self.json, self.overlay = self.own.masks, self.own.json, self.own.overlay
        self.publisher = self.own.publisher
        self.cameras = {camera: CameraTopics(self.client, camera_prefix(namespace, camera),
                                             detections=True)
                        for camera in cameras}
        self.parameters = AsyncParameterClient(self.client, namespace + '/segmentation_node')
        self._raw_input = raw_input
        if connect:
            assert self.connected()

    def connected(self) -> bool:
        """Wait until the node subscribes each camera's image and publishes its detections_json."""
        if self.cameras:
            return all(topics.connected(self._raw_input) for topics in self.cameras.values())
        return self.own.connected(self._raw_input)

    def segment(self, message: Image, timeout: float = 10.0) -> dict:
        """Publish until a result for this message's stamp arrives; returns its JSON."""
        return self.own.segment(message, timeout)

    def said(self, text: str) -> list[str]:
        """The lines this node logged that contain `text`."""
        return [line.msg for line in list(self.log.messages)
                if line.name == self._logger_name and text in line.msg]

    def publishers_go_away(self, publishers: list, image_topic: str):
        """Destroy the client's `publishers` of the node's input after frames came (a source ends).

        The node must say once that the publisher of `image_topic` went away, with the frames it
        sent, never that the topic had no publisher (the remap hint), and /diagnostics too.
        """
        for publisher in publishers:
            self.client.destroy_publisher(publisher)
        went_away = f'the publisher of {image_topic} went away after '
        assert wait_for(lambda: self.said(went_away), timeout=20), self.said('')
        time.sleep(NO_PUBLISHER_NOTICE_S + 1.0)  # when a wrong 'no publisher' notice would come
        lines = self.said(went_away)
        assert len(lines) == 1 and lines[0].endswith('; waiting for a new one'), lines
        assert self.said('no publisher') == [], self.said('')
        frames = int(re.search(r'after (\d+) frames?;', lines[0]).group(1))
        assert frames >= 1, lines

        def status():
            array = self.diagnostics.last if len(self.diagnostics) else None
            return array and next((s for s in array.status if went_away in s.message), None)

        assert wait_for(lambda: status() is not None, timeout=10)
        values = {kv.key: kv.value for kv in status().values}
        assert values['image_publishers'] == '0' and values['image_topic'] == image_topic
        assert status().message == f'waiting for images: {lines[0].split(";")[0]}'

    def set(self, *parameters: Parameter):
        return wait_future(self.parameters.set_parameters(list(parameters))).results

    def close(self):
        self.graph.close()


def scene_message(stamp_sec: int, encoding: str = 'bgr8', height=240, width=320, seed=0):
    rgb, truth = tiny_models.draw_scene(height, width, seed=seed)
    image = rgb[..., ::-1] if encoding == 'bgr8' else rgb
    message = fill_image_msg(Image(), np.ascontiguousarray(image), encoding)
    message.header.stamp.sec, message.header.stamp.nanosec = stamp_sec, 1234
    message.header.frame_id = 'test_camera'
    return message, rgb, truth


def find_by_stamp(collector: Collector, sec: int):
    matches = [m for m in collector.messages if m.header.stamp.sec == sec]
    return matches[-1] if matches else None


def refused_start(*parameters: str) -> str:
    """Start the node's console script with `-p` these; it must refuse them: the error line.

    Refusing is exit status 1 with exactly one ERROR line and no traceback, said before the
    model loaded (a parameter that cannot work is a typo to report at once).
    """
    command = console_command('segmentation_node') + ['--ros-args']
    for parameter in parameters:
        command += ['-p', parameter]
    process = start_process(command)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 1, output
    assert 'Traceback' not in output, output
    errors = [line for line in output.splitlines() if 'ERROR' in line]
    assert len(errors) == 1, output
    assert 'loaded' not in output, 'the error was found only after the model had loaded'
    return errors[0]
