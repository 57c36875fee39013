"""The /diagnostics status without ROS: the level reflects the last period, totals stay."""

from __future__ import annotations

from instance_segmentation_ros.engine.diagnostics import (
    ERROR,
    OK,
    WARN,
    FaultCounts,
    PublisherPresence,
    level,
    segmentation_status,
)
from instance_segmentation_ros.engine.figures import Period, StageFigures


def status_of(faults: FaultCounts, figures: StageFigures):
    return segmentation_status(figures.take_period(), figures, faults.take_period(),
                               'tiny', 'tf2_od_api_saved_model')


def received(figures: StageFigures, count: int):
    for _ in range(count):
        figures.frame_received(replaced_one=False)
        figures.frame_finished(model_s=0.05, latency_s=0.08)


def test_a_failure_is_an_error_for_its_period_only_and_stays_in_the_totals():
    faults, figures = FaultCounts(), StageFigures()
    received(figures, 3)
    faults.failed()
    status = status_of(faults, figures)
    assert (status.level, status.message) == (ERROR, 'frames failed to process')
    received(figures, 3)
    status = status_of(faults, figures)
    assert (status.level, status.message) == (OK, 'ok')
    assert status.values['frames_failed'] == '1' and status.values['frames_processed'] == '6'


def test_a_rejected_image_warns_for_its_period_and_is_counted_by_kind():
    faults, figures = FaultCounts(), StageFigures()
    received(figures, 1)
    assert faults.rejected('step') == 1
    assert faults.rejected('step') == 2
    faults.rejected('encoding')
    status = status_of(faults, figures)
    assert (status.level, status.message) == (WARN, 'malformed images rejected')
    status = status_of(faults, figures)
    assert status.level == OK
    assert (status.values['frames_rejected'], status.values['rejected_step'],
            status.values['rejected_encoding']) == ('3', '2', '1')


def test_failures_outrank_rejections_and_a_node_without_images_is_waiting():
    faults = FaultCounts()
    faults.rejected('size')
    faults.failed()
    assert level(faults.take_period(), received=5)[0] == ERROR
    assert level(faults.take_period(), received=0) == (OK, 'waiting for images')


def test_rates_and_times_are_of_the_period():
    figures = StageFigures()
    figures.model_ran(0.05)
    figures.outputs_ran(0.004)
    period = Period(seconds=2.0, processed=4, model_s=0.2, latency_s=0.32, latency_max_s=0.1)
    values = segmentation_status(period, figures, FaultCounts().take_period(), 'tiny',
                                 'tf2_od_api_saved_model').values
    assert values['rate_hz'] == '2.00' and values['inference_ms'] == '50.0'
    assert values['latency_ms'] == '80.0' and values['latency_max_ms'] == '100.0'
    assert values['outputs_cpu_ms'] == '4.0' and values['model'] == 'tiny'


def test_refused_depth_warns_for_its_period_and_is_counted_by_kind():
    faults, figures = FaultCounts(), StageFigures()
    received(figures, 2)
    assert faults.depth_refused('frame_id') == 1
    faults.depth_refused('size')
    assert faults.depth_refused('frame_id') == 2
    status = status_of(faults, figures)
    assert (status.level, status.message) == (WARN, 'depth refused: no 3D for some frames')
    assert (status.values['depth_refused'], status.values['depth_refused_frame_id'],
            status.values['depth_refused_size']) == ('3', '2', '1')
    received(figures, 1)
    status = status_of(faults, figures)
    assert status.level == OK and status.values['depth_refused'] == '3'
    assert 'depth_refused' not in status_of(FaultCounts(), StageFigures()).values


def test_a_topic_without_any_publisher_is_said_once_after_the_notice_time():
    presence = PublisherPresence('/cam/image', started=0.0, notice_after_s=5.0,
                                 hint='remap image')
    assert presence.update(0, now=4.9) is None
    assert presence.update(0, now=5.0) == 'no publisher on /cam/image after 5 s: remap image'
    assert presence.update(0, now=60.0) is None
    assert presence.waiting() == 'no publisher on /cam/image yet'


def test_without_a_hint_the_notice_only_says_that_the_node_waits():
    presence = PublisherPresence('/cam/image', started=0.0, notice_after_s=5.0)
    assert presence.update(0, now=5.0) == 'no publisher on /cam/image after 5 s; waiting for one'


