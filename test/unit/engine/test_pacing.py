"""The discovery gate and the lock-step pacer, driven by a fake clock: no test sleeps.

DiscoveryGate: without lock-step the first image waits at most wait_for_subscriber for
discovery, then a warning names what is missing (none for 0); in lock-step the consumer is
waited for however long it takes, with a progress line every PROGRESS_INTERVAL, and only then
is the rest bounded; start_delay comes after either. LockStepPacer: the rate bound on a grid,
one image in flight, its result or wait_timeout releasing the next, and changes at run time.
"""

from __future__ import annotations

import math

import pytest
from manual_clock import ManualClock

from instance_segmentation_ros.engine.pacing import (
    PROGRESS_INTERVAL,
    DiscoveryGate,
    GateStep,
    LockStepPacer,
    Pace,
    consumer_missing,
)


class Graph:
    """What the gate's callables report: set `missing_consumer` and `unmatched` as a test goes."""

    def __init__(self, missing_consumer: str = '', unmatched: str = ''):
        self.missing_consumer, self.unmatched = missing_consumer, unmatched

    def gate(self, clock: ManualClock, lock_step: bool = False, **settings) -> DiscoveryGate:
        return DiscoveryGate(lambda: self.unmatched,
                             (lambda: self.missing_consumer) if lock_step else None,
                             now=clock, **settings)


WAIT = GateStep()
START = GateStep(start=True)


def test_consumer_missing_words_what_the_counts_lack():
    assert consumer_missing('/image', 1, '/ack', 2) == ''
    assert consumer_missing('/image', 0, '/ack', 1) == "a subscriber on '/image'"
    assert consumer_missing('/image', 3, '/ack', 0) == "a publisher on '/ack'"
    assert consumer_missing('/image', 0, '/ack', 0) == (
        "a subscriber on '/image' and a publisher on '/ack'")


# DiscoveryGate ------------------------------------------------------------------------------

def test_the_gate_opens_at_once_when_everything_is_matched():
    assert Graph().gate(ManualClock()).poll() == START


def test_unmatched_subscribers_hold_the_start_for_wait_for_subscriber_then_warn():
    clock, graph = ManualClock(), Graph(unmatched="subscriber on '/image'")
    gate = graph.gate(clock, wait_for_subscriber=2.0)
    assert gate.poll() == WAIT
    clock.advance(1.99)
    assert gate.poll() == WAIT
    clock.advance(0.01)
    assert gate.poll() == GateStep(
        start=True, warning="still no subscriber on '/image' after 2 s; starting anyway")
    assert gate.poll() == START  # the warning once


def test_a_subscriber_matched_within_the_wait_starts_without_a_warning():
    clock, graph = ManualClock(), Graph(unmatched="subscriber on '/image'")
    gate = graph.gate(clock, wait_for_subscriber=10.0)
    clock.advance(3.0)
    assert gate.poll() == WAIT
    graph.unmatched = ''
    assert gate.poll() == START


def test_wait_for_subscriber_0_starts_at_once_and_silently():
    gate = Graph(unmatched="subscriber on '/image'").gate(ManualClock(), wait_for_subscriber=0.0)
    assert gate.poll() == START


def test_a_changed_wait_for_subscriber_applies_to_the_running_wait():
    clock, graph = ManualClock(), Graph(unmatched="subscriber on '/image'")
    gate = graph.gate(clock, wait_for_subscriber=60.0)
    clock.advance(5.0)
    assert gate.poll() == WAIT
    gate.wait_for_subscriber = 4.0
    assert gate.poll().warning == "still no subscriber on '/image' after 4 s; starting anyway"


def test_start_delay_follows_discovery():
    clock = ManualClock()
    gate = Graph().gate(clock, start_delay=1.5)
    assert gate.poll() == WAIT
    clock.advance(1.0)
    assert gate.poll() == WAIT
    clock.advance(0.5)
    assert gate.poll() == START


def test_start_delay_follows_the_warning_which_comes_once():
    clock = ManualClock()
    gate = Graph(unmatched='x').gate(clock, wait_for_subscriber=1.0, start_delay=2.0)
    clock.advance(1.0)
    assert gate.poll() == GateStep(warning='still no x after 1 s; starting anyway')
    clock.advance(1.0)
    assert gate.poll() == WAIT
    clock.advance(1.0)
    assert gate.poll() == START


