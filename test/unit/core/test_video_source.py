"""video_source: what `device` means, and which sources are live, for the node and the CLI."""

import cv2
import numpy as np
import pytest

from instance_segmentation_ros.core.video_source import (
    SourceError,
    is_live,
    open_capture,
    parse_device,
)


@pytest.mark.parametrize('device,expected', [
    ('0', ('camera', 0)),
    (' 2 ', ('camera', 2)),
    ('/dev/video1', ('camera', '/dev/video1')),
    ('file:///tmp/a.mp4', ('file', '/tmp/a.mp4')),
    ('clip.avi', ('file', 'clip.avi')),
    ('rtsp://cam.local/stream', ('stream', 'rtsp://cam.local/stream')),
])
def test_parse_device(device, expected):
    assert parse_device(device) == expected


def test_a_file_ends_and_a_camera_is_live(tmp_path):
    path = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 5, (32, 24))
    for value in (0, 100):
        writer.write(np.full((24, 32, 3), value, np.uint8))
    writer.release()
    capture = open_capture(*parse_device(str(path)))
    try:
        assert not is_live('file', capture)
        assert is_live('camera', capture)
        assert [capture.read()[0] for _ in range(3)] == [True, True, False]
    finally:
        capture.release()


@pytest.mark.parametrize('device,reason', [
    ('missing.mp4', 'No such file or directory'),
    ('/dev/no_such_camera', 'no such device'),
    ('notes.txt', 'OpenCV could not open it'),
])
def test_sources_that_cannot_open_say_why(device, reason, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'notes.txt').write_text('not a video')
    with pytest.raises(SourceError, match=reason):
        open_capture(*parse_device(device))
