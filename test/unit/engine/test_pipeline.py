"""The engine without ROS: its mailbox, its hand-off and the two-stage pipeline.

LatestFrameSlot: newest item wins, and the optional short wait for a frame that is due.
StageHandOff: results pass one at a time, none is dropped, and the producer can wait for them
to be finished. TwoStagePipeline: newest frame first, outputs after their model call, the
output wait, close and errors, driven by fake stages held on events.
"""

from __future__ import annotations

import threading
import time

import pytest
from manual_clock import ManualClock

from instance_segmentation_ros.engine.figures import running_mean
from instance_segmentation_ros.engine.mailboxes import FairFrameSlots, FrameQueue, LatestFrameSlot
from instance_segmentation_ros.engine.pipeline import StageHandOff, StagePolicy, TwoStagePipeline

NO_WAITS = StagePolicy()


def arrivals(slot: LatestFrameSlot, clock: ManualClock, count: int, period: float):
    """Put items 0 .. count-1 `period` apart on the slot's clock; the clock stops at the last."""
    for number in range(count):
        if number:
            clock.advance(period)
        slot.put(number)


def put_soon(slot: LatestFrameSlot, item, after_s: float = 0.05) -> threading.Thread:
    """Put `item` from another thread a moment from now (the frame a consumer waits for)."""
    def produce():
        time.sleep(after_s)
        slot.put(item)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    return thread


def timed_take(slot: LatestFrameSlot, **options):
    """take(timeout=0, ...) and the real seconds it took."""
    started = time.monotonic()
    taken = slot.take(timeout=0, **options)
    return taken, time.monotonic() - started


def test_the_newest_item_wins_and_replacements_are_counted():
    slot = LatestFrameSlot()
    assert slot.put('a') is None
    assert slot.put('b') == 'a'
    assert slot.put('c') == 'b'
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


# The frame wait decides by the slot's clock (a ManualClock here) and then waits in real time,
# at most max_wait. So the waits below are long (WAIT_S): a wrong "wait" costs seconds, and a
# right "take it now" is told from it by a bound that no load reaches.
PERIOD = 10.0  # s between arrivals, on the slot's clock
WAIT_S = 5.0  # max_wait: real seconds at most
AT_ONCE_S = 2.0  # a take that did not wait for a frame returns well within this


def test_the_period_is_the_median_interval_between_arrivals():
    clock = ManualClock()
    slot = LatestFrameSlot(now=clock)
    assert slot.period() is None
    for number, gap in enumerate([0.1, 0.1, 0.5, 0.1, 0.1, 0.09, 0.11]):
        clock.advance(gap)
        slot.put(number)
    assert slot.period() == pytest.approx(0.1)


def test_a_frame_due_within_max_wait_is_waited_for():
    clock = ManualClock()
    slot = LatestFrameSlot(now=clock)
    arrivals(slot, clock, 5, PERIOD)
    clock.advance(0.7 * PERIOD)  # item 4 is pending, 0.7 period old; item 5 is due in 0.3
    producer = put_soon(slot, 5)
    (item, _), waited = timed_take(slot, max_wait=0.5 * PERIOD)
    producer.join()
    assert item == 5 and waited < AT_ONCE_S


def test_a_young_frame_is_not_swapped_for_a_later_one():
    clock = ManualClock()
    slot = LatestFrameSlot(now=clock)
    arrivals(slot, clock, 5, PERIOD)
    clock.advance(0.25 * PERIOD)  # item 4 is 0.25 period old: waiting 0.75 would not pay
    (item, _), waited = timed_take(slot, max_wait=WAIT_S)
    assert item == 4 and waited < AT_ONCE_S


def test_without_max_wait_the_pending_frame_is_taken_at_once():
    clock = ManualClock()
    slot = LatestFrameSlot(now=clock)
    arrivals(slot, clock, 5, PERIOD)
    clock.advance(0.7 * PERIOD)
    (item, _), waited = timed_take(slot)
    assert item == 4 and waited < AT_ONCE_S


def test_a_frame_not_due_soon_is_not_waited_for():
    clock = ManualClock()
    slot = LatestFrameSlot(now=clock)
    arrivals(slot, clock, 4, 3 * WAIT_S)
    clock.advance(0.17 * 3 * WAIT_S)  # item 3 pending; the next is due in 2.5 WAIT_S
    (item, _), waited = timed_take(slot, max_wait=WAIT_S)
    assert item == 3 and waited < AT_ONCE_S


