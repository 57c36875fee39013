"""A player thread's waits on its consumer: the discovery gate, then lock-step with its results.

`engine.pacing` holds the rules as plain state and `discovery` reads the graph for the gate;
this is their side for a player that publishes from a thread of its own and may block there
(webcam_publisher's capture thread), where folder_player turns them into timers: it subscribes
the result topic for `LockStepPacer` and sleeps until the next frame may go. The executor
thread only delivers the results.
"""

from __future__ import annotations

import math
import threading

from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from ..engine.pacing import LockStepPacer
from .discovery import discovery_gate
from .message_types import get_message_type
from .node_support import FatalError

DISCOVERY_POLL_S = 0.05  # between looks at the graph before the first frame
RESULT_POLL_S = 1.0  # longest wait for a result before looking again (wait_timeout may change)


class LockStep:
    """Before the first frame the gate; in lock-step mode (a result topic) one frame in flight.

    `publishers`: the image publisher first, then the others whose known subscribers must be
    matched too (`discovery.discovery_gate`). Without `wait_for_topic` only the first wait is
    made, bounded by `wait_for_subscriber`. `wait_timeout` and `wait_for_subscriber` may be set
    at any time. The player's rate is its own business: the pacer only holds a frame in flight.
    """

    def __init__(self, node: Node, publishers: list[Publisher], wait_for_topic: str,
                 wait_for_type: str, wait_timeout: float, wait_for_subscriber: float):
        self._node = node
        self._results = None
        if wait_for_topic:
            try:
                message_type = get_message_type(wait_for_type)
            except ValueError as exc:
                raise FatalError(f'wait_for_type: {exc}') from None
            # Best effort matches any publisher; a lost result costs one wait_timeout.
            self._results = node.create_subscription(
                message_type, wait_for_topic, self._on_result,
                QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                           reliability=ReliabilityPolicy.BEST_EFFORT))
        self._gate = discovery_gate(node, publishers[0], publishers[1:], self._results,
                                    wait_for_subscriber=wait_for_subscriber)
        self._pacer = LockStepPacer(math.inf, wait_timeout, lock_step=self.lock_step)
        self._changed = threading.Condition()
        self._stopped = False

    @property
    def lock_step(self) -> bool:
        """Whether each frame waits for a result of the one before."""
        return self._results is not None

    @property
    def topic_name(self) -> str:
        """The result topic, resolved."""
        return self._results.topic_name

    @property
    def timeouts(self) -> int:
        """Waits for a result that ran out."""
        return self._pacer.timeouts

    @property
    def delivery_confirmed(self) -> bool:
        """Whether the consumer answered the latest frame, which so surely arrived."""
        return self._pacer.delivery_confirmed

    def set_wait_timeout(self, seconds: float) -> None:
        """Seconds a frame waits for its result from now on (0: forever)."""
        with self._changed:
            self._pacer.wait_timeout = seconds
            self._changed.notify_all()

    def set_wait_for_subscriber(self, seconds: float) -> None:
        """Bound of the wait for the subscribers before the first frame."""
        self._gate.wait_for_subscriber = seconds

    def wait_for_consumer(self) -> bool:
        """Block until the first frame may go (logging what it waits for); False when stopped."""
        logger = self._node.get_logger()
        with self._changed:
            while not self._stopped:
                step = self._gate.poll()
                if step.info:
                    logger.info(step.info)
                if step.warning:
                    logger.warning(step.warning)
                if step.start:
                    return True
                self._changed.wait(DISCOVERY_POLL_S)
        return False

    def sent(self, what: str) -> bool:
        """A frame (`what`, in the log) went out: in lock-step mode wait for its result.

        Blocks until the result or the timeout; False when stopped.
        """
        with self._changed:
            self._pacer.sent()
            while not self._stopped:
                pace = self._pacer.poll()
                if pace.timed_out:
                    self._node.get_logger().warning(
                        f"no message on '{self.topic_name}' within "
                        f'{self._pacer.wait_timeout:g} s after {what}; going on')
                if pace.go:
                    return True
                self._changed.wait(min(pace.wait_s or RESULT_POLL_S, RESULT_POLL_S))
        return False

    def stop(self) -> None:
        """End a wait at once, from any thread."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def _on_result(self, _message):
        with self._changed:
            if self._pacer.acknowledged():
                self._changed.notify_all()
