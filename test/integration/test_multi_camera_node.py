"""segmentation_node with several cameras and one model (`cameras`), over real DDS.

One node in this process serves four cameras: `front`, `rear` and `idle` under its namespace and
`/rig/top` (absolute), each with its own frame_id and image size; `idle` never publishes. A
client feeds the others at their own rates from one thread, every frame with a stamp no other
frame of the module has, so that each output is traced back to the camera and frame it came
from. The model costs MODEL_S per call: with three cameras publishing, each always has a frame
waiting by its turn, which the fairness test needs. Counts, not times, decide, except where
the property is about time (the model stage kept busy).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass

import pytest
import tiny_models
from diagnostic_msgs.msg import DiagnosticStatus
from node_harness import Harness, camera_prefix, refused_start, scene_message
from ros_helpers import wait_for
from std_msgs.msg import String

from instance_segmentation_ros.ros import detection_msgs
from instance_segmentation_ros.ros.adaptive_input import NO_FRAME_WARNING_S

NAMESPACE = '/multi'
NODE_NAME = 'segmentation_node'
MODEL_S = 0.1  # every model call costs this much wall time (a busy loop in the tiny model)
RESULTS_TIMEOUT = 60.0  # s: only bounds a hang; the tests wait for counts


@dataclass(frozen=True)
class Camera:
    frame_id: str
    height: int
    width: int


CAMERAS = {
    'front': Camera('front_optical_frame', 240, 320),
    'rear': Camera('rear_optical_frame', 192, 256),
    '/rig/top': Camera('top_optical_frame', 120, 160),
    'idle': Camera('idle_optical_frame', 240, 320),  # a publisher that never sends
}
IDLE = 'idle'
OUTPUTS = ('masks', 'masks/compressed', 'detections_json', 'overlay', 'overlay/compressed',
           'detections', 'label_info')  # each camera's, the last two where vision_msgs is


def idle_as_expected(status: dict) -> bool:
    """The idle camera's status: waiting, then a warning once its publisher sent nothing long."""
    if status['values']['frames_received'] != '0':
        return False
    if status['level'] == ord(DiagnosticStatus.OK):
        return status['message'] == 'waiting for images'
    return status['level'] == ord(DiagnosticStatus.WARN) and status['message'].startswith(
        'no frame in ') and status['message'].endswith('idle/image, though matched')


def status_name(camera: str) -> str:
    return f'{NODE_NAME}: segmentation {camera}'


class Rig:
    """The multi-camera node, its client, and every frame the client sent to it.

    `camera_of` maps each stamp (sec, nanosec) sent in the module to its camera; the seconds
    count up across all cameras, the nanoseconds are the camera's number.
    """

    def __init__(self, model_path: str):
        self.harness = Harness(model_path, namespace=NAMESPACE, cameras=list(CAMERAS))
        self.topics = self.harness.cameras
        self.camera_of: dict[tuple[int, int], str] = {}
        self.sent = Counter()
        self._next_sec = 1
        self._lock = threading.Lock()
        self._templates = {}
        for number, (name, camera) in enumerate(CAMERAS.items(), start=1):
            message = scene_message(0, height=camera.height, width=camera.width, seed=number)[0]
            message.header.frame_id = camera.frame_id
            message.header.stamp.nanosec = number
            self._templates[name] = message

    def publish(self, camera: str) -> tuple[int, int]:
        """Publish the camera's next frame; its stamp."""
        message = self._templates[camera]
        with self._lock:
            stamp = (self._next_sec, message.header.stamp.nanosec)
            self._next_sec += 1
            self.camera_of[stamp] = camera
            self.sent[camera] += 1
        message.header.stamp.sec = stamp[0]
        self.topics[camera].publisher.publish(message)  # serialised here: the template is free
        return stamp

    def statuses(self, array) -> dict[str, dict]:
        """The array's statuses of this node's cameras: camera -> level, message and values."""
        names = {status_name(camera): camera for camera in CAMERAS}
        return {names[status.name]: {'level': ord(status.level), 'message': status.message,
                                     'values': {kv.key: kv.value for kv in status.values}}
                for status in array.status if status.name in names}

    def diagnostics(self) -> list[dict[str, dict]]:
        """Every diagnostics array of this node heard so far, as `statuses`."""
        return [s for s in map(self.statuses, list(self.harness.diagnostics.messages)) if s]

    def close(self):
        self.harness.close()


