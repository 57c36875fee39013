"""Tests for instance_segmentation_ros.core.postprocess: selection, mask pasting, label image, RLE.

`paste_mask` is checked against the Object Detection API's `reframe_box_masks_to_image_masks`,
written out here in TensorFlow exactly as the OD API does it.
"""

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from instance_segmentation_ros.core.detections import Instances, PostprocessSettings, RawDetections
from instance_segmentation_ros.core.postprocess import (
    MAX_INSTANCES,
    encode_rle,
    paste_mask,
    postprocess,
    select,
)

# pycocotools' decode under numpy 2: noise, not ours.
pytestmark = pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')

# --- helpers -------------------------------------------------------------------------------


def detections(boxes, scores, classes=None, masks=None, mask_size=15):
    """RawDetections from lists; masks default to all ones (the whole box)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    if classes is None:
        classes = np.ones(len(scores), np.int32)
    if masks is None:
        masks = np.ones((len(scores), mask_size, mask_size), np.float32)
    return RawDetections(boxes=boxes, classes=np.asarray(classes, np.int32), scores=scores,
                         masks=np.asarray(masks, np.float32))


def pixel_box(y0, x0, y1, x1, height, width):
    """A normalised box whose pasted all-ones mask covers rows y0..y1 and columns x0..x1.

    Pixel i sits at i / (size - 1) in the OD API convention; the box edges are put a quarter
    pixel outside the wanted pixels, so no pixel lies on an edge and rounding cannot matter.
    """
    return [(y0 - 0.25) / (height - 1), (x0 - 0.25) / (width - 1),
            (y1 + 0.25) / (height - 1), (x1 + 0.25) / (width - 1)]


def paste_full(mask, box, height, width, threshold):
    """paste_mask's result as a full-image boolean mask."""
    full = np.zeros((height, width), bool)
    pasted = paste_mask(mask, np.asarray(box, np.float32), height, width, threshold)
    if pasted is not None:
        top, left, patch = pasted
        full[top:top + patch.shape[0], left:left + patch.shape[1]] = patch
    return full


def iou(a, b):
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


@pytest.fixture(scope='module')
def tf():
    return pytest.importorskip('tensorflow')


def od_api_reframe(tf, masks, boxes, height, width, extrapolation_value=0.0):
    """`reframe_box_masks_to_image_masks` of the TF Object Detection API (ops.py), verbatim."""
    box_masks = tf.constant(masks, tf.float32)
    boxes = tf.constant(boxes, tf.float32)

    def transform_boxes_relative_to_boxes(boxes, reference_boxes):
        boxes = tf.reshape(boxes, [-1, 2, 2])
        min_corner = tf.expand_dims(reference_boxes[:, 0:2], 1)
        max_corner = tf.expand_dims(reference_boxes[:, 2:4], 1)
        denom = max_corner - min_corner
        denom = tf.math.maximum(denom, 1e-4)  # prevent a divide by zero
        transformed_boxes = (boxes - min_corner) / denom
        return tf.reshape(transformed_boxes, [-1, 4])

    box_masks_expanded = tf.expand_dims(box_masks, axis=3)
    num_boxes = tf.shape(box_masks_expanded)[0]
    unit_boxes = tf.concat([tf.zeros([num_boxes, 2]), tf.ones([num_boxes, 2])], axis=1)
    reverse_boxes = transform_boxes_relative_to_boxes(unit_boxes, boxes)
    resized_crops = tf.image.crop_and_resize(
        image=box_masks_expanded, boxes=reverse_boxes, box_indices=tf.range(num_boxes),
        crop_size=[height, width], method='bilinear', extrapolation_value=extrapolation_value)
    return resized_crops.numpy()[..., 0]


def random_boxes(rng, count, height, width):
    """Normal, tiny (up to 3 px), sub-1e-4, zero-size, and partly/fully outside boxes."""
    kind = rng.integers(0, 5, count)[:, None]
    low = rng.uniform(-0.3, 1.0, (count, 2))
    size = rng.uniform(0.02, 0.9, (count, 2))
    pixel = np.array([1 / max(height - 1, 1), 1 / max(width - 1, 1)])
    size = np.where(kind == 1, rng.uniform(0, 3, (count, 2)) * pixel, size)
    size = np.where(kind == 2, rng.uniform(0, 1e-4, (count, 2)), size)
    size = np.where(kind == 3, 0.0, size)
    low = np.where(kind == 4, rng.uniform(-0.6, 0.4, (count, 2)), low)
    size = np.where(kind == 4, rng.uniform(0.7, 1.6, (count, 2)), size)
    return np.concatenate([low, low + size], axis=1)[:, [0, 1, 2, 3]].astype(np.float32)