def test_lock_step_waits_for_its_consumer_however_long_with_progress_lines():
    clock = ManualClock()
    graph = Graph(missing_consumer="a subscriber on '/image' and a publisher on '/ack'",
                  unmatched='y')
    gate = graph.gate(clock, lock_step=True, wait_for_subscriber=1.0)
    lines = []
    for _ in range(int(3 * PROGRESS_INTERVAL / 0.5)):  # far beyond wait_for_subscriber
        step = gate.poll()
        assert not step.start and not step.warning
        if step.info:
            lines.append(step.info)
        clock.advance(0.5)
    assert lines == [
        f"waiting for a subscriber on '/image' and a publisher on '/ack' ({seconds:.0f} s so "
        'far): in lock-step mode the first image waits for its consumer'
        for seconds in (PROGRESS_INTERVAL, 2 * PROGRESS_INTERVAL)]


def test_lock_step_bounds_only_the_rest_of_discovery_from_when_the_consumer_came():
    clock = ManualClock()
    graph = Graph(missing_consumer="a publisher on '/ack'", unmatched='z')
    gate = graph.gate(clock, lock_step=True, wait_for_subscriber=2.0)
    clock.advance(30.0)
    gate.poll()
    graph.missing_consumer = ''
    assert gate.poll() == WAIT  # the 2 s start now, not with the gate
    clock.advance(1.9)
    assert gate.poll() == WAIT
    clock.advance(0.1)
    assert gate.poll() == GateStep(start=True, warning='still no z after 2 s; starting anyway')


def test_lock_step_with_its_consumer_there_and_everything_matched_starts_at_once():
    assert Graph().gate(ManualClock(), lock_step=True).poll() == START


def test_the_graph_is_asked_for_the_rest_only_once_the_consumer_is_there():
    asked = []
    gate = DiscoveryGate(lambda: asked.append('unmatched') or '', lambda: 'a consumer',
                         now=ManualClock())
    gate.poll()
    assert asked == []


# LockStepPacer ------------------------------------------------------------------------------

def test_the_first_image_goes_at_once_then_one_per_period():
    clock = ManualClock()
    pacer = LockStepPacer(rate=4.0, now=clock)
    assert pacer.poll() == Pace(go=True)
    pacer.sent()
    assert pacer.poll() == Pace(go=False, wait_s=0.25)
    clock.advance(0.25)
    assert pacer.poll() == Pace(go=True)
    assert not pacer.in_flight and not pacer.delivery_confirmed


def test_a_timer_that_fires_a_little_late_keeps_the_grid():
    clock = ManualClock()
    pacer = LockStepPacer(rate=10.0, now=clock)
    pacer.sent()
    sent = []
    for _ in range(10):
        clock.advance(pacer.poll().wait_s + 0.01)  # every timer 10 ms late
        assert pacer.poll().go
        pacer.sent()
        sent.append(clock.time)
    assert sent[-1] - sent[0] == pytest.approx(9 * 0.1, abs=0.02)  # 10 Hz, no drift


def test_an_image_sent_periods_late_keeps_the_grid_and_skips_the_missed_slots():
    clock = ManualClock()
    pacer = LockStepPacer(rate=10.0, now=clock)
    pacer.sent()
    clock.advance(0.35)  # a slow file read, say: the slots at 0.1 and 0.2 s are gone
    assert pacer.poll().go
    pacer.sent()
    assert pacer.poll() == Pace(go=False, wait_s=pytest.approx(0.05))  # the slot at 0.4 s


def test_without_a_rate_bound_only_the_result_holds_the_next_image():
    clock = ManualClock()
    pacer = LockStepPacer(rate=math.inf, lock_step=True, now=clock)
    for _ in range(3):
        assert pacer.poll().go
        pacer.sent()
        clock.advance(0.5)
        assert pacer.poll() == Pace(go=False)
        assert pacer.acknowledged()
    pacer.lock_step = False
    for _ in range(3):  # and without lock-step nothing does
        pacer.sent()
        assert pacer.poll().go


def test_a_busy_sender_keeps_the_rate_it_can_reach():
    """Every timer 1.2 periods late (a loaded machine): one image every other slot, 15 Hz.

    Starting the grid anew at each late image gave one every 2.2 periods, 13.6 Hz.
    """
    clock = ManualClock()
    pacer = LockStepPacer(rate=30.0, now=clock)
    pacer.sent()
    start = clock.time
    for _ in range(30):
        clock.advance(pacer.poll().wait_s + 1.2 / 30)
        assert pacer.poll().go
        pacer.sent()
    assert 30 / (clock.time - start) == pytest.approx(15.0, rel=0.02)


