"""The node's input subscriptions: a reliability that follows the publishers, and their notices.

With `input_reliability: auto` each input topic (the image, and the depth topics) is subscribed
as `engine.reliability` says: reliable when every publisher is, best effort when any is not or
while none was seen for a few seconds, and subscribed again when the publishers change. A new
subscription is made before the old one goes, and takes over the frames once it is matched, so
that a lock-step player's frame is not lost in between. The image topics' publishers are also
watched (`PublisherPresence`): a topic that never had one is said once after a while, with the
remap that would fix it unless a remap is already in place; publishers that went away (a folder
played, a bag or a video over) are said once as such, and /diagnostics says what the node waits
for; frames that stop coming from a matched publisher are a warning, said once in the log with
the fix (frames too large for a network link never arrive whole).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.subscription import Subscription
from sensor_msgs.msg import CompressedImage, Image

from ..core.compressed import compressed_msg_to_bgr
from ..core.image_conversion import image_msg_to_bgr
from ..engine.diagnostics import PublisherPresence
from ..engine.reliability import BEST_EFFORT, RELIABLE, input_reliability

INPUT_CHECK_PERIOD_S = 0.5
NO_PUBLISHER_NOTICE_S = 5.0
NO_FRAME_WARNING_S = 10.0
"""Seconds without a frame from a matched publisher, none in flight, before the node warns."""
TAKE_OVER_S = 2.0
"""Longest a new subscription waits to be matched with every publisher before it takes over."""
RELIABILITIES = {BEST_EFFORT: ReliabilityPolicy.BEST_EFFORT,
                 RELIABLE: ReliabilityPolicy.RELIABLE}
# input_transport -> (message type, image_transport's topic suffix, decoder)
TRANSPORTS = {'raw': (Image, '', image_msg_to_bgr),
              'compressed': (CompressedImage, '/compressed', compressed_msg_to_bgr)}
STALL_HINTS = {
    'raw': 'set input_transport: compressed on the node and publish compressed images, '
           'or use a faster link',
    'compressed': "lower the camera's JPEG quality or frame rate, or use a faster link"}


def stall_hint(transport: str) -> str:
    """What to do when frames stop coming from a matched publisher of `transport` images."""
    return ('is the camera sending? Frames too large for the network link never arrive whole: '
            + STALL_HINTS[transport])


@dataclass
class _Subscribed:
    """One subscription of an input topic, with its reliability and when it was made."""

    reliability: str
    made: float
    subscription: Subscription | None = None


class AdaptiveInput:
    """The subscriptions of `node` to its input topics, made to match their publishers.

    `reliability` is the input_reliability setting; `depth` and `every_frame` set the QoS
    history (every_frame: DDS keeps every sample, so that frames are only dropped, and counted,
    by the pipeline's queue). `transport` (input_transport) picks the hint of a stall.
    `presence` holds the watched image topics' publishers.
    """

    def __init__(self, node: Node, reliability: str, depth: int, every_frame: bool,
                 transport: str = 'raw'):
        self._node = node
        self._setting = reliability
        self._stall_hint = stall_hint(transport)
        self._qos = dict(depth=depth, durability=qos_profile_sensor_data.durability,
                         history=(HistoryPolicy.KEEP_ALL if every_frame
                                  else qos_profile_sensor_data.history))
        self._inputs = {}  # topic -> (message type, callback)
        self._in_flight = {}  # watched topic -> whether a frame of it is in the pipeline
        self._subscriptions: dict[str, _Subscribed] = {}  # the ones that deliver
        self._taking_over: dict[str, _Subscribed] = {}  # made, not yet matched
        self._started = time.monotonic()
        self.presence: dict[str, PublisherPresence] = {}

    def add(self, topic: str, message_type, callback, watched_name: str | None = None,
            in_flight: Callable[[], bool] | None = None):
        """An input topic; with `watched_name`, what a remap of it names, a watched one.

        `in_flight()` says whether a frame of a watched topic is in the node's pipeline.
        """
        if watched_name is not None:
            presence = self.presence[topic] = PublisherPresence(
                topic, time.monotonic(), NO_PUBLISHER_NOTICE_S, self._remap_hint(watched_name),
                NO_FRAME_WARNING_S, self._stall_hint)
            self._in_flight[topic] = in_flight or (lambda: False)
            received = callback

            def callback(message):
                presence.frame_received()
                received(message)
        self._inputs[topic] = (message_type, callback)

    def start(self):
        """Subscribe what can be subscribed now, and look at the publishers from now on."""
        self._started = time.monotonic()
        self.check()
        self._node.create_timer(INPUT_CHECK_PERIOD_S, self.check)

    def _remap_hint(self, name: str) -> str:
        """The remap to suggest for `name` when nobody publishes it; none where one is in place."""
        if self._node.resolve_topic_name(name) != self._node.resolve_topic_name(
                name, only_expand=True):
            return ''
        return f'remap {name} to the camera topic, e.g. -r {name}:=/camera/image_raw'

    def check(self):
        """Say what changed about the watched publishers; subscribe as the publishers need."""
        logger = self._node.get_logger()
        now = time.monotonic()
        for topic in self._inputs:
            publishers = self._node.get_publishers_info_by_topic(topic)
            offered = [RELIABLE if info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                       else BEST_EFFORT for info in publishers]
            current = self._subscriptions.get(topic)
            presence = self.presence.get(topic)
            if presence is not None:
                # Those the subscription matches: a reliable one does not match best effort.
                matched = 0 if current is None else sum(
                    current.reliability == BEST_EFFORT or policy == RELIABLE
                    for policy in offered)
                line = presence.update(len(publishers), now)
                if line:
                    (logger.info if presence.seen else logger.warning)(line)
                stall = presence.watch_frames(now, matched, self._in_flight[topic]())
                if stall:
                    logger.warning(stall)
            wanted = input_reliability(self._setting, offered,
                                       None if current is None else current.reliability,
                                       now - self._started)
            self._follow(topic, wanted, len(publishers), now)

    def _follow(self, topic: str, wanted: str | None, publishers: int, now: float):
        """Make the subscription `wanted`; one that replaces another takes over once matched."""
        current, new = self._subscriptions.get(topic), self._taking_over.get(topic)
        if new is not None and new.reliability != wanted:
            self._node.destroy_subscription(new.subscription)
            del self._taking_over[topic]
            new = None
        if wanted is None or (current is not None and current.reliability == wanted):
            return
        if current is None:
            self._subscriptions[topic] = self._subscribe(topic, wanted, now)
            self._said_subscribing(topic, wanted, publishers)
            return
        if new is None:
            new = self._taking_over[topic] = self._subscribe(topic, wanted, now)
        if new.subscription.get_publisher_count() < publishers and now - new.made < TAKE_OVER_S:
            return
        self._subscriptions[topic] = self._taking_over.pop(topic)
        self._node.destroy_subscription(current.subscription)
        self._said_subscribing(topic, wanted, publishers)

    def _subscribe(self, topic: str, reliability: str, now: float) -> _Subscribed:
        """A subscription of `topic` whose messages count only while it is the topic's own."""
        message_type, callback = self._inputs[topic]
        made = _Subscribed(reliability, now)

        def deliver(message):
            if self._subscriptions.get(topic) is made:
                callback(message)

        made.subscription = self._node.create_subscription(
            message_type, topic, deliver,
            QoSProfile(reliability=RELIABILITIES[reliability], **self._qos))
        return made

    def _said_subscribing(self, topic: str, reliability: str, publishers: int):
        if self._setting != 'auto':
            return
        how = reliability.replace('_', ' ')
        self._node.get_logger().info(
            f'{publishers} publisher(s) on {topic}: subscribing {how}' if publishers else
            f'subscribing {topic} {how} before any publisher is seen: it matches any '
            'publisher (a discovery server tells of publishers only to a subscription)')
