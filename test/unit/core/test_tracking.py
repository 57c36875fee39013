"""The mask tracker: ids kept through crossings, occlusions and skipped frames, and its rules."""

import numpy as np
import pytest

from instance_segmentation_ros.core.detections import Instances
from instance_segmentation_ros.core.tracking import (
    MAX_TRACK_ID,
    MaskTracker,
    TrackerSettings,
    track_id_image,
)
from instance_segmentation_ros.demo.scenes import CIRCLE, SQUARE, disc_mask
from instance_segmentation_ros.demo.sequences import generate_sequence, truth_instances

HEIGHT, WIDTH = 240, 320


def frame(*objects) -> Instances:
    """Instances of discs: each object is (class id, (x, y) centre, radius), nearest last."""
    label_image = np.zeros((HEIGHT, WIDTH), np.uint8)
    boxes, classes = [], []
    for number, (class_id, (x, y), radius) in enumerate(objects, start=1):
        label_image[disc_mask(HEIGHT, WIDTH, (x, y), radius)] = number
        boxes.append([x - radius, y - radius, x + radius, y + radius])
        classes.append(class_id)
    count = len(objects)
    areas = np.array([np.count_nonzero(label_image == n) for n in range(1, count + 1)])
    return Instances(label_image, np.array(boxes, np.float32).reshape(count, 4),
                     np.array(classes, np.int64), np.ones(count, np.float32),
                     areas.astype(np.int64))


def test_two_alike_objects_crossing_keep_their_ids():
    tracker = MaskTracker(TrackerSettings(min_hits=1))
    seen = []
    for step in range(40):  # two circles of one size pass through each other
        stamp = step / 30.0
        left = (40 + 240 * stamp / 1.3, 120.0)
        right = (280 - 240 * stamp / 1.3, 126.0)
        seen.append(tracker.update(stamp, frame((CIRCLE, left, 15), (CIRCLE, right, 15))))
    assert all(ids[0] == seen[0][0] and ids[1] == seen[0][1] for ids in seen), seen
    assert seen[0][0] != seen[0][1]


def test_an_object_hidden_for_a_while_gets_its_id_back_where_it_comes_out():
    tracker = MaskTracker(TrackerSettings(min_hits=1, max_age=1.0))
    ids = []
    for step in range(30):  # moving right at 150 px/s, unseen for steps 10..19 (a third second)
        stamp = step / 30.0
        centre = (40 + 150 * stamp, 100.0)
        hidden = 10 <= step < 20
        ids.append(tracker.update(stamp, frame() if hidden else frame((SQUARE, centre, 12))))
    shown = [i[0] for i in ids if len(i)]
    assert shown == [shown[0]] * 20


def test_motion_is_predicted_by_stamps_across_irregularly_skipped_frames():
    # A small object at 240 px/s; gaps of 1 to 7 frames jump it 8 to 56 px, 1 to 6 of its
    # sizes. Only a prediction by the time between stamps places it: by frame count (or with
    # no motion) it would be far off.
    gaps = [1, 1, 5, 2, 7, 1, 3, 6, 2, 4]
    settings = TrackerSettings(min_hits=1, max_distance=1.5)
    tracker = MaskTracker(settings)
    number, ids = 0, []
    for gap in [0, *gaps]:
        number += gap
        stamp = number / 30.0
        ids.append(tracker.update(stamp, frame((CIRCLE, (10 + 240 * stamp, 120.0), 5)))[0])
    assert ids == [ids[0]] * len(ids)
    counted = MaskTracker(settings)  # the same positions, but stamps one frame apart
    number, by_count = 0, []
    for step, gap in enumerate([0, *gaps]):
        number += gap
        centre = (10 + 240 * number / 30.0, 120.0)
        by_count.append(counted.update(step / 30.0, frame((CIRCLE, centre, 5)))[0])
    assert len(set(by_count)) > 1  # the test can tell


def test_no_id_is_given_to_two_instances_of_one_frame():
    sequence = generate_sequence(5, 0)
    for stride in (1, 5):
        tracker = MaskTracker(TrackerSettings(min_hits=1, max_distance=5.0))
        for shown in sequence.frames(stride):
            ids = tracker.update(shown.stamp_s, truth_instances(shown)[0])
            given = ids[ids > 0]
            assert len(set(given.tolist())) == len(given), (stride, shown.index, ids)


