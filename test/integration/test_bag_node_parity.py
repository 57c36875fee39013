"""The bag command and segmentation_node give the same results for the same bag.

The bag is played into a real node over DDS in `processing_mode: every_frame` (each message
published once, as `ros2 bag play` does, read with rosbags), and segmented by the bag command;
masks, masks/compressed, overlay and detections_json must be equal frame by frame, the
JSON's timing field aside; for an RGB-D bag (node with depth.enabled) markers and points too.
Where vision_msgs is installed, also detections (detections_3d with depth) and label_info, which
the node publishes latched and the bag holds once.
"""

import json

import numpy as np
import pytest
import tiny_models
from camera_bags import (
    CAMERA,
    COLOUR,
    DEPTH,
    INFO,
    RESULTS,
    RGBD_RESULTS,
    camera_bag,
    rgbd_bag,
    tiny_scene,
)
from cli_run import read_bag, run_cli
from node_harness import Harness
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from ros_helpers import Collector, wait_for
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

from instance_segmentation_ros.ros import depth_msgs, detection_msgs

FRAMES = 6
PLAYER_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_ALL,
                        reliability=ReliabilityPolicy.RELIABLE)  # every frame reaches the node
TIMING_FIELDS = ('inference_ms',)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)


def subscribe_vision(harness, namespace, outputs, three_d=False):
    """Collect the node's vision_msgs outputs into `outputs`, where vision_msgs is installed."""
    if not detection_msgs.AVAILABLE:
        return
    kinds = [('detections', detection_msgs.Detection2DArray)]
    if three_d:
        kinds.append(('detections_3d', detection_msgs.Detection3DArray))
    for name, message_type in kinds:
        outputs[name] = Collector()
        harness.client.create_subscription(message_type, f'{namespace}/{name}', outputs[name],
                                           10)
    outputs['label_info'] = Collector()
    harness.client.create_subscription(detection_msgs.LabelInfo, f'{namespace}/label_info',
                                       outputs['label_info'], LATCHED)


def detection_fields(detection) -> tuple:
    """What a Detection2D or Detection3D says, the same from rclpy's class and from rosbags'."""
    bbox = detection.bbox
    if hasattr(bbox, 'size_x'):
        box = (bbox.center.position.x, bbox.center.position.y, bbox.center.theta, bbox.size_x,
               bbox.size_y)
    else:
        box = (bbox.center.position.x, bbox.center.position.y, bbox.center.position.z,
               bbox.size.x, bbox.size.y, bbox.size.z)
    results = [(r.hypothesis.class_id, round(float(r.hypothesis.score), 6),
                *(round(float(v), 6) for v in (r.pose.pose.position.x, r.pose.pose.position.y,
                                               r.pose.pose.position.z)))
               for r in detection.results]
    return (detection.header.stamp.sec, detection.header.stamp.nanosec,
            detection.header.frame_id, detection.id, *(round(float(v), 6) for v in box),
            results)


def check_vision(written, published, namespace, names):
    """The bag's vision_msgs topics `names` hold what the node published; label_info once."""
    if not detection_msgs.AVAILABLE:
        return
    for name in names:
        ours = written[f'{namespace}/{name}']
        assert len(ours) == FRAMES, name
        for (_, bagged), node in zip(ours, published[name], strict=True):
            assert (bagged.header.stamp.sec, bagged.header.frame_id) == (
                node.header.stamp.sec, node.header.frame_id)
            assert [detection_fields(d) for d in bagged.detections] == [
                detection_fields(d) for d in node.detections], name
    assert any(len(m.detections) for _, m in written[f'{namespace}/{names[-1]}'])
    (log_time, bagged), = written[f'{namespace}/label_info']
    assert log_time == written[f'{namespace}/detections_json'][0][0]  # the first frame's
    node = published['label_info'][0]
    assert bagged.threshold == pytest.approx(node.threshold)
    assert [(c.class_id, c.class_name) for c in bagged.class_map] == [
        (c.class_id, c.class_name) for c in node.class_map]


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    return tiny_models.export_tf2_od_saved_model(tmp_path_factory.mktemp('parity') / 'tf2')


