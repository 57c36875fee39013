"""Helpers for tests that talk to nodes over real DDS."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import rclpy
from rclpy.executors import MultiThreadedExecutor


class SpinningGraph:
    """An rclpy context whose nodes are spun by a background executor thread."""

    def __init__(self, args=None):
        self.context = rclpy.Context()
        rclpy.init(args=args, context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=3, context=self.context)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        try:
            self.executor.spin()
        except Exception:  # shutdown races end the spin
            pass

    def add(self, node):
        self.executor.add_node(node)
        return node

    def node(self, name: str):
        return self.add(rclpy.create_node(name, context=self.context))

    def close(self):
        for node in list(self.executor.get_nodes()):
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown(timeout_sec=2.0)
        rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=5.0)


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