def test_a_stream_that_stops_costs_at_most_max_wait_once():
    clock = ManualClock()
    slot = LatestFrameSlot(now=clock)
    arrivals(slot, clock, 5, PERIOD)
    clock.advance(PERIOD)
    slot.put('last')
    clock.advance(0.96 * PERIOD)  # the next is due in 0.4 s: wait for it (0.5 at most)
    (item, _), waited = timed_take(slot, max_wait=0.5)
    assert item == 'last' and 0.5 <= waited < 0.5 + AT_ONCE_S
    slot.put('stale')
    clock.advance(2.5 * PERIOD)  # older than two periods: the stream has paused
    (item, _), waited = timed_take(slot, max_wait=WAIT_S)
    assert item == 'stale' and waited < AT_ONCE_S


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


# --- TwoStagePipeline -----------------------------------------------------------------------

class Engine:
    """A pipeline over fake stages that log what they do; a frame may be held in either stage.

    The fake `infer` and `publish` are the pipeline's inputs, not the code under test: holding
    them on an event lets a test put the pipeline in a known state without sleeping.
    """

    def __init__(self, policy: StagePolicy = NO_WAITS, fail=(), mailbox=None, source=None):
        self.log = []  # ('infer' | 'publish', frame), in the order the stages did them
        self.hold_infer, self.hold_publish = set(), set()
        self.released = threading.Event()
        self.model_thread = None
        self._changed = threading.Condition()
        self._fail = set(fail)
        self.pipeline = TwoStagePipeline(self.infer, self.publish, self.on_error, policy,
                                         mailbox, source)
        self.pipeline.start()

    def _record(self, entry):
        with self._changed:
            self.log.append(entry)
            self._changed.notify_all()

    def infer(self, frame):
        self.model_thread = threading.current_thread()
        self._record(('infer', frame))
        if frame in self.hold_infer:
            self.released.wait(5)
        if ('infer', frame) in self._fail:
            raise RuntimeError(f'infer {frame}')
        return f'result {frame}'

    def publish(self, frame, result):
        assert result == f'result {frame}'
        if frame in self.hold_publish:
            self._record(('publishing', frame))
            self.released.wait(5)
        if ('publish', frame) in self._fail:
            raise RuntimeError(f'publish {frame}')
        self._record(('publish', frame))

    def on_error(self, frame, error):
        self._record(('error', frame, str(error)))

    def wait_for(self, entry, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: entry in self.log, timeout)

    def close(self):
        self.released.set()
        self.pipeline.close()


@pytest.fixture
def engine():
    engines = []

    def make(**kwargs):
        engines.append(Engine(**kwargs))
        return engines[-1]

    yield make
    for made in engines:
        made.close()


def test_a_burst_while_the_model_is_busy_yields_only_the_newest_frame(engine):
    e = engine()
    e.hold_infer.add(0)
    e.pipeline.put(0)
    assert e.wait_for(('infer', 0))
    for frame in range(1, 6):
        e.pipeline.put(frame)
    e.released.set()
    assert e.wait_for(('publish', 5))
    assert [frame for what, frame in e.log if what == 'infer'] == [0, 5]
    assert e.pipeline.figures.received == 6 and e.pipeline.figures.dropped == 4
    assert e.pipeline.figures.processed == 2


def test_with_a_queue_a_burst_is_processed_whole_and_in_order(engine):
    e = engine(mailbox=FrameQueue(30))
    e.hold_infer.add(0)
    e.pipeline.put(0)
    assert e.wait_for(('infer', 0))
    dropped = [e.pipeline.put(frame) for frame in range(1, 21)]
    e.released.set()
    assert e.wait_for(('publish', 20))
    assert not any(dropped)
    assert [frame for what, frame in e.log if what == 'infer'] == list(range(21))
    assert [frame for what, frame in e.log if what == 'publish'] == list(range(21))
    assert e.pipeline.figures.dropped == 0 and e.pipeline.figures.processed == 21


def test_a_full_queue_drops_its_oldest_frames_and_counts_them(engine):
    e = engine(mailbox=FrameQueue(5))
    e.hold_infer.add(0)
    e.pipeline.put(0)
    assert e.wait_for(('infer', 0))
    dropped = [e.pipeline.put(frame) for frame in range(1, 21)]
    e.released.set()
    assert e.wait_for(('publish', 20))
    assert dropped == [False] * 5 + [True] * 15
    assert [frame for what, frame in e.log if what == 'publish'] == [0, 16, 17, 18, 19, 20]
    assert e.pipeline.figures.dropped == 15 and e.pipeline.figures.received == 21


def test_each_frame_is_published_after_its_model_call_with_its_result(engine):
    e = engine()
    for frame in range(4):
        e.pipeline.put(frame)
        assert e.wait_for(('publish', frame))
    assert e.log == [(what, frame) for frame in range(4) for what in ('infer', 'publish')]
    period = e.pipeline.figures.take_period()
    assert period.processed == 4 and period.latency_max_s >= period.latency_s / 4 > 0
    assert e.pipeline.figures.take_period().processed == 0  # a new period


