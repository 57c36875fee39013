"""segmentation_node over real DDS, driven by tiny exported models of every format."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tiny_models
from captions import has_caption
from diagnostic_msgs.msg import DiagnosticStatus
from node_harness import NAMESPACE, Harness, find_by_stamp, refused_start, scene_message
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from ros_helpers import (
    Collector,
    SpinningGraph,
    start_process,
    stop_process,
    wait_for,
    wait_future,
)
from sensor_msgs.msg import Image
from std_msgs.msg import String

from instance_segmentation_ros.core.image_conversion import image_msg_to_bgr
from instance_segmentation_ros.core.render import class_colour
from instance_segmentation_ros.engine.pipeline import StagePolicy
from instance_segmentation_ros.ros import detection_msgs
from instance_segmentation_ros.ros.adaptive_input import NO_PUBLISHER_NOTICE_S

FORMATS = {
    'tf2_od_api': lambda path: tiny_models.export_tf2_od_saved_model(path),
    'tf1_frozen_graph': lambda path: tiny_models.export_tf1_frozen_graph(path + '.pb'),
    'tf1_od_api': lambda path: tiny_models.export_tf1_saved_model(path),
    'model_garden': lambda path: tiny_models.export_model_garden(path),
}
CLASS_NAMES = {1: 'person', 3: 'car'}
SLOW_MODEL_S = 1.0


@pytest.fixture(scope='module')
def model_paths(tmp_path_factory):
    root = tmp_path_factory.mktemp('models')
    return {name: export(str(root / name)) for name, export in FORMATS.items()}


@pytest.fixture(scope='module')
def slow_model_path(tmp_path_factory):
    """A model whose every call takes SLOW_MODEL_S of real compute."""
    return tiny_models.export_tf2_od_saved_model(
        str(tmp_path_factory.mktemp('slow') / 'model'), compute_seconds=SLOW_MODEL_S)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


@pytest.fixture
def harness(model_paths):
    harness = Harness(model_paths['tf2_od_api'])
    yield harness
    harness.close()


@pytest.mark.parametrize('model_format', list(FORMATS))
def test_each_model_format_end_to_end(model_paths, model_format):
    harness = Harness(model_paths[model_format])
    try:
        message, rgb, truth = scene_message(stamp_sec=100)
        data = harness.segment(message)
        assert wait_for(lambda: find_by_stamp(harness.masks, 100) is not None
                        and find_by_stamp(harness.overlay, 100) is not None)
        masks_msg = find_by_stamp(harness.masks, 100)
        overlay_msg = find_by_stamp(harness.overlay, 100)
    finally:
        harness.close()

    # Every output carries the input header.
    for output in (masks_msg, overlay_msg):
        assert output.header.stamp.sec == 100 and output.header.stamp.nanosec == 1234
        assert output.header.frame_id == 'test_camera'
    assert data['header'] == {'stamp': {'sec': 100, 'nanosec': 1234}, 'frame_id': 'test_camera'}
    assert (data['height'], data['width']) == (240, 320)

    # Two instances with the right classes; masks match the drawn shapes.
    assert masks_msg.encoding == 'mono8'
    labels = image_msg_to_bgr(masks_msg)[..., 0]
    detections = data['detections']
    assert [(d['id'], d['category_id'], d['category_name']) for d in detections] == [
        (1, 1, 'person'), (2, 3, 'car')]
    assert [d['score'] for d in detections] == pytest.approx([0.9, 0.8])
    for detection in detections:
        instance = labels == detection['id']
        assert iou(instance, truth[detection['category_id']]) >= 0.9
        # The RLE decodes to exactly the published label image's instance.
        decoded = mask_utils.decode({'size': detection['segmentation']['size'],
                                     'counts': detection['segmentation']['counts'].encode()})
        assert np.array_equal(decoded.astype(bool), instance)
        assert detection['area'] == int(instance.sum())
        ys, xs = np.nonzero(truth[detection['category_id']])
        x, y, w, h = detection['bbox']
        assert abs(x - xs.min()) <= 1.5 and abs(y - ys.min()) <= 1.5
        assert abs(x + w - xs.max() - 1) <= 1.5 and abs(y + h - ys.max() - 1) <= 1.5

    # The overlay is the input, tinted with the class colour inside each mask.
    assert overlay_msg.encoding == 'bgr8'
    overlay = image_msg_to_bgr(overlay_msg).astype(int)
    bgr = rgb[..., ::-1].astype(int)
    for detection in detections:
        inner = labels == detection['id']
        colour = np.array(class_colour(detection['category_id']))
        expected = 0.5 * bgr[inner] + 0.5 * colour
        # Boxes and labels are drawn over some mask pixels; most must be the plain blend.
        close = np.all(np.abs(overlay[inner] - expected) <= 2, axis=1)
        assert close.mean() > 0.8
    background = labels == 0
    far = background.copy()
    for detection in detections:
        x, y, w, h = (int(v) for v in detection['bbox'])
        far[max(y - 25, 0):y + h + 3, max(x - 3, 0):x + w + 3] = False
    assert np.array_equal(overlay[far], bgr[far])


@pytest.mark.parametrize('model', ['builtin', 'tf2_od_api'])
def test_only_the_builtin_model_captions_its_overlay(model_paths, model):
    """The built-in model's overlay says what the model knows; another model's says nothing.

    Without model_path the node cannot tell the built-in model's own scenes from a camera
    image, so the caption is always there.
    """
    harness = Harness(None if model == 'builtin' else model_paths[model],
                      namespace=f'/captions_{model}')
    try:
        message, rgb, _ = scene_message(stamp_sec=31)
        harness.segment(message, timeout=30)
        assert wait_for(lambda: find_by_stamp(harness.overlay, 31) is not None)
        overlay = image_msg_to_bgr(find_by_stamp(harness.overlay, 31))
    finally:
        harness.close()
    assert has_caption(overlay, rgb[..., ::-1]) == (model == 'builtin')


def test_json_detections_load_in_pycocotools(harness):
    message, _, truth = scene_message(stamp_sec=7)
    data = harness.segment(message)
    ground_truth = COCO()
    ground_truth.dataset = {
        'images': [{'id': 1, 'height': 240, 'width': 320}],
        'categories': [{'id': i, 'name': n} for i, n in CLASS_NAMES.items()],
        'annotations': [
            {'id': k, 'image_id': 1, 'category_id': c, 'iscrowd': 0,
             'area': int(truth[c].sum()),
             'segmentation': mask_utils.encode(np.asfortranarray(truth[c].astype(np.uint8))),
             'bbox': [0, 0, 1, 1]}
            for k, c in enumerate(CLASS_NAMES, start=1)]}
    for annotation in ground_truth.dataset['annotations']:
        annotation['segmentation']['counts'] = annotation['segmentation']['counts'].decode()
    ground_truth.createIndex()
    results = ground_truth.loadRes([dict(d, image_id=1) for d in data['detections']])
    assert len(results.getAnnIds()) == 2
    for annotation in results.loadAnns(results.getAnnIds()):
        assert iou(results.annToMask(annotation).astype(bool),
                   truth[annotation['category_id']]) >= 0.9


def test_bgr8_and_rgb8_give_the_same_detections(harness):
    bgr_message, _, _ = scene_message(stamp_sec=11, encoding='bgr8')
    rgb_message, _, _ = scene_message(stamp_sec=12, encoding='rgb8')
    from_bgr = harness.segment(bgr_message)['detections']
    from_rgb = harness.segment(rgb_message)['detections']
    assert len(from_bgr) == 2
    assert from_bgr == from_rgb


def test_parameters_change_results_through_the_parameter_service(harness):
    assert all(r.successful for r in harness.set(
        Parameter('classes', Parameter.Type.STRING_ARRAY, ['car'])))
    data = harness.segment(scene_message(stamp_sec=21)[0])
    assert [d['category_name'] for d in data['detections']] == ['car']

    assert all(r.successful for r in harness.set(
        Parameter('classes', Parameter.Type.STRING_ARRAY, ['1']),
        Parameter('score_threshold', Parameter.Type.DOUBLE, 0.95)))
    assert harness.segment(scene_message(stamp_sec=22)[0])['detections'] == []

    assert all(r.successful for r in harness.set(
        Parameter('classes', Parameter.Type.STRING_ARRAY, []),
        Parameter('score_threshold', Parameter.Type.DOUBLE, 0.85),
        Parameter('max_detections', Parameter.Type.INTEGER, 1)))
    data = harness.segment(scene_message(stamp_sec=23)[0])
    assert [d['category_name'] for d in data['detections']] == ['person']


@pytest.mark.parametrize('value, stored, names', [
    (Parameter('classes', Parameter.Type.BOOL_ARRAY, []), [], ['person', 'car']),  # "[]"
    (Parameter('classes', Parameter.Type.STRING, ''), [], ['person', 'car']),  # ""
    (Parameter('classes', Parameter.Type.STRING, '[1, car]'), ['1', 'car'],
     ['person', 'car']),  # "[1, car]"
    (Parameter('classes', Parameter.Type.INTEGER_ARRAY, [3]), ['3'], ['car']),  # "[3]"
    (Parameter('classes', Parameter.Type.INTEGER, 1), ['1'], ['person']),  # "1"
    (Parameter('classes', Parameter.Type.STRING, 'car'), ['car'], ['car']),  # "car"
])
def test_classes_in_every_type_the_ros2_command_sends(harness, value, stored, names):
    """`ros2 param set` guesses a type from YAML: "[]" is a bool array, "[1, car]" one string.

    Each is the list it spells, kept as the string array of its names and ids.
    """
    assert all(r.successful for r in harness.set(Parameter('classes', value=['person'])))
    (result,) = harness.set(value)
    assert result.successful, result.reason
    data = harness.segment(scene_message(stamp_sec=25)[0])
    assert [d['category_name'] for d in data['detections']] == names
    classes = harness.node.get_parameter('classes')
    assert (classes.type_, classes.value) == (Parameter.Type.STRING_ARRAY, stored)


def test_classes_given_as_ids_at_start_up(model_paths):
    """-p classes:=[3] (and a YAML file's [3]) is an integer array: ids, as names are."""
    harness = Harness(model_paths['tf2_od_api'], extra_args=['-p', 'classes:=[3]'],
                      namespace='/class_ids')
    try:
        data = harness.segment(scene_message(stamp_sec=26)[0])
        assert [d['category_name'] for d in data['detections']] == ['car']
        assert harness.node.get_parameter('classes').value == ['3']
    finally:
        harness.close()


@pytest.mark.parametrize('parameter, reason_words', [
    (Parameter('classes', Parameter.Type.STRING_ARRAY, ['unicorn']), ['unicorn', 'person']),
    (Parameter('score_threshold', Parameter.Type.DOUBLE, 1.5), ['score_threshold']),
    (Parameter('max_detections', Parameter.Type.INTEGER, 0), ['max_detections']),
    (Parameter('max_detections', Parameter.Type.INTEGER, 256), ['max_detections']),
    (Parameter('mask_threshold', Parameter.Type.STRING, 'high'), ['wrong parameter type']),
    (Parameter('frame_wait_fraction', Parameter.Type.DOUBLE, -0.1), ['frame_wait_fraction']),
    (Parameter('output_wait_fraction', Parameter.Type.DOUBLE, 1.5), ['output_wait_fraction']),
    (Parameter('model_path', Parameter.Type.STRING, '/elsewhere'), ['read-only']),
    (Parameter('classes', Parameter.Type.STRING_ARRAY, ['']), ['empty', '"[]" keeps every']),
    (Parameter('classes', Parameter.Type.DOUBLE_ARRAY, [1.5]), ['class names or ids']),
    (Parameter('classes', Parameter.Type.STRING, '[car, [1]]'), ['nested']),
])
def test_invalid_parameters_are_rejected_and_change_nothing(harness, parameter, reason_words):
    (result,) = harness.set(parameter)
    assert not result.successful
    reason = result.reason.lower()
    assert any(word.lower() in reason for word in reason_words), result.reason
    data = harness.segment(scene_message(stamp_sec=30)[0])
    assert [d['category_name'] for d in data['detections']] == ['person', 'car']


def test_malformed_images_are_rejected_and_the_node_keeps_working(harness):
    bad = Image(height=240, width=320, encoding='bgr8', step=960)
    bad.data = bytes(100)
    unknown = Image(height=2, width=2, encoding='weird16', step=4)
    unknown.data = bytes(8)
    for message in (bad, unknown) * 3:
        harness.publisher.publish(message)
        time.sleep(0.05)
    data = harness.segment(scene_message(stamp_sec=40)[0])
    assert len(data['detections']) == 2

    def rejected():
        for array in harness.diagnostics.messages:
            values = {kv.key: kv.value for kv in array.status[0].values}
            if int(values.get('frames_rejected', 0)) >= 2:
                return values
        return None

    assert wait_for(lambda: rejected() is not None, timeout=5)
    values = rejected()
    assert int(values['rejected_data_length']) >= 1 and int(values['rejected_encoding']) >= 1


def test_a_rejected_image_warns_until_good_frames_flow_in_a_later_period(harness):
    """The level is of the last period: one malformed image must not leave it WARN for good."""
    def statuses():
        return [array.status[0] for array in list(harness.diagnostics.messages)]

    bad = Image(height=240, width=320, encoding='bgr8', step=960)
    bad.data = bytes(100)
    harness.publisher.publish(bad)
    assert wait_for(lambda: any(s.level == DiagnosticStatus.WARN for s in statuses()), timeout=5)
    warned_at = next(i for i, s in enumerate(statuses()) if s.level == DiagnosticStatus.WARN)
    stamp = 80

    def ok_with_frames_after_the_warning():
        nonlocal stamp
        stamp += 1
        harness.segment(scene_message(stamp_sec=stamp)[0])
        return [s for s in statuses()[warned_at + 1:] if s.level == DiagnosticStatus.OK
                and float({kv.key: kv.value for kv in s.values}['rate_hz']) > 0]

    assert wait_for(ok_with_frames_after_the_warning, timeout=10, interval=0.1), [
        (s.level, s.message) for s in statuses()]
    values = {kv.key: kv.value for kv in ok_with_frames_after_the_warning()[-1].values}
    assert values['frames_rejected'] == '1' and values['rejected_data_length'] == '1'
    assert statuses()[-1].hardware_id == NAMESPACE + '/segmentation_node'


def test_diagnostics_report_rate_latency_and_drops(harness):
    harness.segment(scene_message(stamp_sec=50)[0])
    assert wait_for(lambda: len(harness.diagnostics) >= 2, timeout=5)
    status = harness.diagnostics.last.status[0]
    keys = {kv.key for kv in status.values}
    assert {'rate_hz', 'inference_ms', 'outputs_cpu_ms', 'latency_ms', 'frames_dropped',
            'frames_received', 'frames_processed'} <= keys
    assert 'segmentation' in status.name
    values = {kv.key: kv.value for kv in status.values}
    assert float(values['outputs_cpu_ms']) > 0.0


def test_slow_model_processes_newest_frame_and_answers_parameters_meanwhile(slow_model_path):
    harness = Harness(slow_model_path)
    try:
        messages = [scene_message(stamp_sec=1000 + i)[0] for i in range(30)]
        started = time.monotonic()
        for message in messages:  # 30 frames at 30 Hz into a 1 s model
            harness.publisher.publish(message)
            time.sleep(1 / 30)
        # While the model runs, the parameter service answers at once: were the executor
        # blocked by inference, answers would wait half a model call on average.
        answer_times = []
        for _ in range(5):
            asked = time.monotonic()
            values = wait_future(harness.parameters.get_parameters(['score_threshold']), 5)
            answer_times.append(time.monotonic() - asked)
            assert values.values[0].double_value == 0.5
            time.sleep(0.15)
        assert sorted(answer_times)[2] < 0.25, answer_times
        assert wait_for(lambda: any(json.loads(m.data)['header']['stamp']['sec'] == 1029
                                    for m in harness.json.messages), timeout=10)
        elapsed = time.monotonic() - started
        stamps = [json.loads(m.data)['header']['stamp']['sec'] for m in harness.json.messages]
    finally:
        harness.close()
    # Far fewer results than frames (no queue), in order, the last frame among them,
    # and the last result came soon after the last frame instead of after 30 model calls.
    assert stamps == sorted(stamps)
    assert len(stamps) <= elapsed / SLOW_MODEL_S + 1
    assert elapsed < 30 * SLOW_MODEL_S / 2


def test_wait_parameters_set_the_pipeline_policy(harness):
    assert harness.node.pipeline.policy == StagePolicy(frame_wait_fraction=0.1,
                                                       output_wait_fraction=0.03)
    assert all(r.successful for r in harness.set(Parameter('output_wait_fraction', value=0.0)))
    assert harness.node.pipeline.policy == StagePolicy(frame_wait_fraction=0.1,
                                                       output_wait_fraction=0.0)


@pytest.mark.skipif(not detection_msgs.AVAILABLE,
                    reason='vision_msgs is not installed (no PyPI wheel); detections is off')
def test_detection2d_array(harness):
    collector = Collector()
    subscription = harness.client.create_subscription(
        detection_msgs.Detection2DArray, NAMESPACE + '/detections', collector, 10)
    assert wait_for(lambda: subscription.get_publisher_count() > 0)
    message, _, _ = scene_message(stamp_sec=60)
    harness.segment(message)
    assert wait_for(lambda: find_by_stamp(collector, 60) is not None)
    array = find_by_stamp(collector, 60)
    assert array.header.frame_id == 'test_camera'
    assert [d.id for d in array.detections] == ['1', '2']
    assert [d.results[0].hypothesis.class_id for d in array.detections] == ['person', 'car']
    assert array.detections[0].results[0].hypothesis.score == pytest.approx(0.9)


@pytest.mark.skipif(not detection_msgs.AVAILABLE,
                    reason='vision_msgs is not installed (no PyPI wheel); label_info is off')
def test_label_info_is_latched_and_follows_the_score_threshold(harness):
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    collector = Collector()  # subscribed after the node published: latching must deliver
    harness.client.create_subscription(detection_msgs.LabelInfo, NAMESPACE + '/label_info',
                                       collector, latched)
    assert wait_for(lambda: len(collector) == 1)
    info = collector.last
    assert [(c.class_id, c.class_name) for c in info.class_map][:3] == [
        (1, 'person'), (2, 'bicycle'), (3, 'car')]
    assert len(info.class_map) == 80 and info.threshold == pytest.approx(0.5)
    assert all(r.successful for r in harness.set(Parameter('score_threshold', value=0.25)))
    assert wait_for(lambda: len(collector) == 2)
    assert collector.last.threshold == pytest.approx(0.25)


def console_script(name: str) -> str:
    """The installed console script, preferring the one beside this interpreter."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def test_a_node_without_publisher_says_once_which_topic_it_listens_on(model_paths):
    process = start_process([console_script('segmentation_node'), '--ros-args',
                             '-p', f'model_path:={model_paths["tf1_frozen_graph"]}',
                             '-r', '__ns:=/lonely'])
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()

    def notices():
        return [line for line in list(lines) if 'no publisher on' in line]

    try:
        assert wait_for(lambda: notices() or process.poll() is not None, timeout=90)
        time.sleep(NO_PUBLISHER_NOTICE_S + 1.0)  # long enough for a second one
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
        reader.join(timeout=10)
    output = ''.join(lines)
    assert code == 0, output
    assert len(notices()) == 1, output
    assert 'no publisher on /lonely/image after 5 s' in notices()[0]
    assert '-r image:=' in notices()[0]


def test_a_publisher_that_goes_away_is_said_once_as_such_never_as_missing(model_paths):
    """A folder played, a video or a bag over: no remap hint, and /diagnostics says so."""
    harness = Harness(model_paths['tf2_od_api'], namespace='/source_ends')
    try:
        harness.segment(scene_message(stamp_sec=90)[0])
        harness.publishers_go_away([harness.publisher], '/source_ends/image')
    finally:
        harness.close()


def test_a_remapped_topic_without_publisher_is_said_without_a_remap_hint(model_paths):
    """As in the launch files, which remap `image` themselves: a remap is already in place."""
    harness = Harness(model_paths['tf2_od_api'], namespace='/remapped', connect=False,
                      extra_args=['-r', 'image:=/nobody_publishes/image_raw'])
    try:
        assert wait_for(lambda: harness.said('no publisher'), timeout=30), harness.said('')
        assert harness.said('no publisher') == [
            f'no publisher on /nobody_publishes/image_raw after {NO_PUBLISHER_NOTICE_S:g} s; '
            'waiting for one']
        assert wait_for(lambda: len(harness.diagnostics) > 0, timeout=5)
        assert harness.diagnostics.last.status[0].message == (
            'waiting for images: no publisher on /nobody_publishes/image_raw yet')
    finally:
        harness.close()


@pytest.mark.parametrize('parameter', ['model_path:=/no/such/model', 'score_threshold:=1'])
def test_a_start_error_is_logged_under_the_nodes_own_name(parameter):
    """As every other line of the node: [segmentation.segmentation_node] in its namespace."""
    process = start_process([console_script('segmentation_node'), '--ros-args',
                             '-r', '__ns:=/segmentation', '-p', parameter])
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 1, output
    errors = [line for line in output.splitlines() if 'ERROR' in line]
    assert len(errors) == 1 and '[segmentation.segmentation_node]' in errors[0], output


def test_console_script_with_ros_args_answers(model_paths):
    process = start_process([console_script('segmentation_node'), '--ros-args',
                             '-p', f'model_path:={model_paths["tf1_frozen_graph"]}',
                             '-p', 'classes:=[car]', '-r', '__ns:=/robot',
                             '-r', 'image:=/robot/camera/image_raw'])
    graph = SpinningGraph()
    try:
        client = graph.node('script_client')
        results = Collector()
        client.create_subscription(String, '/robot/detections_json',
                                   results, 10)
        publisher = client.create_publisher(Image, '/robot/camera/image_raw',
                                            qos_profile_sensor_data)
        message, _, _ = scene_message(stamp_sec=70)
        deadline = time.monotonic() + 60
        while not len(results) and time.monotonic() < deadline and process.poll() is None:
            publisher.publish(message)
            time.sleep(0.2)
        assert len(results), 'the node process produced no result'
        data = json.loads(results.last.data)
        assert [d['category_name'] for d in data['detections']] == ['car']
    finally:
        graph.close()
        code, output = stop_process(process)
    assert code == 0, output
    assert 'Traceback' not in output


@pytest.mark.parametrize('arguments, words', [
    (['model_path:=/no/such/model'], ['does not exist']),
    (['model_path:=/etc'], ['is not a model']),
    (['max_detections:=0'], ['max_detections', 'out of range']),
    (['score_threshold:=1'], ['score_threshold', 'score_threshold:=1.0']),
    (['input_reliability:=sometimes'], ['input_reliability', 'auto, best_effort']),
    (['classes:=[unicorn]'], ["unknown class 'unicorn'", 'valid names']),
    (['tf_device:=tpu'], ["'tpu'", 'auto, cpu, gpu:N']),
    (['precision:=half'], ["precision 'half' is not one of auto, fp32, bf16"]),
])
def test_unusable_start_exits_non_zero_with_one_line(arguments, words):
    error = refused_start(*arguments)
    assert all(word in error for word in words), error


@pytest.mark.parametrize('name', ['tf_device', 'device'])
def test_the_deprecated_device_parameter_still_sets_the_tensorflow_device(name):
    """`device` is tf_device's old name: for one release it still works, with one warning."""
    process = start_process([console_script('segmentation_node'), '--ros-args',
                             '-p', f'{name}:=tpu'])
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        _, output = stop_process(process)
        pytest.fail(f'{name}:=tpu was not used: the node kept running\n{output}')
    assert process.returncode == 1, output
    errors = [line for line in output.splitlines() if 'ERROR' in line]
    assert len(errors) == 1 and "'tpu'" in errors[0], output  # the device reached TensorFlow
    warnings = [line for line in output.splitlines() if 'deprecated' in line]
    if name == 'device':
        assert len(warnings) == 1 and 'WARN' in warnings[0], output
        assert 'tf_device:=tpu' in warnings[0]
    else:
        assert warnings == [], output
