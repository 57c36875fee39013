"""The input reliability rule: `auto` follows the publishers, and never waits forever for one."""

from __future__ import annotations

from instance_segmentation_ros.engine.reliability import (
    BEST_EFFORT,
    BEST_EFFORT_UNSEEN_S,
    RELIABLE,
    input_reliability,
)


def test_auto_is_reliable_only_when_every_publisher_is():
    assert input_reliability('auto', [RELIABLE, RELIABLE]) == RELIABLE
    assert input_reliability('auto', [RELIABLE, BEST_EFFORT]) == BEST_EFFORT
    assert input_reliability('auto', [BEST_EFFORT], current=RELIABLE) == BEST_EFFORT


def test_a_given_reliability_is_kept_whatever_the_publishers_offer():
    assert input_reliability(BEST_EFFORT, [RELIABLE]) == BEST_EFFORT
    assert input_reliability(RELIABLE, []) == RELIABLE


def test_auto_without_a_publisher_waits_then_subscribes_best_effort():
    """A discovery server's client hears of a publisher only once it has a subscription."""
    assert input_reliability('auto', [], unseen_s=0.0) is None
    assert input_reliability('auto', [], unseen_s=BEST_EFFORT_UNSEEN_S - 0.1) is None
    assert input_reliability('auto', [], unseen_s=BEST_EFFORT_UNSEEN_S) == BEST_EFFORT


def test_auto_keeps_its_subscription_while_the_publishers_are_away():
    assert input_reliability('auto', [], current=RELIABLE, unseen_s=100.0) == RELIABLE
    assert input_reliability('auto', [], current=BEST_EFFORT) == BEST_EFFORT
