"""segmentation_node under bad input, parameter bursts and signals: it stays up, loses nothing."""

from __future__ import annotations

import json
import random
import signal
import time

import numpy as np
import pytest
import tiny_models
from node_harness import Harness, scene_message
from rclpy.parameter import Parameter
from ros_helpers import (
    Collector,
    SpinningGraph,
    console_command,
    start_process,
    stop_process,
    wait_for,
    wait_future,
)
from sensor_msgs.msg import Image
from std_msgs.msg import String

from instance_segmentation_ros.core.image_conversion import SUPPORTED_ENCODINGS

FUZZ_MESSAGES = 1200
FLIPS = 24


@pytest.fixture(scope='module')
def model_path(tmp_path_factory):
    return tiny_models.export_tf2_od_saved_model(str(tmp_path_factory.mktemp('m') / 'model'))


@pytest.fixture(scope='module')
def slow_model_path(tmp_path_factory):
    return tiny_models.export_tf2_od_saved_model(
        str(tmp_path_factory.mktemp('slow') / 'model'), compute_seconds=1.0)


def malformed_images(count: int, seed: int = 7):
    """Seeded Image messages, most of them malformed in one way or another."""
    generator = random.Random(seed)
    encodings = [*SUPPORTED_ENCODINGS, 'bgr16', '32FC1', '', 'BGR8', 'jpeg', '\x00']
    for _ in range(count):
        encoding = generator.choice(encodings)
        height = generator.choice([0, 1, 2, 3, 17, 240, 100000, 2**31 - 1])
        width = generator.choice([0, 1, 2, 5, 320, 100000, 2**31 - 1])
        step = generator.choice([0, width, width * 3, width * 3 + 4, 7, 2**32 - 1])
        length = generator.choice([0, 1, 100, step * min(height, 64), 3 * 17 * 17 + 1])
        message = Image(height=height, width=width, encoding=encoding, step=step,
                        is_bigendian=generator.randint(0, 1))
        message.data = bytes(generator.getrandbits(8) for _ in range(min(length, 4096)))
        yield message


def test_fuzzed_images_over_dds_never_stop_the_node(model_path):
    harness = Harness(model_path, extra_args=['-p', 'input_reliability:=reliable'])
    try:
        publisher = harness.publisher
        started = time.monotonic()
        for index, message in enumerate(malformed_images(FUZZ_MESSAGES)):
            publisher.publish(message)
            if index % 50 == 0:
                time.sleep(0.02)  # let the worker take some of them
        assert time.monotonic() - started < 60
        data = harness.segment(scene_message(stamp_sec=500)[0], timeout=20)
        assert [d['category_name'] for d in data['detections']] == ['person', 'car']

        def diagnostics():
            if not len(harness.diagnostics):
                return {}
            return {kv.key: kv.value for kv in harness.diagnostics.last.status[0].values}

        assert wait_for(lambda: int(diagnostics().get('frames_rejected', 0)) > 0, timeout=5)
        values = diagnostics()
        assert int(values['frames_failed']) == 0
        kinds = [key for key in values if key.startswith('rejected_')]
        assert len(kinds) >= 3, values
        assert harness.graph.context.ok()
    finally:
        harness.close()


def test_parameter_bursts_never_mix_settings_within_a_frame(model_path):
    """Two settings that each give a known result; a mix of them would show 'car'."""
    harness = Harness(model_path)
    only_person = [Parameter('classes', Parameter.Type.STRING_ARRAY, ['person']),
                   Parameter('score_threshold', Parameter.Type.DOUBLE, 0.0)]
    nothing = [Parameter('classes', Parameter.Type.STRING_ARRAY, ['car']),
               Parameter('score_threshold', Parameter.Type.DOUBLE, 0.85)]
    try:
        message = scene_message(stamp_sec=600)[0]
        for flip in range(FLIPS):  # a fixed count: a slow machine takes longer, not fewer
            result = wait_future(harness.parameters.set_parameters_atomically(
                nothing if flip % 2 else only_person))
            assert result.result.successful
            harness.publisher.publish(message)
        assert wait_for(lambda: len(harness.json) > 10, timeout=10)
        seen = {tuple(d['category_name'] for d in json.loads(m.data)['detections'])
                for m in harness.json.messages}
    finally:
        harness.close()
    assert seen <= {('person',), ()}, seen
    assert seen == {('person',), ()}


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_signal_during_inference_exits_cleanly_within_two_seconds(slow_model_path, sig):
    process = start_process([*console_command('segmentation_node'), '--ros-args',
                             '-p', f'model_path:={slow_model_path}', '-p', 'warmup:=false'])
    graph = SpinningGraph()
    try:
        client = graph.node('signal_client')
        results = Collector()
        client.create_subscription(String, '/detections_json', results, 10)
        publisher = client.create_publisher(Image, '/image', 10)
        assert wait_for(lambda: publisher.get_subscription_count() > 0, timeout=60)
        message = scene_message(stamp_sec=700)[0]
        publisher.publish(message)
        assert wait_for(lambda: len(results) > 0, timeout=30)  # the model is warm now
        publisher.publish(message)
        time.sleep(0.3)  # well inside the 1 s inference
        sent = time.monotonic()
        process.send_signal(sig)
        code, output = stop_process(process, timeout=10)
        elapsed = time.monotonic() - sent
    finally:
        graph.close()
        stop_process(process)
    assert code == 0, output
    assert elapsed < 2.0, f'took {elapsed:.2f} s'
    assert 'Traceback' not in output


def test_unreadable_label_map_exits_with_one_line(model_path, tmp_path):
    broken = tmp_path / 'labels.pbtxt'
    broken.write_text('item { id: one name: "x" }')
    process = start_process([*console_command('segmentation_node'), '--ros-args',
                             '-p', f'model_path:={model_path}',
                             '-p', f'label_map_path:={broken}'])
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    errors = [line for line in output.splitlines() if 'ERROR' in line]
    assert len(errors) == 1 and 'labels.pbtxt' in errors[0], output
    assert 'Traceback' not in output


def test_label_map_smaller_than_model_ids_falls_back_to_class_n(model_path, tmp_path):
    names = tmp_path / 'labels.txt'
    names.write_text('human\n')  # id 1 only; the model also emits id 3
    harness = Harness(model_path, extra_args=['-p', f'label_map_path:={names}'])
    try:
        data = harness.segment(scene_message(stamp_sec=800)[0])
    finally:
        harness.close()
    assert [d['category_name'] for d in data['detections']] == ['human', 'class_3']


def test_reused_buffers_follow_image_size_changes(model_path):
    harness = Harness(model_path)
    try:
        for stamp, (height, width) in enumerate([(240, 320), (480, 640), (240, 320)], 900):
            message, _, truth = scene_message(stamp, height=height, width=width)
            data = harness.segment(message)
            assert (data['height'], data['width']) == (height, width)
            assert wait_for(lambda s=stamp: any(m.header.stamp.sec == s
                                                for m in harness.masks.messages))
            masks = next(m for m in harness.masks.messages if m.header.stamp.sec == stamp)
            labels = np.frombuffer(masks.data, np.uint8).reshape(height, width)
            assert np.array_equal(np.unique(labels), [0, 1, 2])
    finally:
        harness.close()