def test_without_output_wait_the_next_model_call_overlaps_the_outputs(engine):
    e = engine(policy=StagePolicy(output_wait_fraction=0.0))
    e.hold_publish.add(0)
    e.pipeline.put(0)
    assert e.wait_for(('publishing', 0))
    e.pipeline.put(1)
    assert e.wait_for(('infer', 1))  # while frame 0's outputs are still held
    assert ('publish', 0) not in e.log
    e.released.set()
    assert e.wait_for(('publish', 1))


def test_with_output_wait_cheap_outputs_come_before_the_next_model_call(engine):
    # Held outputs cost no CPU time, so they are always cheap next to the model call.
    e = engine(policy=StagePolicy(output_wait_fraction=1.0))
    e.hold_publish.add(0)
    e.pipeline.put(0)
    assert e.wait_for(('publishing', 0))
    e.pipeline.put(1)
    assert not e.wait_for(('infer', 1), timeout=0.2)
    e.released.set()
    assert e.wait_for(('publish', 1))
    assert e.log.index(('publish', 0)) < e.log.index(('infer', 1))


def test_a_policy_change_applies_to_the_next_frame(engine):
    e = engine(policy=StagePolicy(output_wait_fraction=1.0))
    e.pipeline.policy = StagePolicy(output_wait_fraction=0.0)
    e.hold_publish.add(0)
    e.pipeline.put(0)
    assert e.wait_for(('publishing', 0))
    e.pipeline.put(1)
    assert e.wait_for(('infer', 1))


def test_close_returns_mid_model_call_and_nothing_is_published_after(engine):
    e = engine()
    e.hold_infer.add(0)
    e.pipeline.put(0)
    assert e.wait_for(('infer', 0))
    started = time.monotonic()
    e.pipeline.close()
    assert time.monotonic() - started < 0.5
    e.released.set()  # the model call returns into a closed pipeline
    e.model_thread.join(timeout=2)
    assert not e.model_thread.is_alive()
    assert e.log == [('infer', 0)]


@pytest.mark.parametrize('stage', ['infer', 'publish'])
def test_an_exception_costs_one_frame_and_is_reported(engine, stage):
    # With the output wait on, a publish that raises must still release the model stage.
    e = engine(policy=StagePolicy(output_wait_fraction=1.0), fail=[(stage, 0)])
    e.pipeline.put(0)
    assert e.wait_for(('error', 0, f'{stage} 0'))
    e.pipeline.put(1)
    assert e.wait_for(('publish', 1))
    assert ('publish', 0) not in e.log
    assert e.pipeline.figures.processed == 1


def test_the_running_mean_weights_the_newest_sample_a_fifth():
    assert running_mean(0.0, 2.0) == 2.0
    assert running_mean(2.0, 1.0) == pytest.approx(1.8)


# --- FairFrameSlots ---------------------------------------------------------------------------

def camera_of(frame):
    return frame[0]


def test_each_camera_keeps_only_its_newest_frame():
    slots = FairFrameSlots(camera_of)
    assert [slots.put(frame) for frame in (('a', 1), ('b', 1), ('a', 2), ('a', 3))] == [
        None, None, ('a', 1), ('a', 2)]
    taken = {slots.take(timeout=0)[0] for _ in range(2)}
    assert taken == {('a', 3), ('b', 1)} and slots.replaced == 2
    assert slots.take(timeout=0) is None


def test_the_camera_served_least_recently_goes_first():
    slots = FairFrameSlots(camera_of)
    order = []
    for turn in range(6):  # camera a always has a frame waiting, b and c now and then
        slots.put(('a', turn))
        if turn % 2 == 0:
            slots.put(('b', turn))
        if turn % 3 == 0:
            slots.put(('c', turn))
        order.append(slots.take(timeout=0)[0][0])
    assert order == ['a', 'b', 'c', 'a', 'b', 'c']


@pytest.mark.parametrize('rates', [(30, 5), (30, 15, 5), (30, 30, 30, 2)])
def test_no_publishing_camera_gets_less_than_half_its_fair_share(rates):
    """Cameras at `rates` (Hz) and a model of 200 ms, simulated on a clock of 1 ms steps."""
    slots = FairFrameSlots(camera_of)
    served = dict.fromkeys(range(len(rates)), 0)
    model_busy_until = 0
    for now_ms in range(20_000):
        for camera, rate in enumerate(rates):
            if now_ms % round(1000 / rate) == 0:
                slots.put((camera, now_ms))
        if now_ms >= model_busy_until:
            taken = slots.take(timeout=0)
            if taken is not None:
                served[taken[0][0]] += 1
                model_busy_until = now_ms + 200
    calls = sum(served.values())
    assert calls >= 99
    assert min(served.values()) >= calls / (2 * len(rates)), served