def without_timing(text: str) -> dict:
    data = json.loads(text)
    for name in TIMING_FIELDS:
        data.pop(name)
    return data


def node_results(model, bag):
    """What segmentation_node publishes for each message of the bag, by stamp second."""
    harness = Harness(model, namespace=RESULTS, raw_input=False, extra_args=[
        '-p', 'processing_mode:=every_frame', '-p', f'queue_size:={FRAMES + 10}',
        '-r', f'image:={CAMERA}'])
    png = Collector()
    harness.client.create_subscription(CompressedImage, f'{RESULTS}/masks/compressed', png, 10)
    players = {CAMERA: (harness.client.create_publisher(Image, CAMERA, PLAYER_QOS), Image)}
    outputs = {'masks': harness.masks, 'masks/compressed': png,
               'detections_json': harness.json, 'overlay': harness.overlay}
    subscribe_vision(harness, RESULTS, outputs)
    return play_into_node(harness, bag, players, outputs, f'{RESULTS}/masks/compressed')


def test_the_bag_command_gives_what_the_node_gives_for_every_frame(model, tmp_path, capsys):
    bag = camera_bag(tmp_path / 'in', FRAMES, first_stamp_s=500)
    status, _, err = run_cli(capsys, 'bag', bag, tmp_path / 'out', '--model', model,
                             '--results-only', '--overlay')
    assert status == 0, err
    _, written = read_bag(tmp_path / 'out')
    published = node_results(model, bag)

    node_json = [without_timing(m.data) for m in published['detections_json']]
    bag_json = [without_timing(m.data) for _, m in written[f'{RESULTS}/detections_json']]
    assert [d['header']['stamp']['sec'] for d in node_json] == list(range(500, 500 + FRAMES))
    assert bag_json == node_json
    assert all(len(d['detections']) >= 1 for d in bag_json)
    for name in ('masks', 'overlay'):
        for (_, ours), theirs in zip(written[f'{RESULTS}/{name}'], published[name], strict=True):
            assert (ours.header.stamp.sec, ours.header.stamp.nanosec, ours.header.frame_id) == (
                theirs.header.stamp.sec, theirs.header.stamp.nanosec, theirs.header.frame_id)
            assert (ours.height, ours.width, ours.encoding, ours.step) == (
                theirs.height, theirs.width, theirs.encoding, theirs.step), name
            assert bytes(ours.data) == bytes(theirs.data), name
    for (_, ours), theirs in zip(written[f'{RESULTS}/masks/compressed'],
                                 published['masks/compressed'], strict=True):
        assert ours.format == theirs.format
        assert bytes(ours.data) == bytes(theirs.data)
    check_vision(written, published, RESULTS, ['detections'])


def played_message(recorded, message_type):
    """A recorded Image or CameraInfo as the rclpy message that `ros2 bag play` publishes."""
    message = message_type()
    message.header.stamp.sec = recorded.header.stamp.sec
    message.header.stamp.nanosec = recorded.header.stamp.nanosec
    message.header.frame_id = recorded.header.frame_id
    message.height, message.width = recorded.height, recorded.width
    if message_type is Image:
        message.encoding, message.is_bigendian = recorded.encoding, recorded.is_bigendian
        message.step, message.data = recorded.step, bytes(recorded.data)
    else:
        message.distortion_model = recorded.distortion_model
        message.d, message.k = recorded.d.tolist(), recorded.k.tolist()
        message.r, message.p = recorded.r.tolist(), recorded.p.tolist()
    return message


