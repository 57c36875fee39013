"""Tracking in segmentation_lifecycle_node over real DDS: transitions, run-time parameters, 3D.

One lifecycle node (a tiny colour model, `tracking.enabled`, `depth.enabled`, `every_frame`)
serves every test. Each test starts from a deactivate and an activate, which drop the tracks, as
the first test shows. The scene is a red disc (person, detected first) and a green rectangle
(car), each exactly detected; parts are painted over to take an object out of a frame. Every
frame is published once and its outputs awaited, so that the tracker sees each stamp once.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tiny_models
from lifecycle_harness import LifecycleHarness
from rclpy.parameter import Parameter
from ros_helpers import Collector, wait_for
from sensor_msgs.msg import CameraInfo, Image

from instance_segmentation_ros.core.depth_outputs import UNCONFIRMED_MARKER_ID
from instance_segmentation_ros.core.image_conversion import fill_image_msg
from instance_segmentation_ros.ros import depth_msgs, detection_msgs

NAMESPACE = '/tracking_lifecycle'
PERSON, CAR = 1, 3  # the tiny model's class ids of the disc and the rectangle
STEP_S = 0.25  # between frames, well within tracking.max_age's default 1 s
RESULT_TIMEOUT = 60.0  # s: only bounds a hang
FX = 300.0
GREY = 128  # no colour of the tiny model's classes


@pytest.fixture(scope='module')
def scene():
    """Images of the scene: both objects, only the car, nothing."""
    rgb, truth = tiny_models.draw_scene(seed=0)
    without_person, empty = rgb.copy(), rgb.copy()
    without_person[truth[PERSON]] = GREY
    empty[truth[PERSON] | truth[CAR]] = GREY
    return {'both': rgb, 'car': without_person, 'empty': empty}


class TrackingNode:
    """The lifecycle node, active, fed colour and depth; what it publishes, by stamp."""

    def __init__(self, harness: LifecycleHarness):
        self.harness = harness
        client, prefix = harness.client, NAMESPACE + '/'
        self.depth = client.create_publisher(Image, prefix + 'depth/image', 10)
        self.camera_info = client.create_publisher(CameraInfo, prefix + 'depth/camera_info', 10)
        self.detections, self.detections_3d, self.markers = Collector(), Collector(), Collector()
        self._outputs = [harness.own.json_subscription]
        if detection_msgs.AVAILABLE:
            self._outputs += [
                client.create_subscription(detection_msgs.Detection2DArray, prefix + 'detections',
                                           self.detections, 10),
                client.create_subscription(detection_msgs.Detection3DArray,
                                           prefix + 'detections_3d', self.detections_3d, 10)]
        if depth_msgs.MARKERS_AVAILABLE:
            self._outputs.append(client.create_subscription(
                depth_msgs.MarkerArray, prefix + 'markers', self.markers, 10))
        self._inputs = [harness.publisher, self.depth, self.camera_info]

    def _matched(self) -> bool:
        return (all(s.get_publisher_count() > 0 for s in self._outputs)
                and all(p.get_subscription_count() > 0 for p in self._inputs))

    def _unmatched(self) -> bool:
        return (not any(s.get_publisher_count() for s in self._outputs)
                and not any(p.get_subscription_count() for p in self._inputs))

    def reactivate(self):
        """Deactivate and activate again; wait until every input and output is matched anew."""
        assert self.harness.change('deactivate') and self.harness.state == 'inactive'
        assert wait_for(self._unmatched, timeout=30)
        self.activate()

    def activate(self):
        assert self.harness.change('activate') and self.harness.state == 'active'
        assert wait_for(self._matched, timeout=30)

    def accepts(self, values: dict) -> bool:
        """Set parameters (name -> value) through the parameter service: whether each was taken."""
        return all(result.successful for result in self.harness.set(
            *[Parameter(name, value=value) for name, value in values.items()]))

    def frame(self, rgb: np.ndarray, stamp_s: float) -> list[dict]:
        """Publish one frame (its depth first); the detections of its detections_json."""
        sec, nanosec = to_stamp(stamp_s)
        colour = fill_image_msg(Image(), rgb[..., ::-1].copy(), 'bgr8')
        colour.header.stamp.sec, colour.header.stamp.nanosec = sec, nanosec
        colour.header.frame_id = 'tracking_camera'
        self.camera_info.publish(camera_info(colour))
        self.depth.publish(flat_depth(colour))
        wait_for(lambda: False, timeout=0.2)  # the depth is in before the colour frame
        self.harness.publisher.publish(colour)

        def result():
            for message in list(self.harness.json.messages):
                data = json.loads(message.data)
                if (data['header']['stamp']['sec'], data['header']['stamp']['nanosec']) == (
                        sec, nanosec):
                    return data
            return None

        assert wait_for(lambda: result() is not None, timeout=RESULT_TIMEOUT), stamp_s
        return result()['detections']

    def track_ids(self, rgb: np.ndarray, stamp_s: float) -> list[int | None]:
        """The track ids of one frame's detections, in detection order."""
        return [entry['track_id'] for entry in self.frame(rgb, stamp_s)]


