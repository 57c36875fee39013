"""--track and --mots of the folder and webcam commands, on a moving sequence of the demo."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from cli_run import assert_one_line_error, read_bag, run_cli
from pycocotools import mask as mask_utils

from instance_segmentation_ros.cli.bag_writer import TRACK_MASKS_TOPIC
from instance_segmentation_ros.demo.sequences import SequenceSettings, generate_sequence

FRAMES = 12


@pytest.fixture(scope='module')
def sequence_frames():
    return list(generate_sequence(3, 0, SequenceSettings(frames=FRAMES)).frames())


@pytest.fixture
def sequence_folder(tmp_path, sequence_frames):
    folder = tmp_path / 'frames'
    folder.mkdir()
    for frame in sequence_frames:
        cv2.imwrite(str(folder / f'frame_{frame.index:03d}.png'), frame.bgr)
    return folder


def read_mots(path) -> list[tuple[int, int, int, np.ndarray]]:
    """(frame, track id, class, mask) per line of a MOTSChallenge text file."""
    rows = []
    for line in path.read_text().splitlines():
        frame, track_id, class_id, height, width, counts = line.split(' ')
        mask = mask_utils.decode({'size': [int(height), int(width)],
                                  'counts': counts.encode('ascii')}).astype(bool)
        rows.append((int(frame), int(track_id), int(class_id), mask))
    return rows


def test_folder_track_writes_ids_into_json_mots_bag_and_overlays(capsys, tmp_path,
                                                                 sequence_folder):
    out, results, mots, bag = (tmp_path / 'out', tmp_path / 'r.json', tmp_path / 'tracks.txt',
                               tmp_path / 'bag')
    status, stdout, err = run_cli(capsys, 'folder', sequence_folder, out, '--track', '--json',
                                  results, '--mots', mots, '--bag', bag)
    assert status == 0, err
    assert f'wrote {mots}' in stdout
    entries = json.loads(results.read_text())
    assert all('track_id' in entry for entry in entries)
    assert all(entry['track_id'] is None for entry in entries if entry['image_id'] == 1)
    confirmed = [entry for entry in entries if entry['track_id']]
    assert len({entry['track_id'] for entry in confirmed}) >= 3
    rows = read_mots(mots)
    # The MOTS file holds exactly the confirmed entries: frame = image id, same pixels.
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (e['image_id'], e['track_id'], e['category_id']) for e in confirmed]
    for (_, _, _, mask), entry in zip(rows, confirmed, strict=True):
        np.testing.assert_array_equal(mask, mask_utils.decode(entry['segmentation']) > 0)
    types, messages = read_bag(bag)
    assert types[TRACK_MASKS_TOPIC] == 'sensor_msgs/msg/Image'
    stamps = [timestamp for timestamp, _ in messages[TRACK_MASKS_TOPIC]]
    assert np.allclose(np.diff(stamps), 1e9 / 30)  # --fps defaults to 30 with --track
    for (_, track_msg), (_, json_msg), (_, masks_msg) in zip(
            messages[TRACK_MASKS_TOPIC], messages['/segmentation/detections_json'],
            messages['/segmentation/masks'], strict=True):
        ids = np.asarray(track_msg.data, np.uint8).view('<u2').reshape(track_msg.height,
                                                                       track_msg.width)
        labels = np.asarray(masks_msg.data, np.uint8).reshape(ids.shape)
        for detection in json.loads(json_msg.data)['detections']:
            assert set(np.unique(ids[labels == detection['id']])) == {
                detection['track_id'] or 0}
    assert len(list(out.iterdir())) == FRAMES


def test_track_ids_keep_to_their_objects_in_the_mots_file(capsys, tmp_path, sequence_folder,
                                                          sequence_frames):
    mots = tmp_path / 'tracks.txt'
    status, _, err = run_cli(capsys, 'folder', sequence_folder, tmp_path / 'out', '--track',
                             '--mots', mots)
    assert status == 0, err
    objects_of_track = {}
    for frame, track_id, _, mask in read_mots(mots):
        for truth in sequence_frames[frame - 1].objects:
            if np.count_nonzero(mask & truth.mask) >= 0.5 * np.count_nonzero(mask | truth.mask):
                objects_of_track.setdefault(track_id, set()).add(truth.identity)
    assert len(objects_of_track) >= 3
    assert all(len(objects) == 1 for objects in objects_of_track.values()), objects_of_track


def test_webcam_tracks_a_video_file(capsys, tmp_path, sequence_frames):
    video = tmp_path / 'sequence.avi'
    height, width = sequence_frames[0].bgr.shape[:2]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 30.0, (width, height))
    for frame in sequence_frames:
        writer.write(frame.bgr)
    writer.release()
    mots, output = tmp_path / 'tracks.txt', tmp_path / 'annotated.avi'
    status, stdout, err = run_cli(capsys, 'webcam', '--device', video, '--output', output,
                                  '--track', '--mots', mots)
    assert status == 0, err
    assert f'wrote {mots}' in stdout and output.is_file()
    rows = read_mots(mots)
    assert rows and {frame for frame, *_ in rows} <= set(range(2, FRAMES + 1))


def test_mots_without_track_is_a_usage_error(capsys, tmp_path, sequence_folder):
    status, _, err = run_cli(capsys, 'folder', sequence_folder, tmp_path / 'out', '--mots',
                             tmp_path / 'tracks.txt')
    assert_one_line_error(status, err, '--mots needs --track', expected_status=2)
