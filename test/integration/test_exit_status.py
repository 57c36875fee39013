"""Exit status of the node processes when Ctrl+C (SIGINT) or SIGTERM comes at any moment.

Documented: 0 for Ctrl+C or SIGTERM, whenever it comes (1 stays a fatal start error, and
folder_player's 0 when the folder is done), and never a traceback. Each test starts a node's
console script, waits for one moment of its life, sends the signal and checks the status. The
moments are observed, not timed: the node's extension modules appearing in /proc/PID/maps
(imports under way), its log lines (model load, warm-up, spinning, done), so that the tests hold
on a busy machine; generous timeouts only bound a hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest
from helper_nodes import make_folder, write_video
from ros_helpers import console_command

START_TIMEOUT = 180.0  # s for a moment to come: TensorFlow imports slowly on a busy machine
EXIT_TIMEOUT = 60.0  # s for the process to end after the signal
RCLPY_LOADED = '_rclpy_pybind11'  # in /proc/PID/maps: the node module's imports are under way
TENSORFLOW_LOADED = 'libtensorflow_framework'  # segmentation_node importing TensorFlow


class LiveNode:
    """A node's console script whose output is read line by line while it runs."""

    def __init__(self, script, **params):
        command = console_command(script) + ['--ros-args']
        for name, value in params.items():
            command += ['-p', f'{name}:={value}']
        env = dict(os.environ, RCUTILS_COLORIZED_OUTPUT='0', PYTHONUNBUFFERED='1')
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        self.lines = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self):
        with self._changed:
            return ''.join(self.lines)

    def wait_for_line(self, text, timeout=START_TIMEOUT):
        """Wait until a line containing ``text`` was printed; False if the process ended."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in self.lines):
                if not self._reader.is_alive() or time.monotonic() > deadline:
                    return False
                self._changed.wait(0.1)
        return True

    def wait_for_library(self, name, timeout=START_TIMEOUT):
        """Wait until the process has mapped a shared library whose path contains ``name``."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                with open(f'/proc/{self.proc.pid}/maps') as maps:
                    if name in maps.read():
                        return True
            except OSError:  # the process is ending
                return False
            time.sleep(0.005)
        return False

    def send(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def finish(self, timeout=EXIT_TIMEOUT):
        """Wait for the exit; return (status, output). A hang is killed and fails the test."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(10)
            pytest.fail(f'still running {timeout:g} s after the signal:\n{self.output}')
        self._reader.join(10)
        return self.proc.returncode, self.output

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(10)


def interrupt(node, sig, then=()):
    """Send ``sig``, then each (delay, signal) of ``then``; return (status, output)."""
    node.send(sig)
    for delay, extra in then:
        time.sleep(delay)
        node.send(extra)
    return node.finish()


def assert_clean_exit(status, output, expected=0):
    assert status == expected, f'exit status {status}:\n{output}'
    assert 'Traceback' not in output, output
    assert 'KeyboardInterrupt' not in output, output


SECOND_SIGINT = ((0.05, signal.SIGINT),)  # a user pressing Ctrl+C twice
SECOND_SIGINTS = ((0.05, signal.SIGINT), (0.3, signal.SIGINT))


# segmentation_node (the built-in demo model: no model_path) --------------------------------

@pytest.mark.parametrize('moment, sig, then', [
    (RCLPY_LOADED, signal.SIGINT, ()),
    (TENSORFLOW_LOADED, signal.SIGINT, SECOND_SIGINT),
    (TENSORFLOW_LOADED, signal.SIGTERM, ()),
], ids=['sigint-importing-rclpy', 'sigint-twice-importing-tensorflow',
        'sigterm-importing-tensorflow'])
def test_segmentation_node_interrupted_while_importing_exits_0(moment, sig, then):
    with LiveNode('segmentation_node') as node:
        assert node.wait_for_library(moment), node.finish()
        status, output = interrupt(node, sig, then)
    assert_clean_exit(status, output)


@pytest.mark.parametrize('line, sig, then', [
    ('model_path is empty', signal.SIGINT, ()),
    ('model_path is empty', signal.SIGTERM, ()),
    ('loaded', signal.SIGINT, SECOND_SIGINT),
    ('segmenting', signal.SIGINT, SECOND_SIGINTS),
    ('segmenting', signal.SIGTERM, ((0.1, signal.SIGTERM),)),
], ids=['sigint-loading-model', 'sigterm-loading-model', 'sigint-twice-warming-up',
        'sigint-thrice-spinning', 'sigterm-twice-spinning'])
def test_segmentation_node_interrupted_after_start_exits_0(line, sig, then):
    with LiveNode('segmentation_node') as node:
        assert node.wait_for_line(line), node.finish()
        status, output = interrupt(node, sig, then)
    assert_clean_exit(status, output)


# folder_player ---------------------------------------------------------------------------

def test_folder_player_interrupted_while_importing_exits_0(tmp_path):
    folder = make_folder(tmp_path / 'images', count=2, corrupt=False)
    with LiveNode('folder_player', folder=folder) as node:
        assert node.wait_for_library(RCLPY_LOADED), node.finish()
        status, output = interrupt(node, signal.SIGINT, SECOND_SIGINT)
    assert_clean_exit(status, output)


@pytest.mark.parametrize('delay', [0.0, 0.05, 0.15, 0.3])
def test_folder_player_interrupted_after_done_exits_0(tmp_path, delay):
    """The SIGINT `ros2 launch` sends everything when folder_player ends the launch."""
    folder = make_folder(tmp_path / 'images', count=2, corrupt=False)
    with LiveNode('folder_player', folder=folder, rate=50.0, wait_for_subscriber=0.0) as node:
        assert node.wait_for_line('done with'), node.finish()
        time.sleep(delay)
        status, output = interrupt(node, signal.SIGINT, SECOND_SIGINT)
    assert_clean_exit(status, output)
    assert 'published 2 images' in output


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_folder_player_interrupted_twice_while_playing_exits_0(tmp_path, sig):
    folder = make_folder(tmp_path / 'images', count=3, corrupt=False)
    with LiveNode('folder_player', folder=folder, rate=20.0, loop='true',
                  wait_for_subscriber=0.0) as node:
        assert node.wait_for_line('playing'), node.finish()
        status, output = interrupt(node, sig, SECOND_SIGINTS)
    assert_clean_exit(status, output)


# webcam_publisher (a video file as the source; nobody subscribes, so it waits for no one) -

def test_webcam_publisher_interrupted_while_importing_exits_0(tmp_path):
    video = write_video(tmp_path / 'camera.avi', frames=10)
    with LiveNode('webcam_publisher', device=video, loop_video='true') as node:
        assert node.wait_for_library(RCLPY_LOADED), node.finish()
        status, output = interrupt(node, signal.SIGTERM, SECOND_SIGINT)
    assert_clean_exit(status, output)


@pytest.mark.parametrize('delay', [0.0, 0.15])
def test_webcam_publisher_interrupted_after_the_video_ends_exits_0(tmp_path, delay):
    video = write_video(tmp_path / 'camera.avi', frames=10)
    with LiveNode('webcam_publisher', device=video, reconnect='false', fps=100.0,
                  wait_for_subscriber=0.0) as node:
        assert node.wait_for_line('end of'), node.finish()
        time.sleep(delay)
        status, output = interrupt(node, signal.SIGINT, SECOND_SIGINT)
    assert_clean_exit(status, output)


def test_webcam_publisher_interrupted_twice_while_streaming_exits_0(tmp_path):
    video = write_video(tmp_path / 'camera.avi', frames=10)
    with LiveNode('webcam_publisher', device=video, loop_video='true',
                  wait_for_subscriber=0.0) as node:
        assert node.wait_for_line('opened'), node.finish()
        status, output = interrupt(node, signal.SIGINT, SECOND_SIGINTS)
    assert_clean_exit(status, output)