def node_rgbd_results(model, bag):
    """What segmentation_node with depth.enabled publishes for an RGB-D bag, in order."""
    harness = Harness(model, namespace=RGBD_RESULTS, raw_input=False, extra_args=[
        '-p', 'processing_mode:=every_frame', '-p', f'queue_size:={FRAMES + 10}',
        '-p', 'depth.enabled:=true', '-r', f'image:={COLOUR}', '-r', f'depth/image:={DEPTH}',
        '-r', f'depth/camera_info:={INFO}'])
    markers, points = Collector(), Collector()
    harness.client.create_subscription(depth_msgs.MarkerArray, f'{RGBD_RESULTS}/markers',
                                       markers, 10)
    harness.client.create_subscription(PointCloud2, f'{RGBD_RESULTS}/points', points, 10)
    players = {COLOUR: (harness.client.create_publisher(Image, COLOUR, PLAYER_QOS), Image),
               DEPTH: (harness.client.create_publisher(Image, DEPTH, PLAYER_QOS), Image),
               INFO: (harness.client.create_publisher(CameraInfo, INFO, PLAYER_QOS), CameraInfo)}
    outputs = {'detections_json': harness.json, 'markers': markers, 'points': points}
    subscribe_vision(harness, RGBD_RESULTS, outputs, three_d=True)
    return play_into_node(harness, bag, players, outputs, f'{RGBD_RESULTS}/points')


def play_into_node(harness, bag, players, outputs, ready_topic: str) -> dict:
    """Play every message of the bag into the harness's node as `ros2 bag play` would.

    `players`: topic -> (publisher, message type); once they are matched and the node
    publishes `ready_topic`, the bag is played, and what each of `outputs` (name -> Collector)
    received is returned when each has a message per frame (`label_info` one). The node is
    closed in any case.
    """
    try:
        assert wait_for(lambda: all(p.get_subscription_count() > 0 for p, _ in
                                    players.values()), timeout=30)
        assert wait_for(lambda: harness.client.count_publishers(ready_topic) > 0, timeout=30)
        with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
            for connection, _, raw in reader.messages():
                publisher, message_type = players[connection.topic]
                publisher.publish(played_message(
                    reader.deserialize(raw, connection.msgtype), message_type))
        assert wait_for(lambda: all(len(c) >= (1 if name == 'label_info' else FRAMES)
                                    for name, c in outputs.items()), timeout=120), {
            name: len(c) for name, c in outputs.items()}
        return {name: list(c.messages) for name, c in outputs.items()}
    finally:
        harness.close()


def marker_fields(marker) -> tuple:
    """What a Marker says, the same from rclpy's message class and from rosbags'."""
    return (marker.header.stamp.sec, marker.header.frame_id, marker.ns, marker.id, marker.type,
            marker.action, marker.text, *(round(float(v), 6) for v in (
                marker.pose.position.x, marker.pose.position.y, marker.pose.position.z,
                marker.pose.orientation.w, marker.scale.x, marker.scale.y, marker.scale.z,
                marker.color.r, marker.color.g, marker.color.b, marker.color.a)))


@pytest.mark.skipif(not depth_msgs.MARKERS_AVAILABLE, reason='visualization_msgs not installed')
def test_an_rgbd_bag_gives_the_nodes_3d_outputs(model, tmp_path, capsys):
    # depth logged before its colour frame, so that the node has it whenever it pairs
    bag = rgbd_bag(tmp_path / 'rgbd', FRAMES, [0] * FRAMES, scene_of=tiny_scene,
                   depth_log_delay_ns=-500_000)
    status, _, err = run_cli(capsys, 'bag', bag, tmp_path / 'out', '--model', model,
                             '--results-only')
    assert status == 0, err
    _, written = read_bag(tmp_path / 'out')
    published = node_rgbd_results(model, bag)

    node_json = [without_timing(m.data) for m in published['detections_json']]
    bag_json = [without_timing(m.data) for _, m in written[f'{RGBD_RESULTS}/detections_json']]
    assert bag_json == node_json
    assert all(d['centroid'] is not None for frame in bag_json for d in frame['detections'])
    for (_, ours), theirs in zip(written[f'{RGBD_RESULTS}/markers'], published['markers'],
                                 strict=True):
        assert [marker_fields(m) for m in ours.markers] == [
            marker_fields(m) for m in theirs.markers]
    for (_, ours), theirs in zip(written[f'{RGBD_RESULTS}/points'], published['points'],
                                 strict=True):
        assert (ours.width, ours.point_step, [f.name for f in ours.fields]) == (
            theirs.width, theirs.point_step, [f.name for f in theirs.fields])
        assert np.array_equal(ours.data, np.frombuffer(bytes(theirs.data), np.uint8))
    check_vision(written, published, RGBD_RESULTS, ['detections', 'detections_3d'])