def camera_info(colour: Image) -> CameraInfo:
    info = CameraInfo(header=colour.header, width=colour.width, height=colour.height)
    info.k = [FX, 0.0, (colour.width - 1) / 2, 0.0, FX, (colour.height - 1) / 2, 0.0, 0.0, 1.0]
    return info


def flat_depth(colour: Image) -> Image:
    """A wall 2 m away, in mm, aligned with `colour`: every instance gets a 3D position."""
    depth = np.full((colour.height, colour.width), 2000, np.uint16)
    return Image(header=colour.header, height=colour.height, width=colour.width,
                 encoding='16UC1', step=colour.width * 2, data=depth.tobytes())


def to_stamp(stamp_s: float) -> tuple[int, int]:
    """(sec, nanosec) of a stamp in seconds."""
    return int(stamp_s), round((stamp_s - int(stamp_s)) * 1e9)


def stamps(start: float, count: int) -> list[float]:
    return [start + index * STEP_S for index in range(count)]


@pytest.fixture(scope='module')
def node(tmp_path_factory):
    model = tiny_models.export_tf2_od_saved_model(str(tmp_path_factory.mktemp('m') / 'model'))
    harness = LifecycleHarness(model, NAMESPACE, [
        '-p', 'tracking.enabled:=true', '-p', 'depth.enabled:=true',
        '-p', 'processing_mode:=every_frame'])
    try:
        assert harness.change('configure')
        tracking = TrackingNode(harness)
        tracking.activate()
        yield tracking
    finally:
        harness.close()


@pytest.fixture
def tracks(node):
    """The node with no tracks: deactivated and activated again."""
    node.reactivate()
    return node


def test_deactivate_drops_the_tracks_and_ids_start_again_at_1(tracks, scene):
    both, empty = scene['both'], scene['empty']
    # The first tracks, then, after a gap longer than tracking.max_age, new ones: ids 3 and 4.
    before = [tracks.track_ids(both, stamp) for stamp in stamps(10.0, 2)]
    assert tracks.track_ids(empty, 10.5) == []
    before += [tracks.track_ids(both, stamp) for stamp in stamps(12.0, 3)]
    assert before == [[None, None], [1, 2], [None, None], [3, 4], [3, 4]]
    tracks.reactivate()
    # The same scene, a frame later: no old track goes on, and ids count from 1 again.
    after = [tracks.track_ids(both, stamp) for stamp in stamps(12.75, 3)]
    assert after == [[None, None], [1, 2], [1, 2]]


def test_a_classes_change_keeps_the_tracks_of_the_classes_that_stay(tracks, scene):
    both = scene['both']
    assert [tracks.track_ids(both, stamp) for stamp in stamps(20.0, 2)] == [[None, None], [1, 2]]
    try:
        assert tracks.accepts({'classes': ['car']})
        cars = [tracks.frame(both, stamp) for stamp in stamps(20.5, 2)]
        assert [[(entry['category_id'], entry['track_id']) for entry in frame]
                for frame in cars] == [[(CAR, 2)], [(CAR, 2)]]
        # The person's track lives on for tracking.max_age: back within it, with its id.
        assert tracks.accepts({'classes': []})
        assert [tracks.track_ids(both, stamp) for stamp in stamps(21.0, 2)] == [[1, 2], [1, 2]]
        # Dropped for longer than tracking.max_age, the person comes back as a new track.
        assert tracks.accepts({'classes': ['car']})
        cars = [tracks.track_ids(both, stamp) for stamp in stamps(21.5, 6)]
        assert cars == [[2]] * 6
        assert tracks.accepts({'classes': []})
        assert [tracks.track_ids(both, stamp) for stamp in stamps(23.0, 2)] == [[None, 2], [3, 2]]
    finally:
        tracks.accepts({'classes': []})


