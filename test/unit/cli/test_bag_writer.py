"""bag_writer: rosbag2 (mcap) output, read back with the independent `rosbags` reader."""

import json

import cv2
import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from instance_segmentation_ros.cli.bag_writer import (
    COMPRESSED_IMAGE_TOPIC,
    COMPRESSED_TOPICS,
    IMAGE_TOPIC,
    JSON_TOPIC,
    MASKS_TOPIC,
    OVERLAY_TOPIC,
    TOPICS,
    TRACK_MASKS_TOPIC,
    BagWriterError,
    SegmentationBag,
    stamp_parts,
)
from instance_segmentation_ros.core.compressed import PNG_FORMAT, compressed_msg_to_bgr

START_NS = 1_700_000_000_000_000_000


def frame(seed, height=48, width=64):
    rng = np.random.default_rng(seed)
    bgr = rng.integers(0, 256, (height, width, 3), np.uint8)
    labels = rng.integers(0, 4, (height, width), np.uint8)
    overlay = 255 - bgr
    sec, nanosec = stamp_parts(START_NS + seed)
    text = json.dumps({'header': {'stamp': {'sec': sec, 'nanosec': nanosec}},
                       'detections': [{'id': seed}]})
    return bgr, labels, overlay, text


def read_bag(path):
    """{topic: [(bag timestamp, message)]} and the connections, via rosbags' AnyReader."""
    messages = {}
    with AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
        connections = {c.topic: c for c in reader.connections}
        for connection, timestamp, raw in reader.messages():
            message = reader.deserialize(raw, connection.msgtype)
            messages.setdefault(connection.topic, []).append((timestamp, message))
    return messages, connections


def image_array(message):
    channels = message.step // message.width
    shape = (message.height, message.width, channels) if channels > 1 else (
        message.height, message.width)
    return np.asarray(message.data, np.uint8).reshape(shape)