class Feeds:
    """Cameras publishing at their own rates (Hz) from one thread while in the `with` block.

    A camera late for a frame (a busy machine) publishes it at once and keeps its period from
    there: never a burst. `sent[camera]` are the stamps this feed sent.
    """

    def __init__(self, rig: Rig, rates: dict[str, float]):
        self.rig, self.rates = rig, rates
        self.sent = {camera: [] for camera in rates}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        due = dict.fromkeys(self.rates, time.monotonic())
        while not self._stop.is_set():
            camera = min(due, key=due.get)
            delay = due[camera] - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
                continue
            self.sent[camera].append(self.rig.publish(camera))
            due[camera] = max(due[camera] + 1.0 / self.rates[camera], time.monotonic())

    def results(self, camera: str) -> list[dict]:
        """The detections_json results on the camera's topic for frames of this feed, in order."""
        mine = set(self.sent.get(camera, ()))
        data = (json.loads(m.data) for m in list(self.rig.topics[camera].json.messages))
        return [d for d in data if stamp_of(d['header']) in mine]

    def counts(self) -> dict[str, int]:
        return {camera: len(self.results(camera)) for camera in self.rates}

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


def stamp_of(header) -> tuple[int, int]:
    if isinstance(header, dict):
        return header['stamp']['sec'], header['stamp']['nanosec']
    return header.stamp.sec, header.stamp.nanosec


@pytest.fixture(scope='module')
def model_path(tmp_path_factory):
    return tiny_models.export_tf2_od_saved_model(
        str(tmp_path_factory.mktemp('timed') / 'model'), compute_seconds=MODEL_S)


@pytest.fixture(scope='module')
def rig(model_path):
    rig = Rig(model_path)
    yield rig
    rig.close()


TOTALS = ('frames_received', 'frames_processed', 'frames_dropped')


def settle(rig: Rig):
    """Wait until the node has published what it will for the frames sent so far.

    Two diagnostics periods in a row with the same totals, and nothing pending (received =
    processed + dropped for every camera).
    """
    def totals(array):
        return {camera: tuple(int(status['values'][key]) for key in TOTALS)
                for camera, status in array.items()}

    def quiet():
        arrays = rig.diagnostics()
        return len(arrays) >= 2 and totals(arrays[-1]) == totals(arrays[-2]) and all(
            received == processed + dropped
            for received, processed, dropped in totals(arrays[-1]).values())

    assert wait_for(quiet, timeout=RESULTS_TIMEOUT, interval=0.2), rig.diagnostics()[-2:]


def test_each_camera_gets_results_for_its_own_frames_only(rig):
    rates = {'front': 30.0, 'rear': 15.0, '/rig/top': 5.0}
    with Feeds(rig, rates) as feeds:
        assert wait_for(lambda: all(
            len(feeds.results(camera)) >= 3
            and all(len(c) for c in rig.topics[camera].outputs().values())
            for camera in rates), timeout=RESULTS_TIMEOUT, interval=0.1), feeds.counts()
    settle(rig)

    client = rig.harness.client
    for name in CAMERAS:
        for topic in OUTPUTS[:5] + (OUTPUTS[5:] if detection_msgs.AVAILABLE else ()):
            assert client.count_publishers(camera_prefix(NAMESPACE, name) + topic) == 1, topic
    for name, camera in CAMERAS.items():
        outputs = rig.topics[name].outputs()
        mine = {stamp for stamp, sender in rig.camera_of.items() if sender == name}
        for topic, collector in outputs.items():
            for message in list(collector.messages):
                header = json.loads(message.data)['header'] if topic == 'detections_json' \
                    else message.header
                frame_id = header['frame_id'] if isinstance(header, dict) else header.frame_id
                where = f'{camera_prefix(NAMESPACE, name)}{topic}'
                assert frame_id == camera.frame_id, (where, frame_id)
                assert stamp_of(header) in mine, (where, stamp_of(header),
                                                  rig.camera_of.get(stamp_of(header)))
                if topic in ('masks', 'overlay'):
                    assert (message.height, message.width) == (camera.height, camera.width)
        for data in map(json.loads, (m.data for m in list(rig.topics[name].json.messages))):
            assert (data['height'], data['width']) == (camera.height, camera.width), name
            assert [d['category_name'] for d in data['detections']] == ['person', 'car']
    assert all(not len(c) for c in rig.topics[IDLE].outputs().values())
    # The namespace's own single-camera topics are not there with `cameras`.
    own = rig.harness.own
    assert own.publisher.get_subscription_count() == 0
    assert own.json_subscription.get_publisher_count() == 0
    assert not len(own.json) and not len(own.masks) and not len(own.overlay)


# Why these numbers. N = 3 cameras publish, two at 30 Hz and one at 5 Hz, into a model of
# MODEL_S = 0.1 s per call. In fair turns each camera's turn comes back after the other two
# calls, at least 0.2 s later, and a new 5 Hz frame has come by then (a 0.2 s period; a busy
# machine only stretches the calls), so each camera gets about 1/3 of the calls. A single
# newest-frame slot shared by the cameras would give the model whichever frame came last before
# it was free: shares in proportion to arrivals, 5 / 65 = 0.08 for the 5 Hz camera, half the
# bound 1 / (2N) = 0.17 checked here. Over WINDOW = 48 calls that is an expected 3.7 calls
# against the 8 needed (a binomial tail of about 2 %), where fair turns give 16.
WINDOW = 48


