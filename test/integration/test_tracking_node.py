"""segmentation_node's tracking over real DDS: a moving sequence played by folder_player.

A sequence of the demo (`demo.sequences`, exact identities) is written as PNG files and played
by folder_player into the node with the built-in model and `tracking.enabled`. The client also
records the images it sees, so each output is traced back to its frame (the PNGs are lossless)
and each detection to the object it covers.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from node_harness import Harness
from pycocotools import mask as mask_utils
from ros_helpers import Collector, NodeProcess, wait_for
from sensor_msgs.msg import Image

from instance_segmentation_ros.core.image_conversion import fill_image_msg, image_msg_to_bgr
from instance_segmentation_ros.core.tracking import track_id_image
from instance_segmentation_ros.demo.sequences import SequenceSettings, generate_sequence
from instance_segmentation_ros.ros import detection_msgs

FRAMES = 16
RESULTS_TIMEOUT = 120.0  # s: only bounds a hang


@pytest.fixture(scope='module')
def sequence_folder(tmp_path_factory):
    """The sequence's frames as PNG files in name order, and their truth."""
    folder = tmp_path_factory.mktemp('sequence')
    frames = list(generate_sequence(3, 0, SequenceSettings(frames=FRAMES)).frames())
    for frame in frames:
        cv2.imwrite(str(folder / f'frame_{frame.index:03d}.png'), frame.bgr)
    return folder, frames


def frame_of(bgr: np.ndarray, frames) -> int:
    return next(frame.index for frame in frames if np.array_equal(frame.bgr, bgr))


def play(harness: Harness, namespace: str, folder, extra: dict | None = None):
    """Play the folder into the node; the outputs by stamp once every published frame is done."""
    track_masks, images = Collector(), Collector()
    harness.client.create_subscription(Image, f'{namespace}/track_masks', track_masks, 50)
    harness.client.create_subscription(Image, f'{namespace}/image', images, 50)
    detections = Collector()
    if detection_msgs.AVAILABLE:
        harness.client.create_subscription(detection_msgs.Detection2DArray,
                                           f'{namespace}/detections', detections, 50)
    with NodeProcess('folder_player', remaps=[f'image:={namespace}/image'], folder=folder,
                     rate=4.0, frame_id='seq', **(extra or {})) as player:
        assert wait_for(lambda: player.returncode is not None, timeout=RESULTS_TIMEOUT)
        assert player.finish()[0] == 0
    assert wait_for(lambda: len(images) == FRAMES, timeout=20)
    # Every image the node took gets all outputs; latest mode may skip some.
    assert wait_for(lambda: len(harness.json) >= 1 and len(track_masks) == len(harness.json)
                    and len(harness.masks) == len(harness.json), timeout=RESULTS_TIMEOUT)

    def by_stamp(collector, stamp_of):
        return {stamp_of(m): m for m in list(collector.messages)}

    header_stamp = lambda m: (m.header.stamp.sec, m.header.stamp.nanosec)  # noqa: E731
    return {
        'json': by_stamp(harness.json, lambda m: tuple(
            json.loads(m.data)['header']['stamp'][k] for k in ('sec', 'nanosec'))),
        'track_masks': by_stamp(track_masks, header_stamp),
        'masks': by_stamp(harness.masks, header_stamp),
        'images': by_stamp(images, header_stamp),
        'detections': by_stamp(detections, header_stamp),
    }


@pytest.mark.parametrize('mode', ['every_frame', 'latest'])
def test_track_ids_follow_the_objects_of_a_played_sequence(sequence_folder, mode):
    folder, frames = sequence_folder
    namespace = f'/tracking_{mode}'
    harness = Harness(None, ['-p', 'tracking.enabled:=true', '-p', f'processing_mode:={mode}'],
                      namespace=namespace)
    try:
        outputs = play(harness, namespace, folder)
    finally:
        harness.close()
    ids_of_object: dict[int, list[int]] = {}
    for stamp, message in outputs['json'].items():
        data = json.loads(message.data)
        frame = frames[frame_of(image_msg_to_bgr(outputs['images'][stamp]), frames)]
        labels = image_msg_to_bgr(outputs['masks'][stamp])[..., 0]
        track_ids = [entry['track_id'] or 0 for entry in data['detections']]
        # track_masks: each instance's pixels hold its track id (0 unconfirmed), 0 elsewhere.
        track_image = np.frombuffer(outputs['track_masks'][stamp].data, np.uint16).reshape(
            labels.shape)
        assert outputs['track_masks'][stamp].encoding == '16UC1'
        np.testing.assert_array_equal(track_image, track_id_image(labels, track_ids))
        if detection_msgs.AVAILABLE:
            assert [d.id for d in outputs['detections'][stamp].detections] == [
                str(track_id) if track_id else '' for track_id in track_ids]
        for entry in data['detections']:
            if not entry['track_id']:
                continue
            mask = mask_utils.decode(entry['segmentation']).astype(bool)
            for truth in frame.objects:
                union = np.count_nonzero(mask | truth.mask)
                if np.count_nonzero(mask & truth.mask) >= 0.5 * union:
                    ids_of_object.setdefault(truth.identity, []).append(entry['track_id'])
    tracked = {identity: ids for identity, ids in ids_of_object.items() if len(ids) >= 5}
    assert len(tracked) >= 3, ids_of_object
    dominant = {}
    for identity, ids in tracked.items():
        values, counts = np.unique(ids, return_counts=True)
        dominant[identity] = int(values[np.argmax(counts)])
        assert counts.max() >= 0.8 * len(ids), (identity, ids)  # at most a rare switch
    assert len(set(dominant.values())) == len(dominant), dominant  # one object, one id


def test_two_cameras_keep_separate_tracks(sequence_folder):
    """The same frames into two cameras: each camera's own tracker gives them the same ids."""
    folder, frames = sequence_folder
    namespace = '/tracking_two'
    harness = Harness(None, ['-p', 'tracking.enabled:=true',
                             '-p', 'processing_mode:=every_frame'],
                      namespace=namespace, cameras=['left', 'right'])
    try:
        for index, frame in enumerate(frames[:8]):
            for camera in ('left', 'right'):
                topics = harness.cameras[camera]
                message = fill_image_msg(Image(), frame.bgr, 'bgr8')
                message.header.stamp.sec, message.header.frame_id = 100 + index, camera
                topics.publisher.publish(message)
                assert wait_for(lambda topics=topics, index=index: len(topics.json) == index + 1,
                                timeout=RESULTS_TIMEOUT)
        results = {camera: [[entry['track_id'] for entry in json.loads(m.data)['detections']]
                            for m in harness.cameras[camera].json.messages]
                   for camera in ('left', 'right')}
    finally:
        harness.close()
    assert results['left'] == results['right']
    assert 1 in {track_id for ids in results['left'] for track_id in ids}


def test_tracking_off_publishes_no_track_fields_and_no_track_topics(sequence_folder):
    _, frames = sequence_folder
    namespace = '/tracking_off'
    harness = Harness(None, namespace=namespace)
    try:
        message = fill_image_msg(Image(), frames[0].bgr, 'bgr8')
        message.header.stamp.sec = 5
        data = harness.segment(message, timeout=30)
        topics = {name for name, _ in harness.client.get_topic_names_and_types()}
    finally:
        harness.close()
    assert data['detections'] and all('track_id' not in entry for entry in data['detections'])
    assert not any('track_masks' in topic for topic in topics), topics
    assert [entry['id'] for entry in data['detections']] == list(
        range(1, len(data['detections']) + 1))
