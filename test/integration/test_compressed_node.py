"""segmentation_node over DDS with compressed input and outputs, and in every_frame mode."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest
import tiny_models
from node_harness import NAMESPACE, Harness, find_by_stamp, scene_message
from payloads import malformed_payloads
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from ros_helpers import Collector, wait_for
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import CompressedImage, Image

from instance_segmentation_ros.cli.bag_writer import SegmentationBag
from instance_segmentation_ros.core.compressed import encode_jpeg, encode_png
from instance_segmentation_ros.core.image_conversion import image_msg_to_bgr

BURST = 200
MODEL_S = 0.02  # a burst of BURST frames takes the model BURST * MODEL_S or more


@pytest.fixture(scope='module')
def model_path(tmp_path_factory):
    return tiny_models.export_tf2_od_saved_model(str(tmp_path_factory.mktemp('m') / 'model'))


@pytest.fixture(scope='module')
def timed_model_path(tmp_path_factory):
    return tiny_models.export_tf2_od_saved_model(
        str(tmp_path_factory.mktemp('timed') / 'model'), compute_seconds=MODEL_S)


def compressed_scene(stamp_sec: int, codec: str, seed: int = 0):
    """(CompressedImage of a scene, the raw Image of the same pixels)."""
    raw, _, _ = scene_message(stamp_sec, seed=seed)
    bgr = image_msg_to_bgr(raw)
    message = CompressedImage(header=raw.header)
    if codec == 'png':
        message.format, message.data = 'bgr8; png compressed bgr8', encode_png(bgr)
    else:
        message.format, message.data = 'bgr8; jpeg compressed bgr8', encode_jpeg(bgr, 95)
    return message, raw


class CompressedFeed:
    """A harness whose node reads `image/compressed`, fed by a reliable publisher of its own."""

    def __init__(self, model_path, extra_args=(), depth=10, remap=None):
        args = ['-p', 'input_transport:=compressed', *extra_args]
        topic = f'{NAMESPACE}/image/compressed'
        if remap:
            args += ['-r', f'image:={remap}']
            topic = f'{remap}/compressed'
        self.harness = Harness(model_path, extra_args=args, raw_input=False)
        self.publisher = self.harness.client.create_publisher(
            CompressedImage, topic, QoSProfile(depth=depth, history=HistoryPolicy.KEEP_ALL,
                                               reliability=ReliabilityPolicy.RELIABLE))
        assert wait_for(lambda: self.publisher.get_subscription_count() > 0)

    def result(self, sec: int):
        for message in list(self.harness.json.messages):
            data = json.loads(message.data)
            if data['header']['stamp']['sec'] == sec:
                return data
        return None

    def segment(self, message, timeout: float = 20.0) -> dict:
        sec = message.header.stamp.sec
        self.publisher.publish(message)
        assert wait_for(lambda: self.result(sec) is not None, timeout=timeout)
        return self.result(sec)

    def diagnostics(self) -> dict:
        if not len(self.harness.diagnostics):
            return {}
        return {kv.key: kv.value for kv in self.harness.diagnostics.last.status[0].values}

    def close(self):
        self.harness.close()


def test_a_compressed_source_that_ends_is_said_once_as_such(model_path):
    feed = CompressedFeed(model_path)
    try:
        feed.segment(compressed_scene(45, 'jpeg')[0])
        feed.harness.publishers_go_away([feed.publisher], f'{NAMESPACE}/image/compressed')
    finally:
        feed.close()


@pytest.mark.parametrize('remap', [None, '/camera/image_raw'])
def test_a_png_frame_gives_what_the_same_raw_frame_gives_with_its_header(model_path, remap):
    message, raw = compressed_scene(40, 'png')
    feed = CompressedFeed(model_path, remap=remap)
    try:
        from_png = feed.segment(message)
    finally:
        feed.close()
    raw_harness = Harness(model_path)
    try:
        from_raw = raw_harness.segment(raw)
    finally:
        raw_harness.close()
    assert from_png['header'] == {'stamp': {'sec': 40, 'nanosec': 1234},
                                  'frame_id': 'test_camera'}
    for data in (from_png, from_raw):
        data.pop('inference_ms')
    assert from_png == from_raw
    assert [d['category_name'] for d in from_png['detections']] == ['person', 'car']


def test_a_jpeg_frame_is_segmented(model_path):
    feed = CompressedFeed(model_path)
    try:
        data = feed.segment(compressed_scene(41, 'jpeg')[0])
    finally:
        feed.close()
    assert [d['category_name'] for d in data['detections']] == ['person', 'car']


def test_a_thousand_malformed_frames_are_rejected_and_counted_and_the_next_is_right(model_path):
    bgr = image_msg_to_bgr(scene_message(1)[0])
    payloads = [data for kind, data in malformed_payloads(bgr, 1520) if kind != 'damaged']
    assert len(payloads) >= 1000
    # every_frame, so that every message is decoded (in latest mode most would be replaced).
    feed = CompressedFeed(model_path, ['-p', 'processing_mode:=every_frame',
                                       '-p', f'queue_size:={len(payloads) + 10}'])
    try:
        formats = ['bgr8; jpeg compressed bgr8', 'rgb8; png compressed', 'jpeg', 'png', '']
        for index, data in enumerate(payloads):
            feed.publisher.publish(CompressedImage(format=formats[index % 5], data=data))
        data = feed.segment(compressed_scene(42, 'png')[0], timeout=60)
        assert [d['category_name'] for d in data['detections']] == ['person', 'car']
        assert wait_for(lambda: feed.diagnostics().get('rejected_compressed')
                        == str(len(payloads)), timeout=10), feed.diagnostics()
        values = feed.diagnostics()
        assert values['frames_failed'] == '0' and values['frames_dropped'] == '0'
    finally:
        feed.close()


def test_compressed_outputs_are_lossless_masks_and_a_jpeg_overlay(model_path):
    harness = Harness(model_path, extra_args=['-p', 'jpeg_quality:=90'])
    masks_png, overlay_jpeg = Collector(), Collector()
    harness.client.create_subscription(CompressedImage, f'{NAMESPACE}/masks/compressed',
                                       masks_png, 10)
    harness.client.create_subscription(CompressedImage, f'{NAMESPACE}/overlay/compressed',
                                       overlay_jpeg, 10)
    try:
        message = scene_message(43)[0]
        harness.segment(message)
        assert wait_for(lambda: all(find_by_stamp(c, 43) for c in (
            harness.masks, harness.overlay, masks_png, overlay_jpeg)))
        raw_masks, raw_overlay = (find_by_stamp(c, 43) for c in (harness.masks,
                                                                   harness.overlay))
        png, jpeg = find_by_stamp(masks_png, 43), find_by_stamp(overlay_jpeg, 43)
    finally:
        harness.close()
    assert png.format == 'mono8; png compressed mono8'
    assert jpeg.format == 'bgr8; jpeg compressed bgr8'
    for output in (png, jpeg):
        assert output.header == message.header
    labels = cv2.imdecode(np.frombuffer(bytes(png.data), np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(labels, image_msg_to_bgr(raw_masks)[..., 0])
    assert set(np.unique(labels)) == {0, 1, 2}
    # The same overlay, encoded at the quality asked for: the same bytes.
    assert bytes(jpeg.data) == encode_jpeg(np.ascontiguousarray(image_msg_to_bgr(raw_overlay)),
                                           90)


def burst(harness, count: int):
    """Publish `count` frames at once on a reliable keep-all publisher; their stamps."""
    publisher = harness.client.create_publisher(
        Image, f'{NAMESPACE}/image',
        QoSProfile(depth=1, history=HistoryPolicy.KEEP_ALL,
                   reliability=ReliabilityPolicy.RELIABLE))
    assert wait_for(lambda: publisher.get_subscription_count() > 0)
    message = scene_message(0)[0]
    for sec in range(1000, 1000 + count):
        message.header.stamp.sec = sec
        publisher.publish(message)
    return list(range(1000, 1000 + count))


def result_stamps(harness) -> list[int]:
    return [json.loads(m.data)['header']['stamp']['sec'] for m in list(harness.json.messages)]


def test_every_frame_with_room_yields_every_result_in_order(timed_model_path):
    harness = Harness(timed_model_path, extra_args=[
        '-p', 'processing_mode:=every_frame', '-p', f'queue_size:={BURST + 50}'])
    try:
        stamps = burst(harness, BURST)
        assert wait_for(lambda: len(result_stamps(harness)) >= BURST, timeout=120)
        assert result_stamps(harness) == stamps
    finally:
        harness.close()


def test_every_frame_with_a_small_queue_loses_exactly_the_counted_frames(timed_model_path):
    harness = Harness(timed_model_path, extra_args=[
        '-p', 'processing_mode:=every_frame', '-p', 'queue_size:=20'])
    try:
        stamps = burst(harness, BURST)

        def figures():
            if not len(harness.diagnostics):
                return {}
            return {kv.key: kv.value for kv in harness.diagnostics.last.status[0].values}

        assert wait_for(lambda: figures().get('frames_received') == str(BURST)
                        and int(figures()['frames_processed']) + int(figures()['frames_dropped'])
                        == BURST, timeout=120), figures()
        dropped = int(figures()['frames_dropped'])
        results = result_stamps(harness)
    finally:
        harness.close()
    assert dropped > 0
    assert len(results) == BURST - dropped
    assert results == sorted(results) and set(results) <= set(stamps)
    assert results[-1] == stamps[-1]  # the newest are kept, the oldest dropped


def compressed_bag(path, frames: int):
    """A bag as `instance-segmentation folder --bag-compressed` writes it, of `frames` scenes."""
    with SegmentationBag(path, image_transport='compressed') as bag:
        for index in range(frames):
            raw, _, _ = scene_message(0, seed=index % 3)
            bgr = np.ascontiguousarray(image_msg_to_bgr(raw))
            blank = np.zeros(bgr.shape[:2], np.uint8)
            bag.write_frame((2000 + index) * 10**9, bgr, blank, bgr, '{}',
                            image_file=encode_jpeg(bgr, 90))
    return path


def test_a_compressed_bag_played_into_every_frame_mode_gives_one_result_per_frame(
        timed_model_path, tmp_path):
    """What `ros2 bag play --rate 20` does, done with rosbags: every message, in time."""
    bag = compressed_bag(tmp_path / 'bag', 60)
    harness = Harness(timed_model_path, raw_input=False, extra_args=[
        '-p', 'input_transport:=compressed', '-p', 'processing_mode:=every_frame',
        '-r', 'image:=/image'])
    player = harness.client.create_publisher(
        CompressedImage, '/image/compressed',
        QoSProfile(depth=1, history=HistoryPolicy.KEEP_ALL,
                   reliability=ReliabilityPolicy.RELIABLE))
    try:
        assert wait_for(lambda: player.get_subscription_count() > 0)
        stamps = []
        with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
            connections = [c for c in reader.connections if c.topic == '/image/compressed']
            started, first_ns = time.monotonic(), reader.start_time
            for connection, recorded_ns, raw in reader.messages(connections=connections):
                time.sleep(max(0.0, started + (recorded_ns - first_ns) / 20e9 - time.monotonic()))
                recorded = reader.deserialize(raw, connection.msgtype)
                message = CompressedImage(format=recorded.format, data=bytes(recorded.data))
                message.header.stamp.sec = recorded.header.stamp.sec
                message.header.stamp.nanosec = recorded.header.stamp.nanosec
                message.header.frame_id = recorded.header.frame_id
                player.publish(message)
                stamps.append(message.header.stamp.sec)
        assert stamps == list(range(2000, 2060))
        assert wait_for(lambda: len(result_stamps(harness)) >= len(stamps), timeout=120)
        assert result_stamps(harness) == stamps
    finally:
        harness.close()


def test_a_live_jpeg_stream_is_segmented_newest_first(model_path):
    feed = CompressedFeed(model_path)
    try:
        published = []
        for index in range(90):  # 3 s at 30 Hz
            message = compressed_scene(3000 + index, 'jpeg', seed=index % 3)[0]
            feed.publisher.publish(message)
            published.append(3000 + index)
            time.sleep(1 / 30)
        assert wait_for(lambda: feed.result(published[-1]) is not None, timeout=20)
        results = result_stamps(feed.harness)
    finally:
        feed.close()
    assert len(results) >= 3 and results == sorted(results) and set(results) <= set(published)