def test_min_hits_and_max_age_set_at_run_time_apply_from_the_next_frame(tracks, scene):
    both, car, empty = scene['both'], scene['car'], scene['empty']
    try:
        # min_hits 4: a new object has no id for its first 3 frames (2 by default).
        assert tracks.accepts({'tracking.min_hits': 4})
        ids = [tracks.track_ids(car, stamp) for stamp in stamps(30.0, 2)]
        assert tracks.accepts({'tracking.min_hits': 2})
        ids += [tracks.track_ids(car, stamp) for stamp in stamps(30.5, 1)]
        assert ids == [[None], [None], [1]]  # min_hits 2 at the 3rd detection: confirmed
        assert tracks.accepts({'tracking.min_hits': 4})
        ids = [tracks.track_ids(both, stamp) for stamp in stamps(30.75, 5)]
        assert ids == [[None, 1], [None, 1], [None, 1], [2, 1], [2, 1]]
        # A frame without the objects: 0.5 s unseen keeps the ids under max_age 1 s ...
        assert tracks.accepts({'tracking.min_hits': 2})
        assert tracks.track_ids(empty, 32.0) == []
        assert tracks.track_ids(both, 32.25) == [2, 1]
        # ... and retires them under max_age 0.3 s: new tracks, new ids.
        assert tracks.accepts({'tracking.max_age': 0.3})
        assert tracks.track_ids(empty, 32.5) == []
        ids = [tracks.track_ids(both, stamp) for stamp in stamps(32.75, 2)]
        assert ids == [[None, None], [3, 4]]
    finally:
        tracks.accepts({'tracking.min_hits': 2, 'tracking.max_age': 1.0})


def test_a_tracking_value_set_while_inactive_applies_from_the_next_activate(node, scene):
    assert node.harness.change('deactivate') and node.harness.state == 'inactive'
    try:
        assert node.accepts({'tracking.min_hits': 3})
        node.activate()
        ids = [node.track_ids(scene['both'], stamp) for stamp in stamps(50.0, 3)]
        assert ids == [[None, None], [None, None], [1, 2]]
    finally:
        node.accepts({'tracking.min_hits': 2})


@pytest.mark.parametrize('name, value, reason', [
    ('tracking.min_hits', 0, 'out of range'),
    ('tracking.max_age', -1.0, 'out of range'),
    ('tracking.max_age', math.nan, 'out of range'),
    ('tracking.min_iou', 0.0, 'out of range'),
    ('tracking.min_hits', 2.5, 'type'),
    ('tracking.enabled', False, 'read-only'),
])
def test_a_tracking_value_that_cannot_work_is_refused_with_the_reason(node, name, value, reason):
    before = node.harness.node.get_parameter(name).value
    (result,) = node.harness.set(Parameter(name, value=value))
    assert not result.successful and reason in result.reason.lower(), result.reason
    assert node.harness.node.get_parameter(name).value == before


@pytest.mark.skipif(not (detection_msgs.AVAILABLE and depth_msgs.MARKERS_AVAILABLE),
                    reason='vision_msgs or visualization_msgs is not installed')
def test_detections_3d_and_markers_carry_the_track_ids_of_the_frame(tracks, scene):
    frames = [(stamp, tracks.frame(scene['both'], stamp)) for stamp in stamps(40.0, 3)]
    assert [[entry['track_id'] for entry in detections] for _, detections in frames] == [
        [None, None], [1, 2], [1, 2]]
    for stamp, detections in frames:
        track_ids = [entry['track_id'] for entry in detections]
        assert all('centroid' in entry for entry in detections), detections  # in 3D
        array_2d = wait_for_stamp(tracks.detections, stamp)
        array_3d = wait_for_stamp(tracks.detections_3d, stamp)
        markers = wait_for_stamp(tracks.markers, stamp, lambda array: array.markers[0].header)
        ids = [str(track_id) if track_id else '' for track_id in track_ids]
        assert [detection.id for detection in array_2d.detections] == ids
        assert [detection.id for detection in array_3d.detections] == ids
        marker_ids = [track_id or UNCONFIRMED_MARKER_ID + number
                      for number, track_id in enumerate(track_ids, start=1)]
        boxes = [marker for marker in markers.markers if marker.ns == 'boxes']
        labels = [marker for marker in markers.markers if marker.ns == 'labels']
        assert [marker.id for marker in boxes] == marker_ids
        assert [marker.id for marker in labels] == marker_ids
        assert [label.text.rsplit(' ', 1)[0] for label in labels] == [
            f'{entry["category_name"]} #{entry["track_id"]}' if entry['track_id']
            else entry['category_name'] for entry in detections]


def wait_for_stamp(collector: Collector, stamp_s: float, header_of=lambda m: m.header):
    """The message of `collector` whose header (`header_of` it) has this stamp, once it came."""
    stamp = to_stamp(stamp_s)

    def found():
        return next((m for m in list(collector.messages)
                     if (header_of(m).stamp.sec, header_of(m).stamp.nanosec) == stamp), None)

    assert wait_for(lambda: found() is not None, timeout=RESULT_TIMEOUT), stamp_s
    return found()
