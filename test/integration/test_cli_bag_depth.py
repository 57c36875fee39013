"""The bag command on RGB-D bags: colour, aligned depth and camera_info in, the node's 3D out.

The bags hold synthetic RGB-D scenes (`demo.depth_scenes`) whose 3D is known, under a
RealSense driver's names, and are segmented with the built-in model as the node would
segment them with depth.enabled.
"""

import json
import subprocess

import numpy as np
import pytest
import tiny_models
from camera_bags import COLOUR, DEPTH, RGBD_RESULTS, rgbd_bag, tiny_scene
from cli_run import SCRIPT, interrupt_at, read_bag, run_cli
from rgbd_truth import check_3d_against_truth

from instance_segmentation_ros.demo.evaluation import HELD_OUT_SEED

RESULTS = RGBD_RESULTS


@pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')
def test_an_rgbd_bag_gets_the_nodes_3d_outputs_true_to_the_scene(tmp_path, capsys):
    # frame 1's depth is 5 ms off (paired: within 20 ms), frame 3's 50 ms (refused: unpaired)
    offsets = [0, 5_000_000, 0, 50_000_000]
    bag = rgbd_bag(tmp_path / 'rgbd', 4, offsets)
    status, out, err = run_cli(capsys, 'bag', bag, tmp_path / 'out', '--results-only')
    assert status == 0, err
    assert f'segmented 4 frames of 1 camera topic ({COLOUR})' in out  # depth is no camera
    assert f'depth refused (no 3D) on {COLOUR}: unpaired 1' in err
    types, messages = read_bag(tmp_path / 'out')
    assert types[f'{RESULTS}/markers'] == 'visualization_msgs/msg/MarkerArray'
    assert types[f'{RESULTS}/points'] == 'sensor_msgs/msg/PointCloud2'
    frames = [json.loads(m.data) for _, m in messages[f'{RESULTS}/detections_json']]
    assert all('centroid' in d for d in frames[2]['detections'])
    assert all('centroid' not in d for d in frames[3]['detections'])  # unpaired: 2D only
    assert check_3d_against_truth([f['detections'] for f in frames[:3]], HELD_OUT_SEED) >= 5
    markers = messages[f'{RESULTS}/markers']
    assert len(markers) == 3  # none for the frame without depth, as the node
    for (_, array), frame in zip(markers, frames, strict=False):
        assert array.markers[0].action == 3  # DELETEALL, then a box and a label each
        boxes = {m.id: m for m in array.markers if m.ns == 'boxes'}
        located = [d for d in frame['detections'] if d['centroid'] is not None]
        assert sorted(boxes) == sorted(d['id'] for d in located)
        for detection in located:
            box = boxes[detection['id']]
            low, high = (np.array(detection['box_3d'][k]) for k in ('min', 'max'))
            assert np.allclose([box.pose.position.x, box.pose.position.y,
                                box.pose.position.z], (low + high) / 2, atol=0.002)
            assert box.header.stamp.sec == frame['header']['stamp']['sec']
    points = messages[f'{RESULTS}/points']
    cloud = np.frombuffer(points[0][1].data.tobytes(), [('x', '<f4'), ('y', '<f4'),
                                                         ('z', '<f4'), ('id', '<u4')])
    assert len(cloud) == points[0][1].width > 0
    assert set(cloud['id']) <= {d['id'] for d in frames[0]['detections']}
    assert [t for t, _ in points] == [t for t, _ in markers]  # at the colour frames' log times


def test_depth_topic_errors_are_one_line(tmp_path, capsys):
    bag = rgbd_bag(tmp_path / 'rgbd', 1, [0])
    status, _, err = run_cli(capsys, 'bag', bag, tmp_path / 'out', '--depth-topic', '/nope')
    assert status == 2 and '--depth-topic: /nope is not a sensor_msgs/Image topic' in err
    assert not (tmp_path / 'out').exists()
    status, _, err = run_cli(capsys, 'bag', bag, tmp_path / 'out', '--depth-topic', COLOUR)
    assert status == 2 and 'the bag has no /cam/color/camera_info' in err


def test_depth_topic_names_the_depth_of_the_one_camera(tmp_path, capsys):
    bag = rgbd_bag(tmp_path / 'rgbd', 1, [0])
    status, out, err = run_cli(capsys, 'bag', bag, tmp_path / 'out', '--topics', COLOUR,
                               '--depth-topic', DEPTH)
    assert status == 0, err
    types, messages = read_bag(tmp_path / 'out')
    assert len(messages[f'{RESULTS}/markers']) == 1
    assert f'{DEPTH.rsplit("/", 1)[0]}/segmentation/masks' not in types


def test_a_resumed_rgbd_run_pairs_depth_read_before_it_stopped(tmp_path):
    """The camera_info, logged once at the start, still gives the resumed frames their 3D."""
    model = tiny_models.export_tf2_od_saved_model(tmp_path / 'tf2', compute_seconds=0.4)
    bag = rgbd_bag(tmp_path / 'rgbd', 6, [0] * 6, scene_of=tiny_scene)
    out = tmp_path / 'out'
    argv = [str(SCRIPT), 'bag', str(bag), str(out), '--model', model, '--results-only']
    status, lines = interrupt_at(argv, '[1/6]')
    assert status == 130, ''.join(lines)
    done = len(read_bag(out)[1][f'{RESULTS}/detections_json'])
    assert 1 <= done < 6
    resumed = subprocess.run([*argv, '--resume'], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert 'depth refused' not in resumed.stderr
    _, messages = read_bag(out)
    frames = [json.loads(m.data) for _, m in messages[f'{RESULTS}/detections_json']]
    assert len(frames) == len(messages[f'{RESULTS}/markers']) == 6
    for frame in frames:
        assert frame['detections']
        for detection in frame['detections']:
            assert min(abs(detection['centroid'][2] - z) for z in (1.5, 2.5)) < 0.01
