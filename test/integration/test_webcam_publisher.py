"""webcam_publisher over real rclpy/DDS, with a generated video file standing in for a webcam.

The node runs as its console script in a subprocess; the test process subscribes like a consumer.
"""

import signal
import time

import cv2
import numpy as np
import pytest
from helper_nodes import COLOUR, CameraRecorder, stamp_of, write_video
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter as RclpyParameter
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import NodeProcess, set_parameters_atomically, spin_until
from sensor_msgs.msg import Image
from std_msgs.msg import String

CALIBRATION = """\
image_width: 160
image_height: 120
camera_name: test_camera
camera_matrix:
  rows: 3
  cols: 3
  data: [100.0, 0.0, 80.0, 0.0, 101.0, 60.0, 0.0, 0.0, 1.0]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.1, -0.2, 0.001, 0.002, 0.0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
projection_matrix:
  rows: 3
  cols: 4
  data: [99.0, 0.0, 81.0, 0.0, 0.0, 98.0, 61.0, 0.0, 0.0, 0.0, 1.0, 0.0]
"""


def check_images(recorder, width, height):
    for image in recorder.images:
        assert (image.width, image.height, image.encoding) == (width, height, 'bgr8')
        assert image.step == 3 * width and len(image.data) == 3 * width * height
    pairs = recorder.matched_infos()
    assert len(pairs) >= len(recorder.images) - 2
    for image, info in pairs:
        assert info.header == image.header
        assert (info.width, info.height) == (width, height)
    stamps = [stamp_of(image) for image in recorder.images]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    pixels = np.frombuffer(recorder.images[0].data, np.uint8).reshape(height, width, 3)
    assert np.abs(pixels[..., 1:].mean(axis=(0, 1)) - COLOUR[1:]).max() < 12  # BGR, not RGB


def test_frames_at_requested_size_and_rate(ros, tmp_path):
    node, executor = ros
    video = write_video(tmp_path / 'camera.avi', frames=40)
    recorder = CameraRecorder(node)
    with NodeProcess('webcam_publisher', device=video, width=160, height=120, fps=15.0,
                     loop_video='true', frame_id='test_cam') as camera:
        assert spin_until(executor, lambda: len(recorder.images) >= 20, 20.0), camera.finish()
        spin_until(executor, lambda: len(recorder.infos) >= len(recorder.images), 1.0)
        status, output = camera.finish(signal.SIGINT)
    assert status == 0, output
    check_images(recorder, 160, 120)
    assert recorder.images[0].header.frame_id == 'test_cam'
    info = recorder.matched_infos()[0][1]
    assert list(info.k) == [0.0] * 9 and info.distortion_model == ''  # uncalibrated
    stamps = [image.header.stamp.sec + 1e-9 * image.header.stamp.nanosec
              for image in recorder.images]
    period = np.median(np.diff(stamps))
    assert 1 / 20 <= period <= 1 / 11, period
    assert 'Traceback' not in output


def test_resizes_when_the_source_ignores_the_size(ros, tmp_path):
    node, executor = ros
    video = write_video(tmp_path / 'camera.avi', frames=40)
    # A sensor-data (best effort) subscriber, as consumers use, on a best-effort publisher.
    recorder = CameraRecorder(node, qos_profile_sensor_data)
    with NodeProcess('webcam_publisher', device=video, width=64, height=48, fps=30.0,
                     loop_video='true', qos_reliability='best_effort') as camera:
        assert spin_until(executor, lambda: len(recorder.images) >= 8, 20.0), camera.finish()
        spin_until(executor, lambda: len(recorder.infos) >= len(recorder.images), 1.0)
        status, output = camera.finish(signal.SIGINT)
    assert status == 0, output
    check_images(recorder, 64, 48)


def _set_parameter(node, executor, name, value):
    """Set a string/double parameter of webcam_publisher through its service."""
    client = node.create_client(SetParameters, '/webcam_publisher/set_parameters')
    assert spin_until(executor, client.service_is_ready, 10.0)
    if isinstance(value, str):
        param_value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
    else:
        param_value = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
    future = client.call_async(
        SetParameters.Request(parameters=[Parameter(name=name, value=param_value)]))
    assert spin_until(executor, future.done, 10.0)
    node.destroy_client(client)
    return future.result().results[0]


