"""LatestFrameSlot: newest item wins, and the optional short wait for a frame that is due.

StageHandOff: results pass one at a time, none is dropped, and the producer can wait for them
to be finished.
"""

from __future__ import annotations

import threading
import time

import pytest

from instance_segmentation_ros.frame_slot import LatestFrameSlot, StageHandOff

PERIOD_S = 0.1


def stream(slot: LatestFrameSlot, count: int, period: float = PERIOD_S, first: int = 0):
    """Put `count` numbered items `period` apart on a background thread."""
    def produce():
        for number in range(first, first + count):
            slot.put(number)
            time.sleep(period)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    return thread


def test_the_newest_item_wins_and_replacements_are_counted():
    slot = LatestFrameSlot()
    assert slot.put('a') is False
    assert slot.put('b') is True
    assert slot.put('c') is True
    item, arrived = slot.take(timeout=0)
    assert item == 'c' and arrived <= time.monotonic()
    assert slot.replaced == 2
    assert slot.take(timeout=0.01) is None


def test_close_wakes_a_waiting_consumer():
    slot = LatestFrameSlot()
    taken = []
    consumer = threading.Thread(target=lambda: taken.append(slot.take(timeout=5)))
    consumer.start()
    time.sleep(0.05)
    slot.close()
    consumer.join(timeout=1)
    assert not consumer.is_alive() and taken == [None] and slot.closed


def test_the_period_is_the_median_interval_between_arrivals():
    slot = LatestFrameSlot()
    assert slot.period() is None
    stream(slot, 8).join()
    assert slot.period() == pytest.approx(PERIOD_S, abs=0.03)


def test_a_frame_due_within_max_wait_is_waited_for():
    slot = LatestFrameSlot()
    producer = stream(slot, 6)
    time.sleep(4.7 * PERIOD_S)  # item 4 is pending, 0.7 period old; item 5 is due in 0.3
    started = time.monotonic()
    item, _ = slot.take(timeout=0, max_wait=0.5 * PERIOD_S)
    waited = time.monotonic() - started
    producer.join()
    assert item == 5
    assert waited < 0.5 * PERIOD_S + 0.05


def test_a_young_frame_is_not_swapped_for_a_later_one():
    slot = LatestFrameSlot()
    producer = stream(slot, 6)
    time.sleep(4.25 * PERIOD_S)  # item 4 is 0.25 period old: waiting 0.75 would not pay
    started = time.monotonic()
    item, _ = slot.take(timeout=0, max_wait=PERIOD_S)
    waited = time.monotonic() - started
    producer.join()
    assert item == 4 and waited < 0.02


def test_without_max_wait_the_pending_frame_is_taken_at_once():
    slot = LatestFrameSlot()
    producer = stream(slot, 6)
    time.sleep(4.7 * PERIOD_S)
    started = time.monotonic()
    item, _ = slot.take(timeout=0)
    waited = time.monotonic() - started
    producer.join()
    assert item == 4 and waited < 0.02


def test_a_frame_not_due_soon_is_not_waited_for():
    slot = LatestFrameSlot()
    producer = stream(slot, 4, period=0.3)
    time.sleep(3 * 0.3 + 0.05)  # item 3 pending, the next one would be due in 0.25 s
    started = time.monotonic()
    item, _ = slot.take(timeout=0, max_wait=0.1)
    assert item == 3 and time.monotonic() - started < 0.02
    producer.join()


def test_a_stream_that_stops_costs_at_most_max_wait_once():
    slot = LatestFrameSlot()
    stream(slot, 5).join()  # the last put happened about one period ago, nothing follows
    slot.put('last')
    time.sleep(0.8 * PERIOD_S)
    started = time.monotonic()
    item, _ = slot.take(timeout=0, max_wait=0.05)
    waited = time.monotonic() - started
    assert item == 'last' and 0.03 < waited < 0.05 + 0.05
    slot.put('stale')
    time.sleep(2.5 * PERIOD_S)  # older than two periods: the stream has paused
    started = time.monotonic()
    item, _ = slot.take(timeout=0, max_wait=0.05)
    assert item == 'stale' and time.monotonic() - started < 0.02


# --- StageHandOff ---------------------------------------------------------------------------

def start(target, *args):
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def test_hand_off_passes_every_result_in_order_and_blocks_the_producer():
    handoff = StageHandOff()
    assert handoff.put('a') is True
    second = start(handoff.put, 'b')  # waits: 'a' has not been taken
    time.sleep(0.05)
    assert second.is_alive()
    assert handoff.get(timeout=1) == 'a'
    second.join(timeout=1)
    assert not second.is_alive()
    assert handoff.get(timeout=1) == 'b'
    assert handoff.get(timeout=0.01) is None


def test_the_producer_waits_until_the_consumer_is_done():
    handoff = StageHandOff()
    assert handoff.wait_until_done(timeout=0) is True  # nothing handed over yet
    handoff.put('frame')
    assert handoff.wait_until_done(timeout=0.05) is False  # not even taken
    assert handoff.get(timeout=1) == 'frame'
    assert handoff.wait_until_done(timeout=0.05) is False  # taken, still being published
    finished = []
    waiter = start(lambda: finished.append(handoff.wait_until_done(timeout=5)))
    time.sleep(0.05)
    handoff.done()
    waiter.join(timeout=1)
    assert finished == [True]


def test_close_wakes_both_stages():
    handoff = StageHandOff()
    handoff.put('first')
    results = []
    producer = start(lambda: results.append(('put', handoff.put('second'))))
    waiter = start(lambda: results.append(('wait', handoff.wait_until_done())))
    consumer_handoff = StageHandOff()
    consumer = start(lambda: results.append(('get', consumer_handoff.get(timeout=5))))
    time.sleep(0.05)
    handoff.close()
    consumer_handoff.close()
    for thread in (producer, waiter, consumer):
        thread.join(timeout=1)
        assert not thread.is_alive()
    assert sorted(results) == [('get', None), ('put', False), ('wait', False)]