def test_a_pipeline_over_fair_slots_serves_the_cameras_in_turn(engine):
    e = engine(mailbox=FairFrameSlots(camera_of))
    e.hold_infer.add(('a', 0))
    e.pipeline.put(('a', 0))
    assert e.wait_for(('infer', ('a', 0)))
    for index in range(1, 4):
        e.pipeline.put(('a', index))
        e.pipeline.put(('b', index))
    e.released.set()
    assert e.wait_for(('publish', ('a', 3)))
    assert [frame for what, frame in e.log if what == 'infer'] == [('a', 0), ('b', 3), ('a', 3)]


def test_with_a_source_each_camera_has_its_own_figures_beside_the_totals(engine):
    e = engine(mailbox=FairFrameSlots(camera_of), source=camera_of)
    e.hold_infer.add(('a', 0))
    e.pipeline.put(('a', 0))
    assert e.wait_for(('infer', ('a', 0)))
    for index in range(1, 4):  # a's 1 and 2 and b's 1 and 2 are replaced unseen
        e.pipeline.put(('a', index))
        e.pipeline.put(('b', index))
    e.released.set()
    assert e.wait_for(('publish', ('a', 3)))
    a, b, total = e.pipeline.figures_of('a'), e.pipeline.figures_of('b'), e.pipeline.figures
    assert (a.received, a.dropped, a.processed) == (4, 2, 2)
    assert (b.received, b.dropped, b.processed) == (3, 2, 1)
    assert (total.received, total.dropped, total.processed) == (7, 4, 3)
    assert a.take_period().processed == 2 and b.take_period().processed == 1
    assert e.pipeline.figures_of('silent').received == 0


def test_a_full_shared_queue_counts_each_drop_against_the_dropped_frames_camera(engine):
    e = engine(mailbox=FrameQueue(2), source=camera_of)
    e.hold_infer.add(('a', 0))
    e.pipeline.put(('a', 0))
    assert e.wait_for(('infer', ('a', 0)))
    for frame in (('a', 1), ('a', 2), ('b', 1), ('b', 2)):  # drops a 1, then a 2
        e.pipeline.put(frame)
    e.released.set()
    assert e.wait_for(('publish', ('b', 2)))
    assert e.pipeline.figures_of('a').dropped == 2 and e.pipeline.figures_of('b').dropped == 0
    assert e.pipeline.figures.dropped == 2


def test_an_error_of_the_engine_itself_is_reported_and_the_stage_goes_on(engine):
    e = engine()
    e.pipeline.policy = None  # the model stage now fails before it takes any frame
    assert e.wait_for(('error', None, "'NoneType' object has no attribute 'frame_wait_fraction'"))
    e.pipeline.policy = NO_WAITS
    e.pipeline.put(0)
    assert e.wait_for(('publish', 0))


def settles_to(figures, in_flight: int, timeout: float = 5.0) -> bool:
    """Whether `figures.in_flight` comes to `in_flight` (the stage counts after its call)."""
    deadline = time.monotonic() + timeout
    while figures.in_flight != in_flight:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_frame_is_in_flight_from_its_arrival_until_it_is_published_or_dropped(engine):
    e = engine(mailbox=FrameQueue(2), source=camera_of)
    figures = e.pipeline.figures
    assert figures.in_flight == 0
    e.hold_infer.add(('a', 0))
    e.hold_publish.add(('a', 0))
    e.pipeline.put(('a', 0))
    assert e.wait_for(('infer', ('a', 0)))
    assert figures.in_flight == 1 and e.pipeline.figures_of('b').in_flight == 0
    for frame in (('a', 1), ('b', 1), ('b', 2)):  # the queue of 2 drops a 1
        e.pipeline.put(frame)
    assert figures.in_flight == 3
    assert (e.pipeline.figures_of('a').in_flight, e.pipeline.figures_of('b').in_flight) == (1, 2)
    e.released.set()
    assert e.wait_for(('publish', ('b', 2)))
    assert settles_to(figures, 0) and settles_to(e.pipeline.figures_of('a'), 0)


@pytest.mark.parametrize('stage', ['infer', 'publish'])
def test_a_frame_that_fails_is_no_longer_in_flight(engine, stage):
    e = engine(fail=[(stage, 0)])
    e.pipeline.put(0)
    assert e.wait_for(('error', 0, f'{stage} 0'))
    assert settles_to(e.pipeline.figures, 0)