def test_camera_info_url_is_published_and_checked_when_changed(ros, tmp_path):
    node, executor = ros
    video = write_video(tmp_path / 'camera.avi', frames=40)
    calibration = tmp_path / 'calibration.yaml'
    calibration.write_text(CALIBRATION)
    recorder = CameraRecorder(node)
    with NodeProcess('webcam_publisher', device=video, loop_video='true',
                     camera_info_url=f'file://{calibration}') as camera:
        assert spin_until(executor, lambda: len(recorder.infos) >= 3, 20.0), camera.finish()
        info = next(iter(recorder.infos.values()))
        assert (info.width, info.height) == (160, 120)
        assert list(info.k) == [100.0, 0.0, 80.0, 0.0, 101.0, 60.0, 0.0, 0.0, 1.0]
        assert list(info.d) == [0.1, -0.2, 0.001, 0.002, 0.0]
        assert info.distortion_model == 'plumb_bob'
        assert list(info.r) == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        assert list(info.p) == [99.0, 0.0, 81.0, 0.0, 0.0, 98.0, 61.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        # A calibration that cannot be loaded is refused with the reason; a good change is not.
        result = _set_parameter(node, executor, 'camera_info_url', str(tmp_path / 'nope.yaml'))
        assert not result.successful and 'nope.yaml' in result.reason
        assert _set_parameter(node, executor, 'fps', 10.0).successful
        status, output = camera.finish(signal.SIGINT)
    assert status == 0, output
    assert 'calibration' in output and 'Traceback' not in output


def test_a_refused_change_changes_nothing_and_an_accepted_one_applies(ros, tmp_path):
    """Validation refuses a change as a whole; only a committed one is applied and logged."""
    node, executor = ros
    video = write_video(tmp_path / 'camera.avi', frames=40)
    calibration = tmp_path / 'calibration.yaml'
    calibration.write_text(CALIBRATION)
    recorder = CameraRecorder(node)

    def newest_after_change():
        """The header and camera_info of an image captured after the request was answered."""
        count = len(recorder.images)
        assert spin_until(executor, lambda: len(recorder.matched_infos()) > count + 2, 10.0)
        return recorder.matched_infos()[-1]

    def change(*parameters):
        return set_parameters_atomically(node, executor, '/webcam_publisher', list(parameters))

    with NodeProcess('webcam_publisher', device=video, loop_video='true', fps=20.0,
                     frame_id='before') as camera:
        assert spin_until(executor, lambda: len(recorder.images) >= 3, 20.0), camera.finish()
        good, missing = f'file://{calibration}', str(tmp_path / 'missing.yaml')
        refused = [
            change(RclpyParameter('frame_id', value='after'),
                   RclpyParameter('camera_info_url', value=missing)),
            # The same parameter twice: the first entry loads, the second does not.
            change(RclpyParameter('camera_info_url', value=good),
                   RclpyParameter('camera_info_url', value=missing)),
        ]
        assert [result.successful for result in refused] == [False, False]
        assert all('missing.yaml' in result.reason for result in refused)
        image, info = newest_after_change()
        assert image.header.frame_id == 'before' and list(info.k) == [0.0] * 9
        assert change(RclpyParameter('frame_id', value='after'),
                      RclpyParameter('camera_info_url', value=good)).successful
        image, info = newest_after_change()
        assert image.header.frame_id == 'after' and info.k[0] == 100.0
        status, output = camera.finish(signal.SIGINT)
    assert status == 0, output
    loaded = [line for line in output.splitlines() if 'calibration' in line]
    assert len(loaded) == 1 and 'loaded from' in loaded[0], output


def test_reconnect_opens_a_file_that_appears_later(ros, tmp_path):
    node, executor = ros
    video = tmp_path / 'later.avi'
    recorder = CameraRecorder(node)
    with NodeProcess('webcam_publisher', device=video, loop_video='true') as camera:
        assert not spin_until(executor, lambda: camera.returncode is not None, 1.5)
        assert recorder.images == []
        write_video(video, frames=20)
        assert spin_until(executor, lambda: len(recorder.images) >= 3, 15.0), camera.finish()
        status, output = camera.finish(signal.SIGINT)
    assert status == 0, output
    warnings = [line for line in output.splitlines() if '[WARN]' in line]
    assert len(warnings) == 1 and f"cannot open device '{video}'" in warnings[0], output
    assert 'retrying' in warnings[0] and 'of retrying' in output, output


def test_video_end_without_reconnect_exits_0_with_summary(tmp_path):
    video = write_video(tmp_path / 'short.avi', frames=10)
    # Nobody subscribes: the file waits wait_for_subscriber for one, then plays anyway.
    with NodeProcess('webcam_publisher', device=video, reconnect='false',
                     wait_for_subscriber=1.0) as camera:
        status, output = camera.finish(timeout=20.0)
    assert status == 0, output
    warnings = [line for line in output.splitlines() if '[WARN]' in line]
    assert len(warnings) == 1, output
    assert "still no subscriber on '/image_raw' after 1 s; starting anyway" in warnings[0]
    assert f"end of '{video}': published 10 frames" in output, output
    assert 'Traceback' not in output


def frame_number(image):
    """The number write_video wrote into the first channel of frame k: 8 k (MJPG: about)."""
    pixels = np.frombuffer(image.data, np.uint8).reshape(image.height, image.width, 3)
    return round(float(pixels[..., 0].mean()) / 8)


def test_a_video_file_waits_for_its_subscriber_and_loses_no_frame(ros, tmp_path):
    node, executor = ros
    video = write_video(tmp_path / 'clip.avi', frames=10, fps=100.0)
    with NodeProcess('webcam_publisher', device=video, reconnect='false') as camera:
        # Played at once, its 0.1 s would be over long before this subscriber came.
        assert not spin_until(executor, lambda: camera.returncode is not None, 2.0)
        recorder = CameraRecorder(node)
        assert spin_until(executor, lambda: camera.returncode is not None, 20.0)
        spin_until(executor, lambda: len(recorder.images) >= 10, 2.0)
        status, output = camera.finish()
    assert status == 0, output
    assert [frame_number(image) for image in recorder.images] == list(range(10)), output
    assert '[WARN]' not in output, output


class Consumer:
    """A model's stand-in: answers each image_raw on /results after `delay` s.

    The images numbered in `silent` (from 0) get no answer.
    """

    def __init__(self, node, delay, silent=()):
        self.node, self.delay, self.silent = node, delay, set(silent)
        self.images, self.received, self.answered, self.due = [], [], [], []
        node.create_subscription(Image, 'image_raw', self._on_image, 10)
        self.results = None
        node.create_timer(0.01, self._answer)

    def start_answering(self):
        self.results = self.node.create_publisher(String, '/results', 10)

    def _on_image(self, image):
        self.images.append(image)
        self.received.append(time.monotonic())
        if len(self.images) - 1 not in self.silent:
            self.due.append(time.monotonic() + self.delay)

    def _answer(self):
        while self.due and time.monotonic() >= self.due[0]:
            self.due.pop(0)
            self.results.publish(String(data='{}'))
            self.answered.append(time.monotonic())


def test_lock_step_waits_for_the_consumer_then_for_each_result(ros, tmp_path):
    node, executor = ros
    video = write_video(tmp_path / 'clip.avi', frames=8, fps=100.0)
    consumer = Consumer(node, delay=0.3, silent=[2])
    with NodeProcess('webcam_publisher', device=video, reconnect='false',
                     wait_for_topic='/results', wait_timeout=1.5) as camera:
        # A subscriber alone is not the consumer: no frame before /results has a publisher,
        # longer than wait_for_subscriber would bound it.
        assert not spin_until(executor, lambda: camera.returncode is not None, 3.0)
        assert consumer.images == []
        consumer.start_answering()
        assert spin_until(executor, lambda: camera.returncode is not None, 30.0)
        status, output = camera.finish()
    assert status == 0, output
    assert [frame_number(image) for image in consumer.images] == list(range(8)), output
    answers = iter(consumer.answered)
    for k in range(7):  # each next frame only after the result of the one before
        if k == 2:  # not answered: the next frame waits wait_timeout, then goes
            assert consumer.received[3] - consumer.received[2] >= 1.4
        else:
            assert consumer.received[k + 1] > next(answers), k
    warnings = [line for line in output.splitlines() if '[WARN]' in line]
    assert len(warnings) == 1, output
    assert "no message on '/results' within 1.5 s after frame 3; going on" in warnings[0]
    assert f"end of '{video}': published 8 frames" in output and '1 wait timeouts' in output


def test_missing_device_without_reconnect_exits_1_with_one_clear_line(tmp_path):
    with NodeProcess('webcam_publisher', device='/dev/video99', reconnect='false') as camera:
        status, output = camera.finish(timeout=20.0)
    assert status == 1, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert '[ERROR]' in lines[0] and "cannot open device '/dev/video99'" in lines[0]
    assert 'video devices: ' in lines[0]


def test_missing_device_with_reconnect_retries_until_sigint(ros):
    _, executor = ros
    with NodeProcess('webcam_publisher', device='/dev/video99') as camera:
        assert not spin_until(executor, lambda: camera.returncode is not None, 2.5)
        status, output = camera.finish(signal.SIGINT)
    assert status == 0, output
    lines = output.strip().splitlines()
    assert len(lines) == 2, output
    assert '[WARN]' in lines[0] and '/dev/video99' in lines[0] and 'retrying' in lines[0]
    assert 'interrupted: published 0 frames' in lines[1]


class FakeCamera:
    """Stands in for cv2.VideoCapture of a USB camera that can be unplugged.

    Each opening takes the next entry of ``script``: None = the device cannot be opened, an int
    = that many 160x120 frames (about 100 per second) and then read() fails, as when the cable
    is pulled.
    """

    script = []
    opened = 0

    def __init__(self, *args):
        FakeCamera.opened += 1
        self.frames = FakeCamera.script.pop(0) if FakeCamera.script else 10**6

    def isOpened(self):  # noqa: N802 - the OpenCV name
        return self.frames is not None

    def set(self, prop, value):
        return True

    def get(self, prop):
        return {cv2.CAP_PROP_FRAME_WIDTH: 160, cv2.CAP_PROP_FRAME_HEIGHT: 120}.get(prop, 0.0)

    def getBackendName(self):  # noqa: N802 - the OpenCV name
        return 'FAKE'

    def read(self):
        time.sleep(0.01)
        if not self.frames:
            return False, None
        self.frames -= 1
        return True, np.full((120, 160, 3), COLOUR, np.uint8)

    def release(self):
        pass


@pytest.mark.parametrize('reconnect', [True, False])
def test_camera_that_drops_out_is_reopened_only_with_reconnect(
        ros, monkeypatch, capfd, reconnect):
    from instance_segmentation_ros.ros.webcam_publisher import WebcamPublisher

    node, executor = ros
    monkeypatch.setattr(FakeCamera, 'script', [5, None, None])
    monkeypatch.setattr(FakeCamera, 'opened', 0)
    monkeypatch.setattr(cv2, 'VideoCapture', FakeCamera)
    recorder = CameraRecorder(node)
    camera = WebcamPublisher(context=node.context, parameter_overrides=[
        RclpyParameter('device', value='/dev/null'),  # exists, so it is tried as a camera
        RclpyParameter('reconnect', value=reconnect),
    ])
    executor.add_node(camera)
    try:
        if reconnect:
            # 5 frames, pulled out, a failed reopening (V4L2, then the default backend), then
            # frames again: 0.5 + 1 s of backoff.
            assert spin_until(executor, lambda: FakeCamera.opened >= 4, 10.0)
            assert spin_until(executor, lambda: len(recorder.images) >= 8, 5.0)
            assert not camera.done.done()
        else:
            assert spin_until(executor, camera.done.done, 5.0)
            assert camera.done.result() == 1 and FakeCamera.opened == 1
    finally:
        executor.remove_node(camera)
        camera.close()
    log = capfd.readouterr().err
    warnings = [line for line in log.splitlines() if '[WARN]' in line]
    if reconnect:
        assert len(warnings) == 1 and "'/dev/null' stopped delivering frames" in warnings[0], log
        assert "recovered: receiving frames from '/dev/null'" in log, log
    else:
        assert warnings == [], log
        assert '[ERROR]' in log and "'/dev/null' stopped delivering frames" in log, log
