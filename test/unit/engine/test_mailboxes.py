"""mailbox_for: the frame-dropping policy of a processing mode and a number of cameras."""

from __future__ import annotations

from operator import itemgetter

import pytest

from instance_segmentation_ros.engine.mailboxes import (
    PROCESSING_MODES,
    FairFrameSlots,
    FrameQueue,
    LatestFrameSlot,
    mailbox_for,
)

CAMERA = itemgetter(0)


@pytest.mark.parametrize('cameras', [1, 3])
def test_every_frame_is_one_queue_of_its_size_for_any_number_of_cameras(cameras):
    mailbox = mailbox_for('every_frame', cameras, 2, CAMERA)
    assert isinstance(mailbox, FrameQueue)
    for frame in (('left', 1), ('right', 2), ('left', 3)):
        mailbox.put(frame)
    assert mailbox.replaced == 1  # the oldest went: the queue holds 2
    assert [mailbox.take(timeout=0)[0] for _ in range(2)] == [('right', 2), ('left', 3)]


def test_latest_with_one_camera_is_the_newest_frame_slot():
    mailbox = mailbox_for('latest', 1, 30, CAMERA)
    assert type(mailbox) is LatestFrameSlot
    mailbox.put(('', 1))
    mailbox.put(('', 2))
    assert mailbox.take(timeout=0)[0] == ('', 2)


def test_latest_with_several_cameras_takes_them_in_fair_turns():
    mailbox = mailbox_for('latest', 2, 30, CAMERA)
    assert isinstance(mailbox, FairFrameSlots)
    for frame in (('left', 1), ('left', 2), ('right', 3)):
        mailbox.put(frame)
    assert {mailbox.take(timeout=0)[0] for _ in range(2)} == {('left', 2), ('right', 3)}


def test_an_unknown_mode_names_the_modes():
    with pytest.raises(ValueError, match='latest, every_frame'):
        mailbox_for('oldest', 1, 30, CAMERA)
    assert PROCESSING_MODES == ('latest', 'every_frame')
