"""A player thread's waits on its consumer: the discovery gate, then lock-step with its results.

`engine.pacing` holds the rules as plain state; this is their ROS side for a player that
publishes from a thread of its own and may block there (webcam_publisher's capture thread): it
looks at the graph for `DiscoveryGate`, subscribes the result topic for `LockStepPacer`, and
sleeps until the next frame may go. The executor thread only delivers the results.
"""

from __future__ import annotations

import math
import threading

from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from ..engine.pacing import DiscoveryGate, LockStepPacer, consumer_missing
from .folder_player import UNKNOWN_NODE, get_message_type
from .node_support import FatalError

DISCOVERY_POLL_S = 0.05  # between looks at the graph before the first frame
RESULT_POLL_S = 1.0  # longest wait for a result before looking again (wait_timeout may change)


class LockStep:
    """Before the first frame the gate; in lock-step mode (a result topic) one frame in flight.

    `publishers`: the image publisher first, then the others whose known subscribers must be
    matched too. Without `wait_for_topic` only the first wait is made, bounded by
    `wait_for_subscriber`. `wait_timeout` and `wait_for_subscriber` may be set at any time.
    The player's rate is its own business: the pacer here only holds a frame in flight.
    """

    def __init__(self, node: Node, publishers: list[Publisher], wait_for_topic: str,
                 wait_for_type: str, wait_timeout: float, wait_for_subscriber: float):
        self._node, self._publishers = node, publishers
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
        self._gate = DiscoveryGate(self._unmatched, self._results and self._consumer_missing,
                                   wait_for_subscriber)
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

    def _consumer_missing(self) -> str:
        image = self._publishers[0]
        return consumer_missing(image.topic_name, image.get_subscription_count(),
                                self._results.topic_name, self._results.get_publisher_count())

    def _unmatched(self) -> str:
        """What discovery still waits for ('' when nothing).

        A subscriber on the image; every known subscriber of each publisher matched; in
        lock-step mode, a node that publishes the results subscribing the image (the consumer,
        as opposed to, say, a bag recorder).
        """
        node, image = self._node, self._publishers[0]
        missing = [f"match with the subscribers of '{pub.topic_name}'" for pub in self._publishers
                   if pub.get_subscription_count() < node.count_subscribers(pub.topic_name)]
        if image.get_subscription_count() == 0:
            missing.insert(0, f"subscriber on '{image.topic_name}'")
        if self._results is not None:
            producers = {(info.node_namespace, info.node_name) for info in
                         node.get_publishers_info_by_topic(self._results.topic_name)
                         if info.node_name != UNKNOWN_NODE}
            readers = {(info.node_namespace, info.node_name) for info in
                       node.get_subscriptions_info_by_topic(image.topic_name)}
            if not producers & readers:
                missing.append(f"subscriber on '{image.topic_name}' in a node that publishes "
                               f"'{self._results.topic_name}'")
        return ' and '.join(missing)