def test_frames_read_back_with_topics_types_stamps_and_content(tmp_path):
    path = tmp_path / 'bag'
    frames = [frame(seed) for seed in range(3)]
    stamps = [START_NS + k * 1_000_000_000 + 250 for k in range(3)]
    with SegmentationBag(path, frame_id='camera') as bag:
        for stamp, data in zip(stamps, frames, strict=True):
            bag.write_frame(stamp, *data)
    assert bag.frames == 3

    metadata = yaml.safe_load((path / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert metadata['version'] == 8 and metadata['storage_identifier'] == 'mcap'
    assert metadata['message_count'] == 12
    assert metadata['relative_file_paths'] == ['bag.mcap'] and (path / 'bag.mcap').is_file()

    messages, connections = read_bag(path)
    assert {topic: c.msgtype for topic, c in connections.items()} == TOPICS
    assert {topic: len(entries) for topic, entries in messages.items()} == {
        topic: 3 for topic in TOPICS}
    for k, (bgr, labels, overlay, text) in enumerate(frames):
        for topic in TOPICS:
            assert messages[topic][k][0] == stamps[k]
        for topic in (IMAGE_TOPIC, MASKS_TOPIC, OVERLAY_TOPIC):
            message = messages[topic][k][1]
            assert (message.header.stamp.sec, message.header.stamp.nanosec) == stamp_parts(
                stamps[k])
            assert message.header.frame_id == 'camera'
        image, masks, drawn = (messages[t][k][1] for t in (IMAGE_TOPIC, MASKS_TOPIC,
                                                            OVERLAY_TOPIC))
        assert (image.encoding, masks.encoding, drawn.encoding) == ('bgr8', 'mono8', 'bgr8')
        assert image.step == 64 * 3 and masks.step == 64 and not image.is_bigendian
        assert np.array_equal(image_array(image), bgr)
        assert np.array_equal(image_array(masks), labels)
        assert np.array_equal(image_array(drawn), overlay)
        assert messages[JSON_TOPIC][k][1].data == text


def test_offered_qos_is_recorded_for_replay(tmp_path):
    with SegmentationBag(tmp_path / 'bag') as bag:
        bag.write_frame(START_NS, *frame(0))
    metadata = yaml.safe_load((tmp_path / 'bag' / 'metadata.yaml').read_text())
    for topic in metadata['rosbag2_bagfile_information']['topics_with_message_count']:
        profile = yaml.safe_load(topic['topic_metadata']['offered_qos_profiles'])[0]
        assert profile['reliability'] == 1 and profile['durability'] == 2  # reliable, volatile


def test_existing_path_is_refused_and_left_alone(tmp_path):
    (tmp_path / 'bag').mkdir()
    (tmp_path / 'bag' / 'keep.txt').write_text('mine')
    with pytest.raises(BagWriterError, match='exists already'):
        SegmentationBag(tmp_path / 'bag').open()
    assert (tmp_path / 'bag' / 'keep.txt').read_text() == 'mine'


def test_parent_that_is_a_file_is_refused(tmp_path):
    (tmp_path / 'file').write_text('')
    with pytest.raises(BagWriterError, match='is a file, not a folder'):
        SegmentationBag(tmp_path / 'file' / 'sub' / 'bag').open()


def test_missing_parents_are_created(tmp_path):
    with SegmentationBag(tmp_path / 'a' / 'b' / 'bag') as bag:
        bag.write_frame(START_NS, *frame(0))
    assert read_bag(tmp_path / 'a' / 'b' / 'bag')[0][IMAGE_TOPIC]


def test_interrupted_writing_still_leaves_a_readable_bag(tmp_path):
    path = tmp_path / 'bag'
    with pytest.raises(KeyboardInterrupt), SegmentationBag(path) as bag:
        bag.write_frame(START_NS, *frame(0))
        bag.write_frame(START_NS + 1_000_000_000, *frame(1))
        raise KeyboardInterrupt
    messages, _ = read_bag(path)
    assert [len(messages[topic]) for topic in TOPICS] == [2, 2, 2, 2]


def test_discard_removes_the_bag(tmp_path):
    bag = SegmentationBag(tmp_path / 'bag').open()
    bag.discard()
    assert not (tmp_path / 'bag').exists()
    with pytest.raises(BagWriterError, match='not open'):
        bag.write_frame(START_NS, *frame(0))


def test_a_compressed_bag_holds_a_jpeg_or_png_file_as_it_is_and_else_a_png(tmp_path):
    path = tmp_path / 'bag'
    frames = [frame(seed) for seed in range(4)]
    files = [cv2.imencode('.jpg', frames[0][0])[1].tobytes(),
             cv2.imencode('.png', frames[1][0])[1].tobytes(),
             cv2.imencode('.bmp', frames[2][0])[1].tobytes(),
             None]  # no file: the image alone
    stamps = [START_NS + k * 1_000_000_000 for k in range(4)]
    with SegmentationBag(path, frame_id='cam', image_transport='compressed') as bag:
        for stamp, data, image_file in zip(stamps, frames, files, strict=True):
            bag.write_frame(stamp, *data, image_file=image_file)
    assert bag.topics == COMPRESSED_TOPICS

    messages, connections = read_bag(path)
    assert {topic: c.msgtype for topic, c in connections.items()} == COMPRESSED_TOPICS
    assert IMAGE_TOPIC not in messages
    images = messages[COMPRESSED_IMAGE_TOPIC]
    assert [timestamp for timestamp, _ in images] == stamps
    for (_, image), stamp in zip(images, stamps, strict=True):
        assert (image.header.stamp.sec, image.header.stamp.nanosec) == stamp_parts(stamp)
        assert image.header.frame_id == 'cam'
    jpeg, png, bmp, bare = (image for _, image in images)
    assert jpeg.format == 'bgr8; jpeg compressed bgr8' and bytes(jpeg.data) == files[0]
    assert png.format == 'bgr8; png compressed bgr8' and bytes(png.data) == files[1]
    assert np.array_equal(compressed_msg_to_bgr(png), frames[1][0])
    for message, (bgr, *_) in ((bmp, frames[2]), (bare, frames[3])):
        assert message.format == PNG_FORMAT
        assert np.array_equal(compressed_msg_to_bgr(message), bgr)
    for k, (_, labels, overlay, text) in enumerate(frames):
        assert np.array_equal(image_array(messages[MASKS_TOPIC][k][1]), labels)
        assert np.array_equal(image_array(messages[OVERLAY_TOPIC][k][1]), overlay)
        assert messages[JSON_TOPIC][k][1].data == text


def test_an_unknown_image_transport_is_refused():
    with pytest.raises(BagWriterError,
                       match="image_transport 'theora' is not one of raw, compressed"):
        SegmentationBag('bag', image_transport='theora')


def test_a_tracking_bag_holds_the_16_bit_track_ids_of_each_frame(tmp_path):
    path = tmp_path / 'bag'
    track_image = np.array([[0, 1, 300], [65535, 0, 2]], np.uint16)
    with SegmentationBag(path, tracks=True) as bag:
        bag.write_frame(START_NS, *frame(0, 2, 3), track_image=track_image)
        with pytest.raises(BagWriterError, match='track image'):
            bag.write_frame(START_NS + 1, *frame(1, 2, 3))
    messages, connections = read_bag(path)
    assert connections[TRACK_MASKS_TOPIC].msgtype == 'sensor_msgs/msg/Image'
    message = messages[TRACK_MASKS_TOPIC][0][1]
    assert (message.encoding, message.step, message.is_bigendian) == ('16UC1', 6, 0)
    assert np.array_equal(np.asarray(message.data, np.uint8).view('<u2').reshape(2, 3),
                          track_image)
    assert TRACK_MASKS_TOPIC not in TOPICS
