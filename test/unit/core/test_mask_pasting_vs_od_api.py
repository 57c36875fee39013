"""Whole frames through `postprocess` against the OD API's reframing of all masks at once.

test_postprocess.py checks `paste_mask` one mask at a time against the Object Detection API's
`reframe_box_masks_to_image_masks`. This file checks what the node publishes: a frame of many
instances (realistic sigmoid masks of blobs, overlapping boxes, boxes partly outside the image,
tiny boxes) goes through `postprocess` (selection, pasting, label image) and `coco_detections`
(RLE), and is compared with the OD API path done the OD API way: every mask of the frame
reframed in one `tf.image.crop_and_resize` over the reverse boxes (extrapolation 0), `>
threshold`, then painted best score first so a better instance covers a worse one.
"""

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from instance_segmentation_ros.core.detections import PostprocessSettings, RawDetections
from instance_segmentation_ros.core.labels import coco_label_map
from instance_segmentation_ros.core.postprocess import postprocess
from instance_segmentation_ros.core.results import coco_detections

# pycocotools' decode under numpy 2: noise, not ours.
pytestmark = pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')

MIN_PIXELS = 50  # IoU is only meaningful for masks of some size; smaller ones are counted


@pytest.fixture(scope='module')
def tf():
    return pytest.importorskip('tensorflow')


def od_api_reframe_all(tf, masks, boxes, height, width):
    """`reframe_box_masks_to_image_masks` (object_detection/utils/ops.py) for a whole frame.

    Written as the OD API writes it: unit boxes expressed in each detection box's frame
    (the reverse boxes), one `crop_and_resize` of all box masks to the image size,
    extrapolation value 0.
    """
    box_masks = tf.expand_dims(tf.constant(masks, tf.float32), axis=3)
    boxes = tf.constant(boxes, tf.float32)
    num_boxes = tf.shape(box_masks)[0]
    unit_boxes = tf.concat([tf.zeros([num_boxes, 2]), tf.ones([num_boxes, 2])], axis=1)
    corners = tf.reshape(unit_boxes, [-1, 2, 2])
    min_corner = tf.expand_dims(boxes[:, 0:2], 1)
    max_corner = tf.expand_dims(boxes[:, 2:4], 1)
    denom = tf.math.maximum(max_corner - min_corner, 1e-4)
    reverse_boxes = tf.reshape((corners - min_corner) / denom, [-1, 4])
    image_masks = tf.image.crop_and_resize(
        image=box_masks, boxes=reverse_boxes, box_indices=tf.range(num_boxes),
        crop_size=[height, width], method='bilinear', extrapolation_value=0.0)
    return image_masks.numpy()[..., 0]