def test_publishers_that_go_away_are_said_once_with_the_frames_and_never_as_missing():
    presence = PublisherPresence('/image', started=0.0, notice_after_s=5.0, hint='remap image')
    assert presence.update(1, now=1.0) is None and presence.waiting() is None
    for _ in range(12):
        presence.frame_received()
    assert presence.update(0, now=2.0) == ('the publisher of /image went away after 12 frames; '
                                           'waiting for a new one')
    assert [presence.update(0, now=t) for t in (3.0, 10.0, 100.0)] == [None] * 3
    assert presence.waiting() == 'the publisher of /image went away after 12 frames'
    # A second source: its own frames, said again when it ends.
    assert presence.update(2, now=101.0) is None and presence.waiting() is None
    for _ in range(3):
        presence.frame_received()
    assert presence.update(0, now=102.0).startswith(
        'the 2 publishers of /image went away after 3 frames')


def test_a_period_without_frames_says_why_and_counts_the_publishers():
    faults, figures = FaultCounts(), StageFigures()
    presence = PublisherPresence('/image', started=0.0, notice_after_s=5.0)
    presence.update(1, now=1.0)
    received(figures, 4)
    presence.frame_received()
    status = segmentation_status(figures.take_period(), figures, faults.take_period(), 'tiny',
                                 'tf2_od_api_saved_model', presence)
    assert (status.message, status.values['image_publishers']) == ('ok', '1')
    presence.update(0, now=2.0)
    status = segmentation_status(figures.take_period(), figures, faults.take_period(), 'tiny',
                                 'tf2_od_api_saved_model', presence)
    assert status.level == OK and status.values['image_publishers'] == '0'
    assert status.message == 'waiting for images: the publisher of /image went away after 1 frame'


def watched(stall_after_s: float = 10.0) -> PublisherPresence:
    presence = PublisherPresence('/camera/image_raw', started=0.0, notice_after_s=5.0,
                                 stall_after_s=stall_after_s, stall_hint='send compressed')
    presence.update(1, now=0.0)
    return presence


def test_no_frame_from_a_matched_publisher_warns_once_with_the_hint():
    presence = watched()
    assert [presence.watch_frames(t, matched=1, in_flight=False) for t in (0.0, 5.0, 9.5)] \
        == [None] * 3
    assert presence.stalled is None
    line = presence.watch_frames(10.0, matched=1, in_flight=False)
    assert line == ('no frame in 10 s from the publisher of /camera/image_raw, though matched; '
                    'send compressed')
    assert [presence.watch_frames(t, matched=1, in_flight=False) for t in (11.0, 60.0)] \
        == [None] * 2
    assert presence.stalled == 'no frame in 60 s from the publisher of /camera/image_raw, ' \
        'though matched'
    status = segmentation_status(Period(seconds=1.0), StageFigures(),
                                 FaultCounts().take_period(), 'tiny', 'tf2_od_api', presence)
    assert (status.level, status.message) == (WARN, presence.stalled)


def test_frames_that_stop_while_the_publisher_stays_warn_again_each_time():
    presence = watched()
    for t in range(0, 30):
        presence.frame_received()
        assert presence.watch_frames(float(t), matched=1, in_flight=False) is None
    assert presence.watch_frames(38.0, matched=1, in_flight=False) is None
    assert presence.watch_frames(39.0, matched=1, in_flight=False).startswith('no frame in 10 s')
    presence.frame_received()  # they flow again: OK, and the next stall is said again
    assert presence.watch_frames(40.0, matched=1, in_flight=False) is None
    assert presence.stalled is None
    assert presence.watch_frames(50.0, matched=1, in_flight=False).startswith('no frame in 10 s')


def test_a_frame_in_flight_holds_the_clock_however_long_the_model_takes():
    """Lock-step or every_frame with a slow model: no frame is due while one is processed."""
    presence = watched()
    presence.frame_received()
    for t in range(0, 60, 5):
        assert presence.watch_frames(float(t), matched=1, in_flight=True) is None
    assert presence.stalled is None
    presence.frame_received()  # the next frame comes soon after the result
    assert presence.watch_frames(61.0, matched=1, in_flight=False) is None
    assert presence.watch_frames(70.0, matched=1, in_flight=False) is None
    assert presence.watch_frames(71.0, matched=1, in_flight=False) is not None


def test_without_a_matched_publisher_there_is_no_stall():
    presence = watched()
    assert presence.watch_frames(0.0, matched=0, in_flight=False) is None
    assert presence.watch_frames(100.0, matched=0, in_flight=False) is None
    assert presence.stalled is None
    # Matched at last: the clock runs from the last look without a match, not from the start.
    assert presence.watch_frames(101.0, matched=2, in_flight=False) is None
    assert presence.watch_frames(109.5, matched=2, in_flight=False) is None
    assert presence.watch_frames(110.0, matched=2, in_flight=False).startswith(
        'no frame in 10 s from 2 publishers of /camera/image_raw')
    assert presence.watch_frames(112.0, matched=0, in_flight=False) is None
    assert presence.stalled is None
