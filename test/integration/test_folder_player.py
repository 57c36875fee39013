"""folder_player over real rclpy/DDS: the node runs as its console script, the test subscribes."""

import signal
import time

import numpy as np
import pytest
from helper_nodes import FolderRecorder, make_folder
from rclpy.parameter import Parameter
from ros_helpers import NodeProcess, set_parameters_atomically, spin_until
from std_msgs.msg import String

from instance_segmentation_ros.ros.folder_player import PROGRESS_INTERVAL

IMAGE_TOPICS = {'raw': '/image', 'compressed': '/image/compressed'}
TRANSPORTS = list(IMAGE_TOPICS)


class Consumer(FolderRecorder):
    """Records like FolderRecorder and answers every image on ``ack``, as segmentation_node does.

    The answers start once ``answer()`` made the publisher (at once with ``answering``).
    """

    def __init__(self, node, answering=True, transport='raw'):
        super().__init__(node, transport)
        self._node = node
        self._ack = None
        if answering:
            self.answer()

    def answer(self):
        self._ack = self._node.create_publisher(String, 'ack', 10)
        return time.monotonic()

    def _on_image(self, msg):
        super()._on_image(msg)
        if self._ack is not None:
            self._ack.publish(String(data=f'done with image {len(self.images)}'))


def names(count):
    return [f'img_{k}.png' for k in range(count)]


@pytest.mark.parametrize('transport', TRANSPORTS)
def test_plays_readable_images_in_name_order_and_exits_0(ros, tmp_path, transport):
    node, executor = ros
    folder = make_folder(tmp_path / 'images')
    recorder = FolderRecorder(node, transport)
    with NodeProcess('folder_player', folder=folder, rate=20.0, frame_id='test_cam',
                     transport=transport) as player:
        assert spin_until(executor, lambda: player.returncode is not None, 30.0)
        spin_until(executor, lambda: len(recorder.images) >= 5, 1.0)
        status, output = player.finish()
    assert status == 0, output
    assert recorder.widths == [32, 33, 34, 35, 36]
    assert recorder.names == names(5)
    assert {frame_id for _, frame_id, _, _ in recorder.images} == {'test_cam'}
    stamps = [stamp for _, _, stamp, _ in recorder.images]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    warnings = [line for line in output.splitlines() if '[WARN]' in line]
    assert len(warnings) == 1 and 'img_2b.png' in warnings[0], output
    assert 'notes.txt' not in output
    assert 'published 5 images, skipped 1 (img_2b.png)' in output
    assert 'Traceback' not in output


def test_rate_is_honoured(ros, tmp_path):
    node, executor = ros
    folder = make_folder(tmp_path / 'images', count=4, corrupt=False)
    recorder = FolderRecorder(node)
    with NodeProcess('folder_player', folder=folder, rate=4.0) as player:
        assert spin_until(executor, lambda: player.returncode is not None, 30.0)
        spin_until(executor, lambda: len(recorder.images) >= 4, 1.0)
        status, output = player.finish()
    assert status == 0, output
    assert recorder.widths == [32, 33, 34, 35]
    stamps = [stamp for _, _, stamp, _ in recorder.images]
    intervals = np.diff(stamps)
    # 4 Hz: 0.25 s apart; generous bounds for a loaded 2-core machine.
    assert 0.2 <= intervals.mean() <= 0.35, intervals
    assert intervals.min() >= 0.15, intervals


