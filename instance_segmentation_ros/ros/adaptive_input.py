"""The node's input subscriptions: a reliability that follows the publishers, and their notices.

With `input_reliability: auto` each input topic (the image, and the depth topics) is subscribed
when its first publisher appears, reliable when every publisher is, and subscribed again when
the publishers change. The image topics' publishers are also watched (`PublisherPresence`): a
topic that never had one is said once after a while, with the remap that would fix it unless a
remap is already in place; publishers that went away (a folder played, a bag or a video over)
are said once as such, and /diagnostics says what the node waits for.
"""

from __future__ import annotations

import time

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image

from ..core.compressed import compressed_msg_to_bgr
from ..core.image_conversion import image_msg_to_bgr
from ..engine.diagnostics import PublisherPresence

INPUT_CHECK_PERIOD_S = 0.5
NO_PUBLISHER_NOTICE_S = 5.0
RELIABILITIES = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
                 'reliable': ReliabilityPolicy.RELIABLE}
# input_transport -> (message type, image_transport's topic suffix, decoder)
TRANSPORTS = {'raw': (Image, '', image_msg_to_bgr),
              'compressed': (CompressedImage, '/compressed', compressed_msg_to_bgr)}


def input_reliability(setting: str, offered: list) -> ReliabilityPolicy | None:
    """The reliability to subscribe to the image topic with, given its publishers' offers.

    `auto` follows image_proc: reliable when every publisher is reliable (no frame of a large
    image is then lost to best effort), best effort when any is, and None (do not subscribe
    yet) while there is no publisher to match.
    """
    if setting != 'auto':
        return RELIABILITIES[setting]
    if not offered:
        return None
    if all(policy == ReliabilityPolicy.RELIABLE for policy in offered):
        return ReliabilityPolicy.RELIABLE
    return ReliabilityPolicy.BEST_EFFORT


class AdaptiveInput:
    """The subscriptions of `node` to its input topics, made to match their publishers.

    `reliability` is the input_reliability setting; `depth` and `every_frame` set the QoS
    history (every_frame: DDS keeps every sample, so that frames are only dropped, and counted,
    by the pipeline's queue). `presence` holds the watched image topics' publishers.
    """

    def __init__(self, node: Node, reliability: str, depth: int, every_frame: bool):
        self._node = node
        self._setting = reliability
        self._qos = dict(depth=depth, durability=qos_profile_sensor_data.durability,
                         history=(HistoryPolicy.KEEP_ALL if every_frame
                                  else qos_profile_sensor_data.history))
        self._inputs = {}  # topic -> (message type, callback)
        self._subscriptions = {}
        self.presence: dict[str, PublisherPresence] = {}

    def add(self, topic: str, message_type, callback, watched_name: str | None = None):
        """An input topic; with `watched_name`, what a remap of it names, a watched one."""
        if watched_name is not None:
            presence = self.presence[topic] = PublisherPresence(
                topic, time.monotonic(), NO_PUBLISHER_NOTICE_S, self._remap_hint(watched_name))
            received = callback

            def callback(message):
                presence.frame_received()
                received(message)
        self._inputs[topic] = (message_type, callback)

    def start(self):
        """Subscribe what can be subscribed now, and look at the publishers from now on."""
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
        for topic, (message_type, callback) in self._inputs.items():
            publishers = self._node.get_publishers_info_by_topic(topic)
            presence = self.presence.get(topic)
            line = presence and presence.update(len(publishers), time.monotonic())
            if line:
                (logger.info if presence.seen else logger.warning)(line)
            wanted = input_reliability(self._setting,
                                       [info.qos_profile.reliability for info in publishers])
            current = self._subscriptions.get(topic)
            if wanted is None or (current is not None
                                  and current.qos_profile.reliability == wanted):
                continue
            if current is not None:
                self._node.destroy_subscription(current)
            self._subscriptions[topic] = self._node.create_subscription(
                message_type, topic, callback, QoSProfile(reliability=wanted, **self._qos))
            if self._setting == 'auto':
                logger.info(
                    f'{len(publishers)} publisher(s) on {topic}: subscribing '
                    f'{"reliable" if wanted == ReliabilityPolicy.RELIABLE else "best effort"}')