# --- paste_mask against the OD API ---------------------------------------------------------

IMAGE_SIZES = [(48, 64), (31, 17), (480, 640), (1, 40), (25, 1)]
MASK_SIZES = [15, 28, 33]


@pytest.fixture(scope='module')
def reframe_cases(tf):
    """A few hundred random masks and boxes with the OD API's reframed masks."""
    rng = np.random.default_rng(20240611)
    cases = []
    for mask_size in MASK_SIZES:
        for height, width in IMAGE_SIZES:
            count = 30
            boxes = random_boxes(rng, count, height, width)
            masks = rng.uniform(0, 1, (count, mask_size, mask_size)).astype(np.float32)
            # Half of the masks smooth blobs (like real ones), half noise (harsh on rounding).
            yy, xx = np.mgrid[:mask_size, :mask_size] / (mask_size - 1)
            centre = rng.uniform(0.2, 0.8, (count // 2, 2))
            blobs = np.exp(-((yy - centre[:, :1, None]) ** 2 + (xx - centre[:, 1:, None]) ** 2)
                           / 0.08)
            masks[:count // 2] = blobs
            values = od_api_reframe(tf, masks, boxes, height, width)
            inside = od_api_reframe(tf, masks, boxes, height, width, -1.0) >= 0
            threshold = float(rng.choice([0.5, 0.3, 0.7, 0.0]))
            cases.append((mask_size, height, width, boxes, masks, values, inside, threshold))
    return cases


def _explained(ours, theirs, values, inside, threshold):
    """Pixels where the two disagree only by float rounding: at the threshold or the edge."""
    differ = ours != theirs
    near_threshold = np.abs(values - threshold) < 1e-3
    padded = np.pad(inside, 1, constant_values=False)
    edge = inside & ~(padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2]
                      & padded[1:-1, 2:])
    outside_edge = ~inside & (padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2]
                              | padded[1:-1, 2:])
    return not np.any(differ & ~(near_threshold | edge | outside_edge))


def test_paste_mask_matches_od_api_reframing(reframe_cases):
    total = identical = 0
    nonempty_tiny = 0
    for mask_size, height, width, boxes, masks, values, inside, threshold in reframe_cases:
        for i, box in enumerate(boxes):
            theirs = values[i] > threshold
            ours = paste_full(masks[i], box, height, width, threshold)
            label = f'mask {mask_size} image {height}x{width} box {box.tolist()} thr {threshold}'
            total += 1
            identical += bool(np.array_equal(ours, theirs))
            if np.count_nonzero(theirs) >= 50:
                assert iou(ours, theirs) >= 0.98, label
            assert np.count_nonzero(ours != theirs) <= max(2, 0.002 * np.count_nonzero(theirs)), \
                label
            assert _explained(ours, theirs, values[i], inside[i], threshold), label
            small = min(box[2] - box[0], box[3] - box[1]) * min(height, width) < 3
            nonempty_tiny += small and theirs.any()
    assert total >= 400
    assert identical / total >= 0.97, f'{identical} of {total} identical'
    assert nonempty_tiny >= 10  # tiny boxes really were exercised


def test_paste_mask_full_box_with_zero_threshold_matches_od_api_sampled_region(reframe_cases):
    # With a strictly positive mask and threshold 0 the pasted region is exactly the set of
    # pixels the OD API samples inside the box: this checks the row/column ranges themselves.
    for mask_size, height, width, boxes, _, _, inside, _ in reframe_cases:
        ones = np.ones((mask_size, mask_size), np.float32)
        for i, box in enumerate(boxes):
            ours = paste_full(ones, box, height, width, 0.0)
            differ = np.count_nonzero(ours != inside[i])
            assert differ <= max(2, 0.002 * np.count_nonzero(inside[i])), box.tolist()


@pytest.mark.parametrize('mask_size', MASK_SIZES)
def test_paste_mask_of_a_drawn_disc_recovers_the_disc(tf, mask_size):
    # A 120 px disc, cut box-relative with crop_and_resize (as Mask R-CNN's mask head sees
    # it), pasted back: the OD API convention gives IoU ~0.95 at 15x15 (cv2.resize ~0.85).
    rng = np.random.default_rng(7)
    height, width, radius = 240, 320, 60
    yy, xx = np.mgrid[:height, :width]
    scores = []
    for centre_y, centre_x in [(110.3, 150.7)] + [tuple(c) for c in
                                                 rng.uniform([80, 80], [160, 240], (11, 2))]:
        disc = (yy - centre_y) ** 2 + (xx - centre_x) ** 2 <= radius ** 2
        ys, xs = np.nonzero(disc)
        box = np.array([ys.min() / height, xs.min() / width,
                        (ys.max() + 1) / height, (xs.max() + 1) / width], np.float32)
        crop = tf.image.crop_and_resize(disc[None, ..., None].astype(np.float32), box[None],
                                        [0], [mask_size, mask_size]).numpy()[0, ..., 0]
        scores.append(iou(paste_full(crop, box, height, width, 0.5), disc))
    minimum = {15: 0.94, 28: 0.97, 33: 0.98}[mask_size]
    assert scores[0] >= 0.95, scores[0]
    assert min(scores) >= minimum, scores
    assert np.mean(scores) >= (0.95 if mask_size == 15 else minimum), scores


@pytest.mark.parametrize('mask_size', MASK_SIZES)
def test_paste_mask_corner_aligned_convention(mask_size):
    # Box edges on pixel rows 10 and 30, columns 5 and 45 of a 41x51 image (i / (size - 1)).
    height, width = 41, 51
    box = np.array([10 / 40, 5 / 50, 30 / 40, 45 / 50], np.float32)
    for row, expected_row in ((0, 10), (mask_size - 1, 30)):
        mask = np.zeros((mask_size, mask_size), np.float32)
        mask[row] = 1.0
        pasted = paste_full(mask, box, height, width, 0.99)
        assert set(np.nonzero(pasted)[0]) == {expected_row}
        assert np.array_equal(np.nonzero(pasted[expected_row])[0], np.arange(5, 46))
    for col, expected_col in ((0, 5), (mask_size - 1, 45)):
        mask = np.zeros((mask_size, mask_size), np.float32)
        mask[:, col] = 1.0
        pasted = paste_full(mask, box, height, width, 0.99)
        assert set(np.nonzero(pasted)[1]) == {expected_col}
    # Bilinear in between: the middle of a 0 -> 1 ramp along rows crosses 0.5 at row 20.
    ramp = np.repeat(np.linspace(0, 1, mask_size, dtype=np.float32)[:, None], mask_size, 1)
    pasted = paste_full(ramp, box, height, width, 0.5)
    assert set(np.nonzero(pasted)[0]) == set(range(21, 31))


def test_paste_mask_returns_patch_inside_image_and_none_outside():
    mask = np.ones((15, 15), np.float32)
    top, left, patch = paste_mask(mask, np.array([-0.5, -0.5, 0.5, 0.5], np.float32),
                                  21, 31, 0.5)
    assert (top, left) == (0, 0)
    assert patch.dtype == bool and patch.all() and patch.shape == (11, 16)
    top, left, patch = paste_mask(mask, np.array([0.5, 0.5, 1.5, 1.5], np.float32), 21, 31, 0.5)
    assert (top, left) == (10, 15) and patch.shape == (11, 16)
    outside = ([1.1, 0.2, 1.5, 0.5], [0.2, -0.9, 0.5, -0.1], [-2, -2, -1, -1], [0.2, 1.01, 0.5, 3])
    for box in outside:
        assert paste_mask(mask, np.array(box, np.float32), 21, 31, 0.5) is None


def test_paste_mask_accepts_float64_and_float16_masks():
    rng = np.random.default_rng(3)
    mask = rng.uniform(0, 1, (28, 28))
    box = np.array([0.1, 0.2, 0.8, 0.7], np.float32)
    reference = paste_full(mask.astype(np.float32), box, 60, 80, 0.5)
    assert np.array_equal(paste_full(mask, box, 60, 80, 0.5), reference)
    assert iou(paste_full(mask.astype(np.float16), box, 60, 80, 0.5), reference) > 0.98


# --- select --------------------------------------------------------------------------------

def test_select_score_threshold_is_inclusive():
    raw = detections(np.zeros((4, 4)), [0.9, 0.7, 0.5, 0.49999])
    assert select(raw, PostprocessSettings(score_threshold=0.5)).tolist() == [0, 1, 2]
    assert select(raw, PostprocessSettings(score_threshold=0.7)).tolist() == [0, 1]
    assert select(raw, PostprocessSettings(score_threshold=0.0)).tolist() == [0, 1, 2, 3]
    assert select(raw, PostprocessSettings(score_threshold=1.0)).tolist() == []


@pytest.mark.parametrize('threshold', [0.1, 0.3, 0.7, 0.9, 0.123456])
def test_select_inclusive_for_float32_scores_equal_to_threshold(threshold):
    # Models emit float32 scores; a score "equal" to the threshold must be kept.
    raw = detections(np.zeros((1, 4)), [threshold])
    assert select(raw, PostprocessSettings(score_threshold=threshold)).tolist() == [0]


def test_select_orders_by_descending_score_stably():
    raw = detections(np.zeros((6, 4)), [0.6, 0.9, 0.7, 0.9, 0.2, 0.8])
    assert select(raw, PostprocessSettings(score_threshold=0.5)).tolist() == [1, 3, 5, 2, 0]


def test_select_class_filter():
    raw = detections(np.zeros((5, 4)), [0.9, 0.8, 0.7, 0.6, 0.55], classes=[1, 18, 3, 1, 90])
    assert select(raw, PostprocessSettings(class_ids=frozenset({1}))).tolist() == [0, 3]
    assert select(raw, PostprocessSettings(class_ids=frozenset({18, 90}))).tolist() == [1, 4]
    assert select(raw, PostprocessSettings(class_ids=frozenset({2}))).tolist() == []
    assert select(raw, PostprocessSettings(class_ids=frozenset())).tolist() == [0, 1, 2, 3, 4]


def test_select_class_filter_with_float_classes():
    # Raw model outputs carry classes as floats; the filter must still match.
    raw = detections(np.zeros((3, 4)), [0.9, 0.8, 0.7])
    raw.classes = np.array([1.0, 18.0, 3.0], np.float32)
    assert select(raw, PostprocessSettings(class_ids=frozenset({18, 3}))).tolist() == [1, 2]


@pytest.mark.parametrize('max_detections, expected', [(1, [3]), (2, [3, 1]), (3, [3, 1, 0]),
                                                      (100, [3, 1, 0])])
def test_select_max_detections_keeps_the_best(max_detections, expected):
    raw = detections(np.zeros((5, 4)), [0.6, 0.8, 0.1, 0.95, 0.3])
    settings = PostprocessSettings(max_detections=max_detections)
    assert select(raw, settings).tolist() == expected


def test_select_never_more_than_255():
    raw = detections(np.zeros((400, 4)), np.linspace(1, 0.6, 400))
    kept = select(raw, PostprocessSettings(max_detections=1000))
    assert len(kept) == MAX_INSTANCES == 255
    assert kept.tolist() == list(range(255))


def test_select_all_filters_together():
    raw = detections(np.zeros((6, 4)), [0.4, 0.9, 0.8, 0.7, 0.6, 0.95],
                     classes=[1, 1, 2, 1, 1, 2])
    settings = PostprocessSettings(score_threshold=0.6, class_ids=frozenset({1}),
                                   max_detections=2)
    assert select(raw, settings).tolist() == [1, 3]


def test_select_empty():
    raw = detections(np.zeros((0, 4)), [])
    assert select(raw, PostprocessSettings()).tolist() == []


# --- postprocess: the label image ----------------------------------------------------------

H, W = 40, 60


def test_label_image_numbers_instances_by_score():
    boxes = [pixel_box(2, 3, 8, 10, H, W), pixel_box(20, 30, 25, 40, H, W),
             pixel_box(10, 45, 30, 55, H, W)]
    raw = detections(boxes, [0.6, 0.95, 0.8], classes=[5, 7, 9])
    instances = postprocess(raw, H, W, PostprocessSettings())
    assert isinstance(instances, Instances) and len(instances) == 3
    assert instances.scores.tolist() == pytest.approx([0.95, 0.8, 0.6])
    assert instances.classes.tolist() == [7, 9, 5]
    assert instances.classes.dtype == np.int64 and instances.scores.dtype == np.float32
    expected = np.zeros((H, W), np.uint8)
    expected[20:26, 30:41] = 1
    expected[10:31, 45:56] = 2
    expected[2:9, 3:11] = 3
    assert instances.label_image.dtype == np.uint8 and instances.label_image.shape == (H, W)
    assert np.array_equal(instances.label_image, expected)
    assert instances.areas.tolist() == [6 * 11, 21 * 11, 7 * 8]


def test_overlaps_go_to_the_higher_score():
    low = pixel_box(5, 5, 24, 24, H, W)   # listed first, lower score
    high = pixel_box(15, 15, 34, 34, H, W)
    raw = detections([low, high], [0.6, 0.9])
    instances = postprocess(raw, H, W, PostprocessSettings())
    label = instances.label_image
    assert np.all(label[15:35, 15:35] == 1)
    assert np.all(label[5:15, 5:25] == 2) and np.all(label[15:25, 5:15] == 2)
    assert instances.areas.tolist() == [400, 400 - 100]


def test_fully_covered_instance_keeps_its_number_with_area_zero():
    raw = detections([pixel_box(0, 0, 30, 30, H, W), pixel_box(5, 5, 10, 10, H, W),
                      pixel_box(35, 50, 38, 58, H, W)], [0.9, 0.8, 0.7])
    instances = postprocess(raw, H, W, PostprocessSettings())
    assert len(instances) == 3
    assert instances.areas.tolist() == [31 * 31, 0, 4 * 9]
    assert np.count_nonzero(instances.label_image == 2) == 0
    assert np.count_nonzero(instances.label_image == 3) == 36


def test_instance_outside_the_image_keeps_its_number():
    raw = detections([[1.2, 0.1, 1.5, 0.3], pixel_box(1, 1, 2, 2, H, W)], [0.9, 0.8])
    instances = postprocess(raw, H, W, PostprocessSettings())
    assert len(instances) == 2
    assert instances.areas.tolist() == [0, 4]
    assert np.array_equal(np.argwhere(instances.label_image == 2), [[1, 1], [1, 2], [2, 1],
                                                                    [2, 2]])


def test_areas_equal_label_pixel_counts_random():
    rng = np.random.default_rng(11)
    for _ in range(5):
        count = 25
        boxes = random_boxes(rng, count, H, W)
        masks = rng.uniform(0, 1, (count, 28, 28)).astype(np.float32)
        raw = detections(boxes, rng.uniform(0, 1, count), rng.integers(1, 91, count), masks)
        instances = postprocess(raw, H, W, PostprocessSettings(score_threshold=0.2))
        counts = np.bincount(instances.label_image.ravel(), minlength=len(instances) + 1)
        assert len(counts) == len(instances) + 1
        assert instances.areas.tolist() == counts[1:].tolist()
        assert np.all(np.diff(instances.scores) <= 0)


def test_label_image_equals_painting_best_first():
    rng = np.random.default_rng(12)
    count = 30
    boxes = random_boxes(rng, count, H, W)
    masks = rng.uniform(0, 1, (count, 15, 15)).astype(np.float32)
    scores = rng.permutation(np.linspace(0.3, 1.0, count))
    raw = detections(boxes, scores, rng.integers(1, 91, count), masks)
    settings = PostprocessSettings(score_threshold=0.4, mask_threshold=0.45, max_detections=20)
    instances = postprocess(raw, H, W, settings)
    expected = np.zeros((H, W), np.uint8)
    for number, index in enumerate(np.argsort(-scores)[:20], start=1):
        assert scores[index] >= 0.4
        pasted = paste_full(masks[index], boxes[index], H, W, 0.45)
        expected[pasted & (expected == 0)] = number
    assert np.array_equal(instances.label_image, expected)


def test_mask_threshold_is_used():
    raw = detections([pixel_box(5, 5, 10, 10, H, W)], [0.9],
                     masks=np.full((1, 15, 15), 0.6, np.float32))
    assert postprocess(raw, H, W, PostprocessSettings(mask_threshold=0.5)).areas.tolist() == [36]
    assert postprocess(raw, H, W, PostprocessSettings(mask_threshold=0.65)).areas.tolist() == [0]


@pytest.mark.parametrize('threshold', [0.1, 0.3, 0.6])
def test_mask_value_equal_to_threshold_is_not_above_it(tf, threshold):
    mask = np.full((1, 15, 15), threshold, np.float32)
    box = np.array([[0.1, 0.1, 0.3, 0.3]], np.float32)
    assert not (od_api_reframe(tf, mask, box, H, W) > threshold).any()
    assert not paste_full(mask[0], box[0], H, W, threshold).any()


def test_boxes_are_pixels_xyxy_and_clipped():
    raw = detections([[0.25, 0.1, 0.5, 0.6], [-0.2, -0.1, 1.3, 0.5], [0.9, 0.95, 1.1, 1.2]],
                     [0.9, 0.8, 0.7])
    instances = postprocess(raw, H, W, PostprocessSettings())
    assert instances.boxes.dtype == np.float32 and instances.boxes.shape == (3, 4)
    np.testing.assert_allclose(instances.boxes, [[6, 10, 36, 20], [0, 0, 30, 40],
                                                 [57, 36, 60, 40]], atol=1e-4)


def test_preallocated_label_buffer_is_reused_and_cleared():
    buffer = np.full((H, W), 77, np.uint8)
    raw = detections([pixel_box(1, 1, 3, 4, H, W)], [0.9])
    instances = postprocess(raw, H, W, PostprocessSettings(), label_image=buffer)
    assert instances.label_image is buffer
    expected = np.zeros((H, W), np.uint8)
    expected[1:4, 1:5] = 1
    assert np.array_equal(buffer, expected)


def test_preallocated_message_style_buffer_is_filled_in_place():
    # A sensor_msgs/Image data buffer seen through numpy: results must land in the bytes.
    data = bytearray(b'\x05' * (H * W))
    view = np.frombuffer(data, np.uint8).reshape(H, W)
    raw = detections([pixel_box(0, 0, 1, 1, H, W), pixel_box(0, 0, 2, 2, H, W)], [0.9, 0.5])
    postprocess(raw, H, W, PostprocessSettings(score_threshold=0.0), label_image=view)
    image = np.frombuffer(bytes(data), np.uint8).reshape(H, W)
    assert image[0, 0] == 1 and image[2, 2] == 2 and image[5, 5] == 0
    assert np.count_nonzero(image) == 9


def test_preallocated_buffer_cleared_when_nothing_is_found():
    buffer = np.full((H, W), 9, np.uint8)
    raw = detections([pixel_box(1, 1, 3, 4, H, W)], [0.1])
    instances = postprocess(raw, H, W, PostprocessSettings(), label_image=buffer)
    assert len(instances) == 0 and not buffer.any()


@pytest.mark.parametrize('raw', [
    detections(np.zeros((0, 4)), [], mask_size=33),
    detections([[0.1, 0.1, 0.5, 0.5]], [0.2]),
    detections([[0.1, 0.1, 0.5, 0.5]], [0.9], classes=[3]),
], ids=['no detections', 'below threshold', 'class filtered'])
def test_empty_result(raw):
    instances = postprocess(raw, H, W, PostprocessSettings(class_ids=frozenset({1})))
    assert len(instances) == 0
    assert instances.label_image.shape == (H, W) and not instances.label_image.any()
    assert instances.boxes.shape == (0, 4)
    assert instances.classes.shape == instances.scores.shape == instances.areas.shape == (0,)
    assert encode_rle(instances.label_image, 0) == []


def test_255_instances_fit_the_mono8_label_image():
    height, width = 20, 20
    boxes = [pixel_box(i // width, i % width, i // width, i % width, height, width)
             for i in range(300)]
    raw = detections(boxes, np.linspace(1.0, 0.7, 300))
    instances = postprocess(raw, height, width,
                            PostprocessSettings(score_threshold=0.0, max_detections=255))
    assert len(instances) == 255
    expected = np.zeros(height * width, np.uint8)
    expected[:255] = np.arange(1, 256)
    assert np.array_equal(instances.label_image.ravel(), expected)
    assert instances.areas.tolist() == [1] * 255


# --- encode_rle ----------------------------------------------------------------------------

def _check_rle(label_image, count):
    rles = encode_rle(label_image, count)
    assert len(rles) == count
    height, width = label_image.shape
    for number, rle in enumerate(rles, start=1):
        assert rle['size'] == [height, width]
        assert isinstance(rle['counts'], str)
        decoded = mask_utils.decode({'size': rle['size'], 'counts': rle['counts'].encode()})
        expected = label_image == number
        assert decoded.shape == (height, width)
        assert np.array_equal(decoded.astype(bool), expected), number
        assert mask_utils.area(rle) == np.count_nonzero(expected)
        if expected.any():
            ys, xs = np.nonzero(expected)
            np.testing.assert_array_equal(
                mask_utils.toBbox(rle),
                [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1])
    return rles


@pytest.mark.parametrize('seed', range(6))
def test_rle_decodes_to_each_instance_random(seed):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(1, 50, 2)
    count = int(rng.integers(1, 12))
    # Blocky images (long runs) and noisy ones (runs of one pixel).
    label = rng.integers(0, count + 1, (height, width)).astype(np.uint8)
    if seed % 2:
        label = np.kron(label[:height // 4 + 1, :width // 4 + 1],
                        np.ones((4, 4), np.uint8))[:height, :width]
    _check_rle(label, count)


def test_rle_instance_without_pixels():
    label = np.zeros((7, 9), np.uint8)
    label[2:4, 3:5] = 1
    label[5, 8] = 3
    rles = _check_rle(label, 4)  # instances 2 and 4 have no pixels
    assert mask_utils.area(rles[1]) == 0 and mask_utils.area(rles[3]) == 0


@pytest.mark.parametrize('shape', [(13, 17), (1, 1), (1, 25), (25, 1)])
def test_rle_full_image(shape):
    _check_rle(np.ones(shape, np.uint8), 1)


@pytest.mark.parametrize('shape, pixel', [((13, 17), (0, 0)), ((13, 17), (12, 16)),
                                          ((13, 17), (6, 0)), ((1, 1), (0, 0)),
                                          ((1, 30), (0, 29)), ((30, 1), (17, 0))])
def test_rle_single_pixel(shape, pixel):
    label = np.zeros(shape, np.uint8)
    label[pixel] = 1
    _check_rle(label, 1)


@pytest.mark.parametrize('shape', [(1, 40), (40, 1)])
def test_rle_line_images(shape):
    rng = np.random.default_rng(5)
    _check_rle(rng.integers(0, 4, shape).astype(np.uint8), 3)


def test_rle_ignores_labels_above_count_and_handles_255():
    label = np.zeros((10, 10), np.uint8)
    label[0, :] = 1
    label[1, :] = 255
    label[2, :] = 2
    _check_rle(label, 2)
    full = np.arange(256, dtype=np.uint8).reshape(16, 16)
    _check_rle(full, 255)


def test_rle_of_postprocess_output():
    rng = np.random.default_rng(21)
    boxes = random_boxes(rng, 20, H, W)
    masks = rng.uniform(0, 1, (20, 33, 33)).astype(np.float32)
    raw = detections(boxes, rng.uniform(0.5, 1, 20), masks=masks)
    instances = postprocess(raw, H, W, PostprocessSettings())
    rles = _check_rle(instances.label_image, len(instances))
    assert [int(mask_utils.area(r)) for r in rles] == instances.areas.tolist()


def test_scoring_at_least_keeps_the_best_instances_and_their_pixels():
    # Three overlapping boxes, scored 0.9 > 0.6 > 0.2: the 0.2 one only gets what is left.
    found = detections([[0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75], [0.0, 0.0, 1.0, 1.0]],
                       [0.9, 0.6, 0.2], classes=[1, 2, 3])
    instances = postprocess(found, 40, 40, PostprocessSettings(score_threshold=0.1))
    assert len(instances) == 3
    shown = instances.scoring_at_least(0.5)
    assert list(shown.scores) == pytest.approx([0.9, 0.6]) and list(shown.classes) == [1, 2]
    np.testing.assert_array_equal(shown.areas, instances.areas[:2])
    np.testing.assert_array_equal(shown.label_image,
                                  np.where(instances.label_image == 3, 0, instances.label_image))
    assert shown.label_image.dtype == np.uint8
    assert np.count_nonzero(instances.label_image == 3) > 0  # it had pixels to lose
    assert instances.scoring_at_least(0.1) is instances
    assert len(instances.scoring_at_least(0.95)) == 0
    assert not instances.scoring_at_least(0.95).label_image.any()