def test_a_fast_camera_does_not_starve_a_slow_one(rig):
    rates = {'front': 30.0, 'rear': 30.0, '/rig/top': 5.0}
    with Feeds(rig, rates) as feeds:
        assert wait_for(lambda: all(feeds.counts().values()), timeout=RESULTS_TIMEOUT,
                        interval=0.1), feeds.counts()
        start = feeds.counts()
        assert wait_for(lambda: sum(feeds.counts().values()) - sum(start.values()) >= WINDOW,
                        timeout=RESULTS_TIMEOUT, interval=0.1), feeds.counts()
        end = feeds.counts()
    calls = {camera: end[camera] - start[camera] for camera in rates}
    shares = {camera: n / sum(calls.values()) for camera, n in calls.items()}
    assert min(shares.values()) >= 1 / (2 * len(rates)), calls


def test_a_silent_camera_does_not_slow_the_others(rig):
    """`/rig/top` and `idle` are configured but silent: the model serves the other two only.

    The model stage stays busy: the model time of the results in a window (their
    inference_ms) fills most of its wall time. A node that waited for the silent cameras'
    turns (a timeout each) would leave the model idle most of the time.
    """
    rates = {'front': 30.0, 'rear': 30.0}
    with Feeds(rig, rates) as feeds:
        assert wait_for(lambda: all(feeds.counts().values()), timeout=RESULTS_TIMEOUT,
                        interval=0.1), feeds.counts()
        before = feeds.counts()
        started = time.monotonic()
        assert wait_for(lambda: sum(feeds.counts().values()) - sum(before.values()) >= 30,
                        timeout=RESULTS_TIMEOUT, interval=0.05), feeds.counts()
        elapsed = time.monotonic() - started
        window = [data for camera in rates for data in feeds.results(camera)[before[camera]:]]
        silent_outputs = {c: len(rig.topics[c].json) for c in ('/rig/top', IDLE)}
        arrays = rig.diagnostics()
    busy = sum(data['inference_ms'] for data in window) / 1000.0 / elapsed
    senders = Counter(rig.camera_of[stamp_of(data['header'])] for data in window)
    counts = {camera: senders[camera] for camera in rates}
    assert busy >= 0.8, (busy, len(window), elapsed)
    assert min(counts.values()) >= len(window) / 4, counts  # and the two take turns
    time.sleep(0.5)
    assert {c: len(rig.topics[c].json) for c in silent_outputs} == silent_outputs
    assert all(not len(c) for c in rig.topics[IDLE].outputs().values())

    assert idle_as_expected(arrays[-1][IDLE]), arrays[-1][IDLE]
    # While only front and rear publish, they share every call of a period.
    last = arrays[-1]
    assert float(last[IDLE]['values']['model_share']) == 0.0
    assert float(last['front']['values']['model_share']) + float(
        last['rear']['values']['model_share']) == pytest.approx(1.0, abs=0.03), last


def test_diagnostics_give_each_camera_its_own_status_and_counts(rig):
    rates = {'front': 30.0, 'rear': 15.0, '/rig/top': 5.0}
    with Feeds(rig, rates) as feeds:
        assert wait_for(lambda: all(feeds.counts().values()), timeout=RESULTS_TIMEOUT,
                        interval=0.1), feeds.counts()
        first = len(rig.diagnostics())
        # Three periods begun and ended while all three cameras publish.
        assert wait_for(lambda: len(rig.diagnostics()) >= first + 4, timeout=RESULTS_TIMEOUT,
                        interval=0.1)
        during = rig.diagnostics()[first + 1:]
    settle(rig)
    last = rig.diagnostics()[-1]

    assert set(last) == set(CAMERAS), last.keys()
    for array in during:
        shares = {camera: float(status['values']['model_share'])
                  for camera, status in array.items()}
        assert sum(shares.values()) == pytest.approx(1.0, abs=0.03), shares
        assert shares[IDLE] == 0.0 and min(shares[c] for c in rates) > 0.0, shares
    for camera, status in last.items():
        values = status['values']
        assert values['camera'] == camera
        assert values['image_topic'] == camera_prefix(NAMESPACE, camera) + 'image'
        assert {'rate_hz', 'inference_ms', 'latency_ms', 'frames_processed', 'frames_dropped',
                'frames_rejected', 'model_share'} <= values.keys()
        received, processed, dropped = (int(values[key]) for key in (
            'frames_received', 'frames_processed', 'frames_dropped'))
        # Totals since start: what this camera sent in the whole module (a frame may be lost
        # to DDS on a busy machine, so up to a tenth fewer), and each frame processed or
        # replaced by a newer one of the same camera.
        assert 0.9 * rig.sent[camera] <= received <= rig.sent[camera], (camera, values)
        assert received == processed + dropped, (camera, values)
        assert values['frames_rejected'] == '0'
        assert processed >= len(rig.topics[camera].json) >= 0.9 * processed, (camera, values)
    assert idle_as_expected(last[IDLE]), last[IDLE]
    # However busy the model was with the other cameras' frames, none of the idle camera's was
    # in flight: its publisher, matched and silent, is a warning in its own status.
    assert wait_for(lambda: rig.diagnostics()[-1][IDLE]['level'] == ord(DiagnosticStatus.WARN),
                    timeout=NO_FRAME_WARNING_S + RESULTS_TIMEOUT, interval=0.2)
    assert idle_as_expected(rig.diagnostics()[-1][IDLE])