def test_lock_step_holds_the_next_image_until_the_result_comes():
    clock = ManualClock()
    pacer = LockStepPacer(rate=50.0, wait_timeout=0.0, lock_step=True, now=clock)
    pacer.sent()
    assert pacer.in_flight
    clock.advance(1000.0)
    assert pacer.poll() == Pace(go=False)  # wait_timeout 0: for ever, nothing to poll for
    assert pacer.acknowledged()
    assert pacer.poll() == Pace(go=True)
    assert pacer.delivery_confirmed and pacer.timeouts == 0


def test_a_result_before_the_period_ends_waits_for_the_rate():
    clock = ManualClock()
    pacer = LockStepPacer(rate=2.0, wait_timeout=30.0, lock_step=True, now=clock)
    pacer.sent()
    clock.advance(0.1)
    assert pacer.acknowledged()
    assert pacer.poll() == Pace(go=False, wait_s=pytest.approx(0.4))
    clock.advance(0.4)
    assert pacer.poll().go


def test_a_late_result_releases_the_next_image_at_once_and_restarts_the_period():
    clock = ManualClock()
    pacer = LockStepPacer(rate=2.0, wait_timeout=30.0, lock_step=True, now=clock)
    pacer.sent()
    clock.advance(0.7)  # the period ended at 0.5 while waiting
    assert pacer.poll() == Pace(go=False, wait_s=pytest.approx(29.3))
    assert pacer.acknowledged()
    assert pacer.poll().go
    pacer.sent()
    assert pacer.poll() == Pace(go=False, wait_s=pytest.approx(29.3 + 0.7))
    assert pacer.acknowledged()
    assert pacer.poll() == Pace(go=False, wait_s=pytest.approx(0.5))  # 0.5 after the ack


def test_a_wait_that_runs_out_is_reported_once_and_releases_the_next_image():
    clock = ManualClock()
    pacer = LockStepPacer(rate=50.0, wait_timeout=1.5, lock_step=True, now=clock)
    pacer.sent()
    clock.advance(1.49)
    assert pacer.poll() == Pace(go=False, wait_s=pytest.approx(0.01))
    clock.advance(0.01)
    assert pacer.poll() == Pace(go=True, timed_out=True)
    assert pacer.poll() == Pace(go=True)
    assert pacer.timeouts == 1 and not pacer.in_flight and not pacer.delivery_confirmed
    assert not pacer.acknowledged()  # the late result of the image given up on


def test_a_wait_timeout_shorter_than_the_period_still_waits_for_the_rate():
    clock = ManualClock()
    pacer = LockStepPacer(rate=1.0, wait_timeout=0.2, lock_step=True, now=clock)
    pacer.sent()
    clock.advance(0.2)
    assert pacer.poll() == Pace(go=False, timed_out=True, wait_s=pytest.approx(0.8))
    clock.advance(0.8)
    assert pacer.poll() == Pace(go=True)


def test_a_result_when_none_is_awaited_is_ignored():
    clock = ManualClock()
    pacer = LockStepPacer(rate=2.0, wait_timeout=30.0, lock_step=True, now=clock)
    assert not pacer.acknowledged()  # before the first image
    pacer.sent()
    assert pacer.acknowledged()
    assert not pacer.acknowledged()  # a second message for the same image
    pacer.sent()
    assert pacer.in_flight


def test_without_lock_step_nothing_is_in_flight():
    clock = ManualClock()
    pacer = LockStepPacer(rate=20.0, wait_timeout=1.0, now=clock)
    pacer.sent()
    assert not pacer.in_flight and not pacer.acknowledged()
    clock.advance(5.0)
    assert pacer.poll() == Pace(go=True) and pacer.timeouts == 0


def test_a_changed_rate_applies_to_the_next_image():
    clock = ManualClock()
    pacer = LockStepPacer(rate=1.0, now=clock)
    pacer.sent()
    pacer.rate = 20.0
    assert pacer.poll() == Pace(go=False, wait_s=pytest.approx(0.05))


def test_a_changed_wait_timeout_applies_to_the_image_in_flight():
    clock = ManualClock()
    pacer = LockStepPacer(rate=50.0, wait_timeout=0.0, lock_step=True, now=clock)
    pacer.sent()
    clock.advance(3.0)
    pacer.wait_timeout = 2.0
    assert pacer.poll() == Pace(go=True, timed_out=True)
    pacer.sent()
    pacer.wait_timeout = 10.0
    assert pacer.poll() == Pace(go=False, wait_s=pytest.approx(10.0))
