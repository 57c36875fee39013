"""segmentation_lifecycle_node over real DDS, driven through its lifecycle services.

The transitions are asked for as `ros2 lifecycle` and launch_ros ask for them, through
<node>/change_state and <node>/get_state, and a client node hears what the node publishes in
each state. The last test runs the real `ros2 lifecycle` and `ros2 param` commands against the
node's own process.
"""

from __future__ import annotations

import subprocess
import time

import pytest
import tiny_models
from lifecycle_harness import LifecycleHarness
from node_harness import scene_message
from rclpy.parameter import Parameter
from ros_helpers import console_command, ros2, start_process, stop_process, wait_for

OUTPUTS = ('masks', 'masks/compressed', 'detections_json', 'detections', 'label_info',
           'overlay', 'overlay/compressed')
CLASSES = ['person', 'car']


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """Two models whose names differ, so that detections_json tells which one ran."""
    root = tmp_path_factory.mktemp('models')
    return {'first': tiny_models.export_tf2_od_saved_model(str(root / 'first_model')),
            'second': tiny_models.export_tf1_frozen_graph(str(root / 'second_model.pb'))}


class Managed(LifecycleHarness):
    """The lifecycle node with what these tests ask of it: its topics, silence, a result."""

    def topics_in_use(self) -> list[str]:
        """The node's outputs that DDS sees a publisher of, and its input if subscribed."""
        used = [topic for topic in OUTPUTS
                if self.client.count_publishers(f'{self.namespace}/{topic}')]
        used += ['/diagnostics'] * bool(self.client.count_publishers('/diagnostics'))
        used += ['image'] * bool(self.client.count_subscribers(f'{self.namespace}/image'))
        return used

    def assert_silent(self, stamp_sec: int):
        """No publisher, no subscription, and a frame sent for a second gets no output."""
        assert wait_for(lambda: not self.topics_in_use()), self.topics_in_use()
        self.json.clear()
        self.diagnostics.clear()
        message = scene_message(stamp_sec)[0]
        for _ in range(10):
            self.publisher.publish(message)
            time.sleep(0.1)
        assert len(self.json) == 0 and len(self.diagnostics) == 0

    def segment_names(self, stamp_sec: int) -> tuple[str, list[str]]:
        """The model's name and the class names of one frame's detections."""
        data = self.segment(scene_message(stamp_sec)[0])
        return data['model'], [d['category_name'] for d in data['detections']]


def test_only_the_active_node_subscribes_and_publishes(models):
    node = Managed(models['first'], '/lifecycle_states')
    try:
        assert node.state == 'unconfigured' and node.node.model is None
        node.assert_silent(stamp_sec=1)

        assert node.change('configure') and node.state == 'inactive'
        assert node.node.model is not None
        node.assert_silent(stamp_sec=2)

        assert node.change('activate') and node.state == 'active'
        assert node.connected()
        assert node.segment_names(3) == ('first_model', CLASSES)
        assert wait_for(lambda: len(node.diagnostics) > 0, timeout=5)

        assert node.change('deactivate') and node.state == 'inactive'
        node.assert_silent(stamp_sec=4)
        model = node.node.model

        assert node.change('activate') and node.state == 'active'
        assert node.node.model is model  # kept while inactive: no reload
        assert node.connected()
        assert node.segment_names(5) == ('first_model', CLASSES)
    finally:
        node.close()


def test_a_source_that_ends_is_said_once_as_such_in_the_active_node(models):
    node = Managed(models['first'], '/lifecycle_source_ends')
    try:
        assert node.change('configure', 'activate') and node.connected()
        assert node.segment_names(6) == ('first_model', CLASSES)
        node.publishers_go_away([node.publisher], '/lifecycle_source_ends/image')
    finally:
        node.close()


def test_cleanup_then_a_new_model_path_configures_the_new_model(models):
    node = Managed(models['first'], '/lifecycle_reload')
    try:
        assert node.change('configure', 'activate') and node.connected()
        assert node.segment_names(10) == ('first_model', CLASSES)
        (refused,) = node.set(Parameter('model_path', value=models['second']))
        assert not refused.successful and 'cleanup first' in refused.reason
        (refused,) = node.set(Parameter('input_transport', value='compressed'))
        assert not refused.successful and 'read-only' in refused.reason.lower()
        # Run-time parameters still apply at once.
        assert all(r.successful for r in node.set(Parameter('classes', value=['car'])))
        assert node.segment_names(11) == ('first_model', ['car'])

        assert node.change('deactivate', 'cleanup') and node.state == 'unconfigured'
        assert node.node.model is None
        assert all(r.successful for r in node.set(Parameter('model_path', value=models['second']),
                                                  Parameter('classes', value=['person'])))
        assert node.change('configure', 'activate') and node.connected()
        assert node.segment_names(12) == ('second_model', ['person'])
    finally:
        node.close()


