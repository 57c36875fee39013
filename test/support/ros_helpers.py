"""Helpers for tests that talk to nodes over real DDS."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import rclpy
from rcl_interfaces.msg import SetParametersResult
from rcl_interfaces.srv import SetParametersAtomically
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter


class SpinningGraph:
    """An rclpy context whose nodes are spun by a background executor thread.

    The thread runs every callback itself and stops between two of them on `close`, so that
    nodes are destroyed only when no callback of theirs is running.
    """

    def __init__(self, args=None):
        self.context = rclpy.Context()
        rclpy.init(args=args, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        while not self._stop.is_set():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # a context shut down by a test ends the spin
                if not rclpy.ok(context=self.context):
                    return
                raise

    def add(self, node):
        self.executor.add_node(node)
        return node

    def node(self, name: str):
        return self.add(rclpy.create_node(name, context=self.context))

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5.0)
        for node in list(self.executor.get_nodes()):
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown(timeout_sec=2.0)
        rclpy.try_shutdown(context=self.context)


def wait_for(condition, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll `condition` until it is true or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def wait_future(future, timeout: float = 10.0):
    """Result of an rclpy future completed by the background executor."""
    assert wait_for(future.done, timeout), 'future did not complete in time'
    return future.result()


class Collector:
    """Subscription callback that keeps every message."""

    def __init__(self):
        self.messages = []
        self._lock = threading.Lock()

    def __call__(self, message):
        with self._lock:
            self.messages.append(message)

    def __len__(self):
        with self._lock:
            return len(self.messages)

    def clear(self):
        with self._lock:
            self.messages.clear()

    @property
    def last(self):
        with self._lock:
            return self.messages[-1]


def start_process(command: list[str], **kwargs) -> subprocess.Popen:
    """Start a node process in its own process group, output captured as text."""
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=os.environ.copy(), start_new_session=True, **kwargs)


def stop_process(process: subprocess.Popen, sig=signal.SIGINT, timeout: float = 10.0):
    """Stop with SIGINT (Fast DDS cleans up its shared memory then); returns (code, output)."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return process.returncode, output


def ros2() -> str | None:
    """The `ros2` command, preferring the one beside this interpreter; None without one."""
    beside = Path(sys.executable).parent / 'ros2'
    return str(beside) if beside.exists() else shutil.which('ros2')


def console_command(script: str) -> list[str]:
    """The installed console script, or the module when the scripts are not on disk."""
    path = Path(sys.executable).parent / script
    if path.exists():
        return [str(path)]
    return [sys.executable, '-m', f'instance_segmentation_ros.{script}']


class NodeProcess:
    """A node started as a subprocess with this test's environment; stopped with SIGINT."""

    def __init__(self, script, remaps=(), **params):
        command = console_command(script) + ['--ros-args']
        for name, value in params.items():
            command += ['-p', f'{name}:={value}']
        for remap in remaps:
            command += ['-r', remap]
        env = dict(os.environ, RCUTILS_COLORIZED_OUTPUT='0', PYTHONUNBUFFERED='1')
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.output = None

    @property
    def returncode(self):
        return self.proc.poll()

    def finish(self, sig=None, timeout=10.0):
        """Optionally signal the process, wait for it, and return (exit status, output)."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.output, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.output, _ = self.proc.communicate()
            raise
        return self.proc.returncode, self.output

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()


def spin_until(executor, condition, timeout):
    """Spin until condition() is true or timeout seconds passed; return condition()."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.02)
    return condition()


def set_parameters_atomically(node, executor, target: str,
                              parameters: list[Parameter]) -> SetParametersResult:
    """Set parameters of the node named `target` in one all-or-nothing service request."""
    client = node.create_client(SetParametersAtomically, f'{target}/set_parameters_atomically')
    assert spin_until(executor, client.service_is_ready, 10.0)
    future = client.call_async(SetParametersAtomically.Request(
        parameters=[parameter.to_parameter_msg() for parameter in parameters]))
    assert spin_until(executor, future.done, 10.0)
    node.destroy_client(client)
    return future.result().result
