"""Synthetic RGB-D scenes played by folder_player into segmentation_node, over real DDS.

The built-in model segments the generated shapes; each instance it finds must be where the scene
put it: centroid within 1 cm, box within 2 cm, at 1-3 m, as the README promises. The model's
masks are good, not exact (its mask AP is 0.79), and a mask a few pixels off moves a centroid by
them (5 mm a pixel at 2.5 m here): the truth is that of the detected pixels that really are the
instance, among detections that take in little of another shape (a mask that takes in much of a
neighbour at a similar depth measures both, as it should; the wall is far behind, and what the
mask takes in of it must not count).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from node_harness import Harness
from rgbd_truth import check_3d_against_truth
from ros_helpers import Collector, NodeProcess, wait_for

from instance_segmentation_ros.demo import depth_scenes
from instance_segmentation_ros.demo.evaluation import HELD_OUT_SEED
from instance_segmentation_ros.ros import depth_msgs, detection_msgs

SCENES = 4


@pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')
def test_folder_player_rgbd_scenes_give_right_3d_detections_and_markers(tmp_path):
    folder = tmp_path / 'rgbd'
    depth_scenes.write_rgbd_scenes(folder, SCENES, seed=HELD_OUT_SEED)
    calibration = folder / depth_scenes.CALIBRATION_FILE  # written beside the scenes
    harness = Harness(None, extra_args=['-p', 'depth.enabled:=true'])
    markers, detections_3d = Collector(), Collector()
    if depth_msgs.MARKERS_AVAILABLE:
        harness.client.create_subscription(depth_msgs.MarkerArray, '/segmentation/markers',
                                           markers, 10)
    if detection_msgs.AVAILABLE:
        harness.client.create_subscription(detection_msgs.Detection3DArray,
                                           '/segmentation/detections_3d', detections_3d, 10)
    try:
        with NodeProcess('folder_player', remaps=['__ns:=/segmentation'], folder=folder,
                         depth='true', camera_info_url=calibration, frame_id='rgbd_camera',
                         rate=20.0, wait_for_topic='/segmentation/detections_json') as player:
            assert wait_for(lambda: player.returncode is not None, timeout=120)
            status, output = player.finish()
        assert status == 0, output
        assert f'published {SCENES} images, skipped 0' in output, output
        assert wait_for(lambda: len(harness.json) >= SCENES, timeout=10)
        frames = [json.loads(m.data) for m in harness.json.messages[-SCENES:]]
    finally:
        harness.close()

    for frame in frames:
        assert frame['header']['frame_id'] == 'rgbd_camera'
    checked = check_3d_against_truth([frame['detections'] for frame in frames], HELD_OUT_SEED)
    assert checked >= 2 * SCENES, f'only {checked} instances were outlined well enough'

    stamps = {(f['header']['stamp']['sec'], f['header']['stamp']['nanosec']): f for f in frames}

    def stamp_of(message):
        return message.header.stamp.sec, message.header.stamp.nanosec

    if detection_msgs.AVAILABLE:
        arrays = [a for a in detections_3d.messages if stamp_of(a) in stamps]
        assert len(arrays) == SCENES
        for array in arrays:
            frame = stamps[stamp_of(array)]
            by_id = {str(d['id']): d for d in frame['detections'] if d['centroid']}
            assert [d.id for d in array.detections] == list(by_id)
            for detection in array.detections:
                centre = (np.array(by_id[detection.id]['box_3d']['min'])
                          + by_id[detection.id]['box_3d']['max']) / 2
                position = detection.bbox.center.position
                assert [position.x, position.y, position.z] == pytest.approx(centre, abs=1e-3)
    if depth_msgs.MARKERS_AVAILABLE:
        arrays = [a for a in markers.messages if stamp_of(a.markers[0]) in stamps]
        assert len(arrays) == SCENES
        for array in arrays:
            frame = stamps[stamp_of(array.markers[0])]
            boxes = {m.id: m for m in array.markers if m.ns == 'boxes'}
            located = {d['id']: d for d in frame['detections'] if d['centroid']}
            assert set(boxes) == set(located)
            for number, box in boxes.items():
                size = np.array(located[number]['box_3d']['max']) - located[number]['box_3d'][
                    'min']
                assert [box.scale.x, box.scale.y, box.scale.z] == pytest.approx(
                    np.maximum(size, 0.005), abs=1e-3)
                assert box.header.frame_id == 'rgbd_camera'