def test_a_refused_change_changes_nothing_and_an_accepted_one_applies(ros, tmp_path):
    node, executor = ros
    folder = make_folder(tmp_path / 'images', count=3, corrupt=False)
    recorder = FolderRecorder(node)

    def played_after_change(count=6):
        """(frame_ids, median interval in s) of `count` images published after a change."""
        start = len(recorder.images)
        assert spin_until(executor, lambda: len(recorder.images) >= start + count + 1, 20.0)
        played = recorder.images[start + 1:start + count + 1]  # the first may predate it
        return ({frame_id for _, frame_id, _, _ in played},
                np.median(np.diff([stamp for _, _, stamp, _ in played])))

    with NodeProcess('folder_player', folder=folder, rate=5.0, loop='true',
                     frame_id='before', wait_for_subscriber=0.0) as player:
        assert spin_until(executor, lambda: len(recorder.images) >= 2, 20.0), player.finish()
        refused = set_parameters_atomically(node, executor, '/folder_player', [
            Parameter('rate', value=20.0), Parameter('frame_id', value='after'),
            Parameter('wait_timeout', value=-1.0)])
        assert not refused.successful and 'wait_timeout' in refused.reason
        frame_ids, interval = played_after_change()
        assert frame_ids == {'before'} and interval >= 0.15, interval  # 5 Hz: 0.2 s
        assert set_parameters_atomically(node, executor, '/folder_player', [
            Parameter('rate', value=20.0), Parameter('frame_id', value='after')]).successful
        frame_ids, interval = played_after_change()
        assert frame_ids == {'after'} and interval <= 0.1, interval  # 20 Hz: 0.05 s
        status, output = player.finish(signal.SIGINT)
    assert status == 0, output
    assert '[WARN]' not in output and '[ERROR]' not in output, output


@pytest.mark.parametrize('transport', TRANSPORTS)
def test_loop_repeats_until_sigterm(ros, tmp_path, transport):
    node, executor = ros
    folder = make_folder(tmp_path / 'images', count=3, corrupt=False)
    recorder = FolderRecorder(node, transport)
    with NodeProcess('folder_player', folder=folder, rate=20.0, loop='true',
                     transport=transport) as player:
        assert spin_until(executor, lambda: min(len(recorder.images), len(recorder.names)) >= 7,
                          30.0), player.finish()
        status, output = player.finish(signal.SIGTERM)
    assert status == 0, output
    assert recorder.widths[:7] == [32, 33, 34, 32, 33, 34, 32]
    assert recorder.names[:7] == names(3) * 2 + names(1)
    assert 'interrupted: published' in output
    assert 'Traceback' not in output


def test_lock_step_waits_for_ack_and_times_out(ros, tmp_path):
    node, executor = ros
    folder = make_folder(tmp_path / 'images', count=3, corrupt=False)
    recorder = FolderRecorder(node)
    ack = node.create_publisher(String, 'ack', 10)
    with NodeProcess('folder_player', folder=folder, rate=50.0, wait_for_topic='ack',
                     wait_timeout=1.5) as player:
        assert spin_until(executor, lambda: len(recorder.images) >= 1, 20.0), player.finish()
        # No ack: image 2 must not come although the rate would allow 50 images per second.
        assert not spin_until(executor, lambda: len(recorder.images) >= 2, 1.0)
        acked = time.monotonic()
        ack.publish(String(data='done with 0'))
        assert spin_until(executor, lambda: len(recorder.images) >= 2, 1.0)
        assert recorder.images[1][3] - acked < 0.5
        # No ack for image 2 either: after wait_timeout the player moves on by itself.
        assert spin_until(executor, lambda: len(recorder.images) >= 3, 5.0)
        waited = recorder.images[2][3] - recorder.images[1][3]
        assert 1.3 <= waited <= 3.0, waited
        ack.publish(String(data='done with 2'))
        assert spin_until(executor, lambda: player.returncode is not None, 10.0)
        status, output = player.finish()
    assert status == 0, output
    assert recorder.widths == [32, 33, 34]
    assert recorder.names == names(3)
    warnings = [line for line in output.splitlines() if '[WARN]' in line]
    assert len(warnings) == 1 and "'/ack' within 1.5 s after img_1.png" in warnings[0], output
    assert 'published 3 images, skipped 0, 1 wait timeouts' in output