def realistic_frame(rng, count, mask_size, height, width):
    """RawDetections like a Mask R-CNN's: blob masks through a sigmoid, boxes of all kinds.

    Boxes are mostly objects of 3-50 % of the image, many overlapping; a fifth cross the
    image border (as boxes near the edge of the model's window do) and a tenth are tiny
    (1-4 px). Scores are descending-ish with ties, classes from the COCO ids.
    """
    kind = rng.choice(['object', 'border', 'tiny'], count, p=[0.7, 0.2, 0.1])
    centre = rng.uniform(0.1, 0.9, (count, 2))
    size = rng.uniform(0.03, 0.5, (count, 2))
    pixel = np.array([1 / (height - 1), 1 / (width - 1)])
    size[kind == 'tiny'] = rng.uniform(1, 4, (np.count_nonzero(kind == 'tiny'), 2)) * pixel
    border = kind == 'border'
    centre[border] = rng.choice([-0.05, 1.05], (np.count_nonzero(border), 2))
    size[border] = rng.uniform(0.2, 0.6, (np.count_nonzero(border), 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(np.float32)

    grid = np.linspace(0.0, 1.0, mask_size, dtype=np.float32)
    yy, xx = np.meshgrid(grid, grid, indexing='ij')
    logits = np.full((count, mask_size, mask_size), -4.0, np.float32)
    for blob in range(3):
        present = rng.uniform(size=count) < (1.0 if blob == 0 else 0.5)
        cy, cx = (rng.uniform(0.25, 0.75, count)[:, None, None] for _ in range(2))
        ry, rx = (rng.uniform(0.15, 0.45, count)[:, None, None] for _ in range(2))
        distance = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        logits = np.maximum(logits, np.where(present[:, None, None], 6.0 * (1.0 - distance),
                                             -4.0))
    logits += rng.normal(0.0, 0.5, logits.shape).astype(np.float32)
    masks = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    scores = np.sort(rng.uniform(0.05, 1.0, count).astype(np.float32))[::-1].copy()
    scores[5:8] = scores[5]  # ties keep the model's order
    classes = rng.choice([1, 3, 18, 44, 62, 90], count).astype(np.int32)
    return RawDetections(boxes=boxes, classes=classes, scores=scores, masks=masks)


def od_api_label_image(image_masks, detections, settings):
    """Paint the OD API's thresholded masks of the selected detections, best score first."""
    keep = detections.scores >= settings.score_threshold
    if settings.class_ids:
        keep &= np.isin(detections.classes, sorted(settings.class_ids))
    order = np.flatnonzero(keep)
    order = order[np.argsort(-detections.scores[order], kind='stable')]
    order = order[:settings.max_detections]
    label = np.zeros(image_masks.shape[1:], np.uint8)
    for number, index in enumerate(order, start=1):
        label[(image_masks[index] > settings.mask_threshold) & (label == 0)] = number
    return label, order


def iou(a, b):
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


FRAMES = [  # (mask size, height, width, instances, settings)
    (15, 240, 320, 70, PostprocessSettings(score_threshold=0.3)),
    (28, 180, 320, 70, PostprocessSettings(score_threshold=0.0, mask_threshold=0.4)),
    (33, 200, 360, 70, PostprocessSettings(score_threshold=0.2, mask_threshold=0.6)),
    (33, 240, 320, 60, PostprocessSettings(score_threshold=0.1, class_ids=frozenset({1, 3, 44}),
                                           max_detections=25)),
]


@pytest.fixture(scope='module')
def frames(tf):
    """Each frame's detections, settings and the OD API's label image and selection."""
    rng = np.random.default_rng(20250117)
    cases = []
    for mask_size, height, width, count, settings in FRAMES:
        detections = realistic_frame(rng, count, mask_size, height, width)
        image_masks = od_api_reframe_all(tf, detections.masks, detections.boxes, height, width)
        expected, order = od_api_label_image(image_masks, detections, settings)
        cases.append((detections, height, width, settings, image_masks, expected, order))
    return cases


def test_frames_exercise_many_masks_of_every_kind(frames):
    selected = sum(len(order) for *_, order in frames)
    assert selected >= 150
    assert {d.masks.shape[1] for d, *_ in frames} == {15, 28, 33}
    overlapped = tiny = border = 0
    for detections, height, _, settings, image_masks, expected, order in frames:
        for number, index in enumerate(order, start=1):
            theirs = image_masks[index] > settings.mask_threshold
            overlapped += np.count_nonzero(expected == number) < np.count_nonzero(theirs)
            ymin, xmin, ymax, xmax = detections.boxes[index]
            tiny += (ymax - ymin) * height < 5 and theirs.any()
            border += ymin < 0 or xmin < 0 or ymax > 1 or xmax > 1
    assert overlapped >= 30 and tiny >= 3 and border >= 15, (overlapped, tiny, border)


def test_postprocess_selects_what_the_od_api_path_selects(frames):
    for detections, height, width, settings, _, _, order in frames:
        instances = postprocess(detections, height, width, settings)
        assert len(instances) == len(order)
        np.testing.assert_array_equal(instances.scores, detections.scores[order])
        np.testing.assert_array_equal(instances.classes, detections.classes[order])


def test_label_image_matches_od_api_masks_painted_in_score_order(frames):
    small = 0
    for detections, height, width, settings, _, expected, order in frames:
        instances = postprocess(detections, height, width, settings)
        ours = instances.label_image
        # Whole frame: pixels that disagree are rare (float rounding at a threshold/edge).
        differ = np.count_nonzero(ours != expected)
        assert differ <= 0.002 * np.count_nonzero(expected) + 2, differ
        for number in range(1, len(order) + 1):
            # Each instance as published: what is left of it after better ones covered it.
            theirs_visible = expected == number
            label = f'{height}x{width} m={detections.masks.shape[1]} instance {number}'
            if np.count_nonzero(theirs_visible) >= MIN_PIXELS:
                assert iou(ours == number, theirs_visible) >= 0.98, label
            else:
                small += 1
                assert np.count_nonzero((ours == number) != theirs_visible) <= 2, label
            assert abs(int(instances.areas[number - 1]) - np.count_nonzero(theirs_visible)) \
                <= max(2, 0.01 * np.count_nonzero(theirs_visible)), label
    assert small < 0.5 * sum(len(order) for *_, order in frames)


def test_unoccluded_pasted_masks_match_od_api_reframing(frames):
    # Each selected mask alone (a frame with only that detection): the pasted mask before any
    # occlusion against the OD API's reframed mask of the whole-frame batch.
    checked = 0
    for detections, height, width, settings, image_masks, _, order in frames:
        for index in order:
            alone = RawDetections(boxes=detections.boxes[index:index + 1],
                                  classes=detections.classes[index:index + 1],
                                  scores=np.ones(1, np.float32),
                                  masks=detections.masks[index:index + 1])
            ours = postprocess(alone, height, width, PostprocessSettings(
                score_threshold=0.0, mask_threshold=settings.mask_threshold)).label_image == 1
            theirs = image_masks[index] > settings.mask_threshold
            if np.count_nonzero(theirs) >= MIN_PIXELS:
                assert iou(ours, theirs) >= 0.98, (height, width, index)
                checked += 1
            else:
                assert np.count_nonzero(ours != theirs) <= 2, (height, width, index)
    assert checked >= 100


def test_coco_rle_decodes_to_the_od_api_masks(frames):
    label_map = coco_label_map()
    for detections, height, width, settings, _, expected, order in frames:
        instances = postprocess(detections, height, width, settings)
        entries = coco_detections(instances, label_map)
        assert [e['id'] for e in entries] == list(range(1, len(order) + 1))
        for entry in entries:
            rle = dict(entry['segmentation'], counts=entry['segmentation']['counts'].encode())
            decoded = mask_utils.decode(rle).astype(bool)
            theirs = expected == entry['id']
            assert entry['category_id'] == int(detections.classes[order[entry['id'] - 1]])
            assert entry['area'] == np.count_nonzero(decoded)
            if np.count_nonzero(theirs) >= MIN_PIXELS:
                assert iou(decoded, theirs) >= 0.98, entry['id']
            else:
                assert np.count_nonzero(decoded != theirs) <= 2, entry['id']
