"""The bag command and segmentation_node give the same results for the same bag.

The bag is played into a real node over DDS in `processing_mode: every_frame` (each message
published once, as `ros2 bag play` does, read with rosbags), and segmented by the bag command;
masks, masks/compressed, overlay and detections_json must be equal frame by frame, the
JSON's timing field aside.
"""

import json

import pytest
import tiny_models
from camera_bags import CAMERA, RESULTS, camera_bag
from cli_run import read_bag, run_cli
from node_harness import Harness
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from ros_helpers import Collector, wait_for
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import CompressedImage, Image

FRAMES = 6
TIMING_FIELDS = ('inference_ms',)


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
    player = harness.client.create_publisher(
        Image, CAMERA, QoSProfile(depth=1, history=HistoryPolicy.KEEP_ALL,
                                  reliability=ReliabilityPolicy.RELIABLE))
    outputs = {'masks': harness.masks, 'masks/compressed': png,
               'detections_json': harness.json, 'overlay': harness.overlay}
    try:
        assert wait_for(lambda: player.get_subscription_count() > 0, timeout=30)
        assert wait_for(lambda: harness.client.count_publishers(
            f'{RESULTS}/masks/compressed') > 0, timeout=30)
        with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
            for connection, _, raw in reader.messages():
                recorded = reader.deserialize(raw, connection.msgtype)
                message = Image(height=recorded.height, width=recorded.width,
                                encoding=recorded.encoding, is_bigendian=recorded.is_bigendian,
                                step=recorded.step, data=bytes(recorded.data))
                message.header.stamp.sec = recorded.header.stamp.sec
                message.header.stamp.nanosec = recorded.header.stamp.nanosec
                message.header.frame_id = recorded.header.frame_id
                player.publish(message)
        assert wait_for(lambda: all(len(c) >= FRAMES for c in outputs.values()), timeout=120), {
            name: len(c) for name, c in outputs.items()}
        return {name: list(c.messages) for name, c in outputs.items()}
    finally:
        harness.close()


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