@pytest.mark.parametrize('transport', TRANSPORTS)
def test_lock_step_waits_for_a_consumer_that_starts_late(ros, tmp_path, transport):
    """Beyond wait_for_subscriber and the progress interval: no image is lost meanwhile."""
    node, executor = ros
    folder = make_folder(tmp_path / 'images', count=3, corrupt=False)
    topic = IMAGE_TOPICS[transport]
    with NodeProcess('folder_player', folder=folder, rate=50.0, wait_for_topic='ack',
                     wait_for_subscriber=1.0, wait_timeout=5.0, transport=transport) as player:
        assert spin_until(executor, lambda: node.count_publishers(topic) > 0, 30.0), \
            player.finish()
        # Like segmentation_node loading a model: nothing subscribes or answers for a while.
        assert not spin_until(executor, lambda: player.returncode is not None,
                              PROGRESS_INTERVAL + 1.5)
        consumer = Consumer(node, transport=transport)
        assert spin_until(executor, lambda: player.returncode is not None, 60.0), \
            player.finish()
        spin_until(executor, lambda: len(consumer.images) >= 3, 1.0)
        status, output = player.finish()
    assert status == 0, output
    assert consumer.widths == [32, 33, 34], output
    assert consumer.names == names(3)
    assert 'published 3 images, skipped 0, 0 wait timeouts' in output, output
    progress = [line for line in output.splitlines() if 'waiting for a subscriber on' in line]
    assert progress and '[INFO]' in progress[0], output
    assert f"a subscriber on '{topic}' and a publisher on '/ack'" in progress[0], output
    assert '[WARN]' not in output and 'starting anyway' not in output, output


def test_lock_step_waits_for_the_result_publisher_too(ros, tmp_path):
    """A consumer that subscribes at once but publishes results late gets the first image."""
    node, executor = ros
    folder = make_folder(tmp_path / 'images', count=3, corrupt=False)
    consumer = Consumer(node, answering=False)
    with NodeProcess('folder_player', folder=folder, rate=50.0, wait_for_topic='ack',
                     wait_for_subscriber=1.0, wait_timeout=5.0) as player:
        assert spin_until(executor, lambda: node.count_publishers('/image') > 0, 30.0), \
            player.finish()
        spin_until(executor, lambda: player.returncode is not None, 3.0)
        answering = consumer.answer()
        assert spin_until(executor, lambda: player.returncode is not None, 60.0), \
            player.finish()
        spin_until(executor, lambda: len(consumer.images) >= 3, 1.0)
        status, output = player.finish()
    assert status == 0, output
    assert consumer.widths == [32, 33, 34], output
    assert consumer.images[0][3] > answering, 'an image came before its result could'
    assert 'published 3 images, skipped 0, 0 wait timeouts' in output, output
    assert '[WARN]' not in output, output


@pytest.mark.parametrize('case', ['empty', 'missing', 'bad_rate'])
def test_unusable_configuration_exits_1_with_one_clear_line(tmp_path, case):
    folder = tmp_path / 'images'
    params = {'folder': folder}
    if case == 'empty':
        folder.mkdir()
        expected = f"folder '{folder}' is empty"
    elif case == 'missing':
        expected = f"folder '{folder}' does not exist"
    else:
        make_folder(folder, count=1, corrupt=False)
        params['rate'] = 0.0
        expected = "parameter 'rate'"
    with NodeProcess('folder_player', **params) as player:
        status, output = player.finish(timeout=20.0)
    assert status == 1, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and '[ERROR]' in lines[0] and expected in lines[0], output


def test_sigint_during_playback_exits_0(ros, tmp_path):
    node, executor = ros
    folder = make_folder(tmp_path / 'images', count=5, corrupt=False)
    recorder = FolderRecorder(node)
    with NodeProcess('folder_player', folder=folder, rate=2.0) as player:
        assert spin_until(executor, lambda: len(recorder.images) >= 1, 20.0), player.finish()
        status, output = player.finish(signal.SIGINT)
    assert status == 0, output
    assert len(recorder.images) < 5
    assert 'interrupted: published' in output
    assert 'Traceback' not in output
    assert 'rosout' not in output  # nothing logged to a shut-down /rosout publisher
