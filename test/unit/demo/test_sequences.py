"""Generated sequences: deterministic, exact visible masks, stamps in time, objects that move."""

import numpy as np

from instance_segmentation_ros.demo.scenes import shape_mask
from instance_segmentation_ros.demo.sequences import (
    SequenceSettings,
    generate_sequence,
    truth_instances,
)

SHORT = SequenceSettings(frames=60)


def test_the_same_seed_and_index_give_the_same_frames_and_others_differ():
    one, again, other = (generate_sequence(3, 0, SHORT), generate_sequence(3, 0, SHORT),
                         generate_sequence(3, 1, SHORT))
    for number in (0, 31, 59):
        a, b = one.frame(number), again.frame(number)
        assert np.array_equal(a.image, b.image) and a.stamp_s == b.stamp_s
        assert [o.identity for o in a.objects] == [o.identity for o in b.objects]
        assert all(np.array_equal(x.mask, y.mask)
                   for x, y in zip(a.objects, b.objects, strict=True))
    assert not np.array_equal(one.frame(0).image, other.frame(0).image)


def test_visible_masks_are_the_full_shapes_less_what_nearer_objects_cover():
    sequence = generate_sequence(3, 2, SHORT)
    settings = sequence.settings
    depth = {plan.identity: rank for rank, plan in enumerate(sequence.objects)}
    hidden_somewhere = False
    for frame in sequence.frames(3):
        taken = np.zeros((settings.height, settings.width), np.int64)
        for truth in frame.objects:
            assert truth.mask.sum() >= settings.min_area
            taken += truth.mask
        assert taken.max() <= 1  # visible masks never overlap
        for truth in frame.objects:
            plan = next(p for p in sequence.objects if p.identity == truth.identity)
            centre, angle = plan.pose(frame.index / settings.fps, settings.width,
                                      settings.height)
            full = shape_mask(settings.height, settings.width, plan.class_id, centre,
                              plan.size, angle)
            nearer = np.zeros_like(full)
            for other in sequence.objects:
                if depth[other.identity] > depth[plan.identity] and (
                        frame.index / settings.fps >= other.appears_s):
                    o_centre, o_angle = other.pose(frame.index / settings.fps,
                                                   settings.width, settings.height)
                    nearer |= shape_mask(settings.height, settings.width, other.class_id,
                                         o_centre, other.size, o_angle)
            assert np.array_equal(truth.mask, full & ~nearer)
            assert truth.visible == truth.mask.sum() / full.sum()
            hidden_somewhere |= truth.visible < 1.0
    assert hidden_somewhere


def test_stamps_rise_at_the_frame_rate_with_a_little_jitter():
    sequence = generate_sequence(3, 0, SHORT)
    gaps = np.diff(sequence.stamps_s)
    assert sequence.stamps_s[0] == 0.0 and (gaps >= 0).all()
    assert np.allclose(gaps, 1 / SHORT.fps, atol=2 * SHORT.stamp_jitter_s + 1e-9)
    assert [f.stamp_s for f in sequence.frames(5)] == list(sequence.stamps_s[::5])


def test_sequences_hold_what_a_tracker_must_survive():
    """Speeds vary, objects enter and leave, and some are hidden behind others for a while."""
    settings = SequenceSettings()
    speeds, entered, left, hidden_runs = [], 0, 0, []
    for index in range(4):
        sequence = generate_sequence(3, index, settings)
        speeds += [float(np.hypot(*p.velocity)) for p in sequence.objects]
        seen = [{o.identity for o in f.objects} for f in sequence.frames(3)]
        for plan in sequence.objects:
            present = np.array([plan.identity in s for s in seen])
            shown = np.flatnonzero(present)
            entered += bool(shown.size and shown[0] > 0)
            left += bool(shown.size and shown[-1] < len(seen) - 1)
            if shown.size:
                inside = present[shown[0]:shown[-1] + 1]
                runs = np.diff(np.flatnonzero(np.diff(np.r_[1, inside, 1].astype(int))))[::2]
                hidden_runs += runs.tolist()
    assert min(speeds) < 60 and max(speeds) > 150
    assert entered >= 4 and left >= 4
    assert any(1 <= run <= 10 for run in hidden_runs), hidden_runs  # 3 to 30 frames


def test_truth_instances_are_the_frames_objects_as_a_label_image():
    frame = generate_sequence(3, 0, SHORT).frame(20)
    instances, identities = truth_instances(frame)
    assert len(instances) == len(frame.objects) == len(identities)
    assert instances.label_image.dtype == np.uint8
    for number, truth in enumerate(frame.objects, start=1):
        assert np.array_equal(instances.label_image == number, truth.mask)
        assert identities[number - 1] == truth.identity
        assert instances.classes[number - 1] == truth.class_id
        assert instances.areas[number - 1] == truth.mask.sum()
        x0, y0, x1, y1 = instances.boxes[number - 1]
        rows, cols = np.nonzero(truth.mask)
        assert (x0, y0, x1, y1) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
