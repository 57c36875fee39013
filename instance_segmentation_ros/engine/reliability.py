"""The reliability segmentation_node subscribes an input with, from its publishers' offers.

The rule alone, without ROS: the node's `adaptive_input` asks it every time it looks at the
publishers, and makes the subscription it names.
"""

from __future__ import annotations

from collections.abc import Sequence

RELIABLE, BEST_EFFORT = 'reliable', 'best_effort'
BEST_EFFORT_UNSEEN_S = 5.0
"""Seconds `auto` waits for a first publisher before it subscribes best effort anyway."""


def input_reliability(setting: str, offered: Sequence[str], current: str | None = None,
                      unseen_s: float = 0.0) -> str | None:
    """The reliability to subscribe with (RELIABLE or BEST_EFFORT); None: no subscription yet.

    `offered`: each publisher's reliability; `current`: the subscription's now (None: none);
    `unseen_s`: seconds the input has been watched. `auto` follows image_proc: reliable when
    every publisher is reliable (no frame of a large image is then lost to best effort), best
    effort when any is not. With no publisher it keeps the subscription it has; without one it
    waits `BEST_EFFORT_UNSEEN_S` for a publisher, then subscribes best effort, which matches any
    publisher: a Fast DDS discovery server's client hears of a publisher only once it has a
    subscription of the topic, so waiting for one to appear first would wait forever.
    """
    if setting != 'auto':
        return setting
    if not offered:
        if current is None and unseen_s >= BEST_EFFORT_UNSEEN_S:
            return BEST_EFFORT
        return current
    return RELIABLE if all(policy == RELIABLE for policy in offered) else BEST_EFFORT