@pytest.mark.parametrize('cameras, words', [
    ('[front, rear, front]', ['cameras', 'front']),
    ("[front, '']", ['cameras', 'empty']),
    ('[front, cam-1]', ['cameras', 'cam-1']),
    ('[2nd]', ['cameras', '2nd']),
    ('[front, /front]', ['cameras', "'front'", "'/front'", '/front/image']),
], ids=['duplicate', 'empty', 'invalid-character', 'starts-with-a-digit', 'same-topics'])
def test_unusable_cameras_refuse_to_start_with_one_line(cameras, words):
    error = refused_start(f'cameras:={cameras}')
    assert all(word in error for word in words), error


def test_an_explicitly_empty_camera_list_keeps_the_single_camera_topics(model_path):
    """`cameras: []`, as a parameters file may give it, is the one camera of `image`."""
    harness = Harness(model_path, namespace='/single', extra_args=['-p', 'cameras:=[]'])
    try:
        message = scene_message(7)[0]
        data = harness.segment(message, timeout=30)
        assert wait_for(lambda: any(s.hardware_id == '/single/segmentation_node'
                                    for a in list(harness.diagnostics.messages)
                                    for s in a.status))
        statuses = [s for a in list(harness.diagnostics.messages) for s in a.status
                    if s.hardware_id == '/single/segmentation_node']
    finally:
        harness.close()
    assert data['header']['frame_id'] == 'test_camera'
    assert [d['category_name'] for d in data['detections']] == ['person', 'car']
    assert {s.name for s in statuses} == {f'{NODE_NAME}: segmentation'}


def test_every_frame_serves_the_cameras_in_one_queue_in_arrival_order(model_path):
    """processing_mode every_frame: every frame of every camera, first come first served.

    A burst from `a` is all in the queue before a burst from `b` comes: fair turns would
    interleave b's frames with a's (b's first result after a's first two), one queue gives all
    of a's results first.
    """
    harness = Harness(model_path, namespace='/fifo', cameras=['a', 'b'],
                      extra_args=['-p', 'processing_mode:=every_frame'])
    order = []  # (camera, stamp sec) of each result, as they came, from both cameras' topics

    def record(camera):
        return lambda m: order.append((camera, json.loads(m.data)['header']['stamp']['sec']))

    subscriptions = [harness.client.create_subscription(
        String, f'/fifo/{camera}/detections_json', record(camera), 10) for camera in 'ab']
    burst = 8  # within the publisher's history of 10: none is lost before the node has it
    sent = {'a': list(range(100, 100 + burst)), 'b': list(range(200, 200 + burst))}
    try:
        assert wait_for(lambda: all(s.get_publisher_count() for s in subscriptions))
        message = scene_message(0)[0]
        for number, camera in enumerate('ab', start=1):
            for sec in sent[camera]:
                message.header.stamp.sec = sec
                harness.cameras[camera].publisher.publish(message)
            # The whole burst is in the node's queue before the next camera's comes.
            assert wait_for(lambda n=number: harness.node.pipeline.figures.received >= n * burst)
        assert wait_for(lambda: len(order) >= 2 * burst, timeout=RESULTS_TIMEOUT), order
    finally:
        harness.close()
    for camera in 'ab':
        assert [sec for c, sec in order if c == camera] == sent[camera]
    # One queue: no b before the last a. (Results come a model call apart, 0.1 s; a single
    # swap of two neighbours on their way to this client would be DDS, not the node.)
    assert [c for c, _ in order[burst - 1:burst + 1]] in (['a', 'b'], ['b', 'a']), order
    assert [c for c, _ in order[:burst - 1]] == ['a'] * (burst - 1), order