def test_cameras_change_between_cleanup_and_configure(models):
    node = Managed(models['first'], '/lifecycle_cameras')
    try:
        assert node.change('configure', 'activate') and node.connected()
        (refused,) = node.set(Parameter('cameras', value=['left', 'right']))
        assert not refused.successful and 'cleanup first' in refused.reason

        assert node.change('deactivate', 'cleanup')
        assert all(r.successful for r in node.set(Parameter('cameras', value=['left', 'right'])))
        assert node.change('configure', 'activate')
        for camera in ('left', 'right'):
            assert wait_for(lambda c=camera: node.client.count_publishers(
                f'/lifecycle_cameras/{c}/detections_json') == 1)
        assert node.client.count_publishers('/lifecycle_cameras/detections_json') == 0
    finally:
        node.close()


@pytest.mark.parametrize('bad, good', [
    ('model_path', 'first'),
    ('classes', ['car']),
])
def test_a_failed_configure_stays_unconfigured_until_the_parameter_is_fixed(
        models, tmp_path, bad, good):
    if bad == 'model_path':
        node = Managed(str(tmp_path / 'missing'), '/lifecycle_failed_model')
        fixed = Parameter('model_path', value=models[good])
    else:
        node = Managed(models['first'], '/lifecycle_failed_class', ['-p', 'classes:=[unicorn]'])
        fixed = Parameter('classes', value=good)
    try:
        assert not node.change('configure')
        assert node.state == 'unconfigured' and node.node.model is None
        node.assert_silent(stamp_sec=20)
        assert all(r.successful for r in node.set(fixed))
        assert node.change('configure', 'activate') and node.connected()
        assert node.segment_names(21)[0] == 'first_model'
    finally:
        node.close()


@pytest.mark.parametrize('transitions, state', [
    ((), 'unconfigured'),
    (('configure',), 'inactive'),
    (('configure', 'activate'), 'active'),
])
def test_shutdown_from_each_state_releases_everything(models, transitions, state):
    node = Managed(models['first'], f'/lifecycle_shutdown_{state}')
    try:
        assert node.change(*transitions) and node.state == state
        assert node.change('shutdown') and node.state == 'finalized'
        assert node.node.done.done() and node.node.done.result() == 0  # run_node ends with 0
        assert node.node.model is None and node.node.pipeline is None
        assert wait_for(lambda: not node.topics_in_use()), node.topics_in_use()
    finally:
        node.close()


def run_ros2(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([ros2(), *arguments], capture_output=True, text=True, timeout=90)


@pytest.mark.skipif(ros2() is None, reason='the ros2 command is not installed (no PyPI wheel)')
def test_ros2_lifecycle_commands_drive_the_node_process(models, tmp_path):
    """The README's commands: a failed configure, a fix, configure, activate, shutdown."""
    name = '/segmentation/segmentation_node'
    process = start_process([*console_command('segmentation_lifecycle_node'), '--ros-args',
                             '-r', '__ns:=/segmentation',
                             '-p', f'model_path:={tmp_path / "missing"}'])
    try:
        # As `ros2 lifecycle set` finds it: in the ros2 daemon's graph, with its services.
        assert wait_for(lambda: name in run_ros2('lifecycle', 'nodes').stdout.split(),
                        timeout=90, interval=0.5)
        assert run_ros2('lifecycle', 'get', name).stdout.startswith('unconfigured')
        failed = run_ros2('lifecycle', 'set', name, 'configure')
        assert 'Transitioning failed' in failed.stdout + failed.stderr
        assert run_ros2('lifecycle', 'get', name).stdout.startswith('unconfigured')
        assert 'Set parameter successful' in run_ros2(
            'param', 'set', name, 'model_path', models['first']).stdout
        for transition in ('configure', 'activate'):
            result = run_ros2('lifecycle', 'set', name, transition)
            assert 'Transitioning successful' in result.stdout, result
        assert run_ros2('lifecycle', 'get', name).stdout.startswith('active')
        refused = run_ros2('param', 'set', name, 'model_path', models['second'])
        assert 'cleanup first' in refused.stdout + refused.stderr
        assert 'Transitioning successful' in run_ros2(
            'lifecycle', 'set', name, 'shutdown').stdout
        output, _ = process.communicate(timeout=30)  # the process ends by itself
        code = process.returncode
    finally:
        if process.poll() is None:
            code, output = stop_process(process)
    assert code == 0, output
    assert 'Traceback' not in output
    errors = [line for line in output.splitlines() if 'ERROR' in line]
    assert len(errors) == 1 and 'configure failed' in errors[0], output
    assert 'does not exist' in errors[0]
