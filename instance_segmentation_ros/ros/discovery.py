"""What a player of recorded images reads of the ROS graph for `engine.pacing.DiscoveryGate`.

Discovery takes time, and a reliable publisher's first messages are lost until its
subscribers are matched: the gate asks these functions what is still missing. They count what
rclpy sees; the rules for how long to wait are the gate's.
"""

from __future__ import annotations

from collections.abc import Sequence

from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.subscription import Subscription

from ..engine.pacing import DiscoveryGate, consumer_missing

UNKNOWN_NODE = '_NODE_NAME_UNKNOWN_'  # the graph's node name before discovery completes


def discovery_gate(node: Node, image_pub: Publisher, other_pubs: Sequence[Publisher] = (),
                   result_sub: Subscription | None = None,
                   consumer_inputs: Sequence[Publisher] = (), wait_for_subscriber: float = 10.0,
                   start_delay: float = 0.0) -> DiscoveryGate:
    """The gate before the first image of `image_pub`, with `node`'s graph as its input.

    Bounded wait: `image_pub` has a subscriber, and every known subscriber of it and of
    `other_pubs` is matched. Lock-step mode (`result_sub`, the consumer's results): first, for
    as long as it takes, a subscriber on the image and a publisher of the results are matched;
    then, bounded, a node that publishes the results subscribes the image and each of
    `consumer_inputs` (a consumer of an RGB-D pair must have both before the first image).
    """
    inputs = [image_pub.topic_name, *(publisher.topic_name for publisher in consumer_inputs)]

    def unmatched() -> str:
        missing = []
        matched = image_pub.get_subscription_count()
        if matched == 0 or matched < node.count_subscribers(image_pub.topic_name):
            missing.append(f"subscriber on '{image_pub.topic_name}'")
        for publisher in other_pubs:
            if publisher.get_subscription_count() < node.count_subscribers(publisher.topic_name):
                missing.append(f"match with the subscribers of '{publisher.topic_name}'")
        if result_sub is not None and not consumer_subscribes(node, result_sub.topic_name,
                                                              inputs):
            missing.append(f"subscriber on {' and '.join(repr(topic) for topic in inputs)} in "
                           f"a node that publishes '{result_sub.topic_name}'")
        return ' and '.join(missing)

    def consumer() -> str:
        return consumer_missing(image_pub.topic_name, image_pub.get_subscription_count(),
                                result_sub.topic_name, result_sub.get_publisher_count())

    return DiscoveryGate(unmatched, consumer if result_sub is not None else None,
                         wait_for_subscriber, start_delay)


def consumer_subscribes(node: Node, result_topic: str, input_topics: Sequence[str]) -> bool:
    """Whether a node that publishes `result_topic` subscribes every one of `input_topics`."""
    publishers = {(info.node_namespace, info.node_name)
                  for info in node.get_publishers_info_by_topic(result_topic)
                  if info.node_name != UNKNOWN_NODE}
    subscribers = [{(info.node_namespace, info.node_name)
                    for info in node.get_subscriptions_info_by_topic(topic)}
                   for topic in input_topics]
    return any(all(name in names for names in subscribers) for name in publishers)
