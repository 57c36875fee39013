"""webcam_publisher faults: a live camera that returns empty frames, drops out and comes back.

The node runs in this process on a scripted stand-in for cv2.VideoCapture (as in
test_webcam_publisher's FakeCamera test), so that each fault happens at a known frame. The
rules themselves (when a camera is lost, the backoff, which frames are dropped, how often that
is warned about) are VideoFrames', tested in test/unit/core/test_video_source.py; here the node
lives through them: it logs them, keeps publishing, and a live camera never waits for a
consumer, lock-step or not.
"""

import time

import cv2
import numpy as np
import pytest
from helper_nodes import COLOUR, CameraRecorder
from rclpy.parameter import Parameter
from ros_helpers import spin_until

from instance_segmentation_ros.ros.webcam_publisher import WebcamPublisher

READ_SECONDS = 0.01  # one read() of the scripted camera: about 100 frames per second


def frame(width=160, height=120):
    return np.full((height, width, 3), COLOUR, np.uint8)


class ScriptedCamera:
    """Stands in for cv2.VideoCapture; each opening plays the next entry of ``script``.

    An entry is None (the device cannot be opened) or a list of ``(count, result)`` runs: read()
    returns ``result`` (an ``(ok, frame)`` pair) ``count`` times, then ``(False, None)`` as when
    the cable is pulled. After the script, openings fail.
    """

    script = []
    opened = 0

    def __init__(self, *args):
        ScriptedCamera.opened += 1
        entry = ScriptedCamera.script.pop(0) if ScriptedCamera.script else None
        self.runs = None if entry is None else [list(run) for run in entry]

    def isOpened(self):  # noqa: N802 - the OpenCV name
        return self.runs is not None

    def set(self, prop, value):
        return True

    def get(self, prop):
        return {cv2.CAP_PROP_FRAME_WIDTH: 160, cv2.CAP_PROP_FRAME_HEIGHT: 120}.get(prop, 0.0)

    def getBackendName(self):  # noqa: N802 - the OpenCV name
        return 'SCRIPTED'

    def read(self):
        time.sleep(READ_SECONDS)
        while self.runs and self.runs[0][0] == 0:
            self.runs.pop(0)
        if not self.runs:
            return False, None
        self.runs[0][0] -= 1
        return self.runs[0][1]

    def release(self):
        pass


@pytest.fixture
def scripted_camera(monkeypatch):
    monkeypatch.setattr(ScriptedCamera, 'script', [])
    monkeypatch.setattr(ScriptedCamera, 'opened', 0)
    monkeypatch.setattr(cv2, 'VideoCapture', ScriptedCamera)
    return ScriptedCamera


def start_camera(node, executor, **params):
    camera = WebcamPublisher(context=node.context, parameter_overrides=[
        Parameter('device', value='/dev/null'),  # exists, so it is opened as a camera
        *(Parameter(name, value=value) for name, value in params.items())])
    executor.add_node(camera)
    return camera


def stop_camera(executor, camera):
    executor.remove_node(camera)
    camera.close(interrupted=True)


def test_a_live_camera_lives_through_empty_frames_and_drop_outs(ros, scripted_camera, capfd):
    node, executor = ros
    # Frames with empty ones between them, unplugged (one failed reopening), frames, unplugged
    # again (one failed reopening), then replugged as a camera that delivers 320x240 although
    # it said 160x120. A failed reopening takes two entries: V4L2 first, then the default
    # backend.
    scripted_camera.script = [
        [(3, (True, frame())), (20, (True, None)),
         (20, (True, np.empty((0, 0, 3), np.uint8))), (30, (True, frame()))], None, None,
        [(5, (True, frame()))], None, None,
        [(10**6, (True, frame(320, 240)))],
    ]
    recorder = CameraRecorder(node)
    # Lock-step is for video files: a live camera publishes as it delivers, nobody answering.
    camera = start_camera(node, executor, wait_for_topic='/results')
    try:
        assert spin_until(
            executor, lambda: any(image.width == 320 for image in recorder.images), 30.0)
        count = len(recorder.images)
        assert spin_until(executor, lambda: len(recorder.images) >= count + 5, 10.0)
        assert not camera.done.done()
    finally:
        stop_camera(executor, camera)
    err = capfd.readouterr().err
    warnings = [line for line in err.splitlines() if '[WARN]' in line]
    # Empty frames are not a lost camera; one warning per outage, not one per reopening.
    assert len(warnings) == 3 and 'dropping empty frames' in warnings[0], err
    assert all("'/dev/null' stopped delivering frames" in line for line in warnings[1:]), err
    assert err.count("recovered: receiving frames from '/dev/null'") == 2, err
    assert '[ERROR]' not in err and 'Traceback' not in err
    assert 'dropped 40' in err, err  # the stop summary counts every dropped frame
    assert scripted_camera.opened == 7
    sizes = [(image.width, image.height) for image in recorder.images]
    first_large = sizes.index((320, 240))
    # Each opening publishes at its own size; no frame of the old size after the new one.
    assert set(sizes[:first_large]) == {(160, 120)} and first_large >= 1
    assert set(sizes[first_large:]) == {(320, 240)}
    assert tuple(np.frombuffer(recorder.images[0].data, np.uint8)[:3]) == COLOUR
    stamps = [(image.header.stamp.sec, image.header.stamp.nanosec) for image in recorder.images]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