def test_a_track_lives_max_age_seconds_without_detections():
    settings = TrackerSettings(min_hits=1, max_age=0.5)
    for gap, same in ((0.45, True), (0.55, False)):
        tracker = MaskTracker(settings)
        first = tracker.update(0.0, frame((CIRCLE, (100, 100), 20)))[0]
        tracker.update(0.1, frame((CIRCLE, (100, 100), 20)))
        tracker.update(0.1 + gap / 2, frame())
        again = tracker.update(0.1 + gap, frame((CIRCLE, (100, 100), 20)))[0]
        assert bool(again == first) is same, (gap, first, again)


def test_a_new_track_gets_an_id_after_min_hits_detections():
    tracker = MaskTracker(TrackerSettings(min_hits=3))
    ids = [tracker.update(step / 30, frame((CIRCLE, (100 + step, 100), 20)))[0]
           for step in range(5)]
    assert ids[:2] == [0, 0] and ids[2] > 0 and ids[2:] == [ids[2]] * 3
    flicker = MaskTracker(TrackerSettings(min_hits=2))  # seen once, missed, seen once
    assert flicker.update(0.0, frame((CIRCLE, (50, 50), 10)))[0] == 0
    flicker.update(0.1, frame())
    assert flicker.update(0.2, frame((CIRCLE, (50, 50), 10)))[0] == 0


def test_reset_and_a_stamp_going_back_start_anew():
    tracker = MaskTracker(TrackerSettings(min_hits=1))
    tracker.update(0.0, frame((CIRCLE, (50, 50), 10), (SQUARE, (150, 50), 10)))
    assert tracker.live_ids == [1, 2]
    tracker.reset()
    assert tracker.live_ids == []
    assert tracker.update(5.0, frame((SQUARE, (150, 50), 10)))[0] == 1
    assert tracker.update(4.0, frame((SQUARE, (150, 50), 10)))[0] == 1  # a replay restarted
    assert tracker.live_ids == [1]


def test_classes_are_kept_apart():
    tracker = MaskTracker(TrackerSettings(min_hits=1))
    circle = tracker.update(0.0, frame((CIRCLE, (100, 100), 20)))[0]
    square = tracker.update(1 / 30, frame((SQUARE, (100, 100), 20)))[0]
    assert circle and square and square != circle
    assert tracker.update(2 / 30, frame((CIRCLE, (100, 100), 20)))[0] == circle


def test_an_instance_without_pixels_gets_no_id():
    tracker = MaskTracker(TrackerSettings(min_hits=1))
    instances = frame((CIRCLE, (100, 100), 10), (CIRCLE, (100, 100), 20))  # 2 covers 1
    assert instances.areas[0] == 0
    ids = tracker.update(0.0, instances)
    assert ids[0] == 0 and ids[1] > 0


def test_ids_wrap_after_65535_past_the_ids_still_alive():
    tracker = MaskTracker(TrackerSettings(min_hits=1))
    assert tracker.update(0.0, frame((CIRCLE, (30, 30), 10)))[0] == 1
    tracker._last_id = MAX_TRACK_ID - 1  # as after 65534 tracks
    ids = tracker.update(0.0, frame((CIRCLE, (30, 30), 10), (SQUARE, (100, 100), 10),
                                    (SQUARE, (200, 100), 10)))
    assert ids.tolist() == [1, MAX_TRACK_ID, 2]
    assert ids.dtype == np.uint16


def test_the_track_id_image_holds_each_instances_id():
    instances = frame((CIRCLE, (50, 50), 10), (SQUARE, (150, 50), 10), (CIRCLE, (250, 50), 10))
    image = track_id_image(instances.label_image, np.array([7, 0, MAX_TRACK_ID], np.uint16))
    assert image.dtype == np.uint16 and image.shape == (HEIGHT, WIDTH)
    assert set(np.unique(image).tolist()) == {0, 7, MAX_TRACK_ID}
    assert np.array_equal(image == 7, instances.label_image == 1)
    assert not image[instances.label_image == 2].any()
    out = np.full((HEIGHT, WIDTH), 9, np.uint16)
    assert track_id_image(instances.label_image, np.array([7, 0, 3]), out=out) is out
    assert np.array_equal(out == 3, instances.label_image == 3)


@pytest.mark.parametrize('settings', [
    {'max_age': -1.0}, {'min_hits': 0}, {'min_iou': 0.0}, {'min_iou': 1.5},
    {'max_distance': -1.0}, {'velocity_smoothing': 0.0}])
def test_settings_out_of_range_are_refused(settings):
    with pytest.raises(ValueError, match=next(iter(settings))):
        TrackerSettings(**settings)
