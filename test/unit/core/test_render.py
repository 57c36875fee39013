"""Tests for instance_segmentation_ros.core.render: the overlay image and the class colours."""

import itertools

import cv2
import numpy as np
import pytest

from instance_segmentation_ros.core.detections import Instances, PostprocessSettings, RawDetections
from instance_segmentation_ros.core.labels import LabelMap, coco_label_map
from instance_segmentation_ros.core.postprocess import postprocess
from instance_segmentation_ros.core.render import (
    class_colour,
    draw_caption,
    draw_shadowed_text,
    label_positions,
    render_overlay,
)

H, W = 240, 320
LABEL_ROOM = 30  # rows above a box that its label may use (text ~10 px at this size)
EDGE = 4  # pixels either side of a box outline that anti-aliased lines may touch


@pytest.fixture(scope='module')
def coco():
    return coco_label_map()


def make_instances(shapes, height=H, width=W):
    """Instances from (box [x0, y0, x1, y1], class id, score, mask kind) tuples, best first.

    The mask is a filled ellipse inscribed in the box (`disc`) or the whole box (`box`).
    """
    label = np.zeros((height, width), np.uint8)
    yy, xx = np.mgrid[:height, :width]
    areas = []
    for number, (box, _, _, kind) in enumerate(shapes, start=1):
        x0, y0, x1, y1 = box
        if kind == 'disc':
            cy, cx, ry, rx = (y0 + y1) / 2, (x0 + x1) / 2, (y1 - y0) / 2, (x1 - x0) / 2
            inside = ((yy + 0.5 - cy) / ry) ** 2 + ((xx + 0.5 - cx) / rx) ** 2 <= 1
        else:
            inside = (yy >= y0) & (yy < y1) & (xx >= x0) & (xx < x1)
        free = inside & (label == 0)
        label[free] = number
        areas.append(np.count_nonzero(free))
    return Instances(
        label_image=label,
        boxes=np.array([s[0] for s in shapes], np.float32).reshape(-1, 4),
        classes=np.array([s[1] for s in shapes], np.int64),
        scores=np.array([s[2] for s in shapes], np.float32),
        areas=np.array(areas, np.int64))


def random_image(seed=0, height=H, width=W):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)


def may_change(instances, height=H, width=W):
    """Where boxes, their outlines and their labels (above, or inside at the top) may draw."""
    zone = np.zeros((height, width), bool)
    for x0, y0, x1, y1 in instances.boxes.astype(int):
        zone[max(y0 - EDGE, 0):y1 + EDGE, max(x0 - EDGE, 0):x1 + EDGE] = True
        zone[max(y0 - LABEL_ROOM, 0):y0 + LABEL_ROOM, max(x0 - EDGE, 0):] = True
    return zone


def blended(base, colour, alpha):
    return np.asarray(base, np.float64) * (1 - alpha) + np.asarray(colour, np.float64) * alpha


TWO = [((40, 60, 140, 180), 1, 0.9, 'disc'), ((180, 80, 300, 200), 18, 0.7, 'disc')]


# --- pixels that must not change -----------------------------------------------------------

def test_pixels_outside_instances_and_boxes_are_untouched(coco):
    image = random_image()
    instances = make_instances(TWO)
    out = render_overlay(image, instances, coco, alpha=0.5)
    assert out.shape == image.shape and out.dtype == np.uint8
    outside = ~may_change(instances)
    assert np.array_equal(out[outside], image[outside])
    # Inside a box but outside its mask (the corners of the inscribed ellipse), away from
    # outline and label, nothing changes either.
    corner = np.zeros((H, W), bool)
    corner[160:176, 40 + EDGE:52] = True
    assert not instances.label_image[corner].any()
    assert np.array_equal(out[corner], image[corner])


def test_input_is_not_modified(coco):
    image = random_image(1)
    before = image.copy()
    render_overlay(image, make_instances(TWO), coco, alpha=0.6)
    assert np.array_equal(image, before)


def test_no_instances_gives_a_copy(coco):
    image = random_image(2)
    empty = make_instances([])
    out = render_overlay(image, empty, coco)
    assert out is not image and np.array_equal(out, image)


# --- blending ------------------------------------------------------------------------------

@pytest.mark.parametrize('alpha', [0.25, 0.5, 0.8, 1.0])
def test_masks_blend_with_the_class_colour(coco, alpha):
    image = np.full((H, W, 3), (30, 100, 200), np.uint8)
    instances = make_instances(TWO)
    out = render_overlay(image, instances, coco, alpha=alpha)
    for (y, x), class_id in (((120, 90), 1), ((140, 240), 18)):
        assert instances.label_image[y, x] > 0
        expected = blended(image[y, x], class_colour(class_id), alpha)
        np.testing.assert_allclose(out[y, x], expected, atol=1)
        # The mask around that pixel, away from outlines and labels, is blended alike.
        number = instances.label_image[y, x]
        interior = np.zeros((H, W), bool)
        interior[y - 15:y + 15, x - 15:x + 15] = True
        interior &= instances.label_image == number
        assert np.all(np.abs(out[interior].astype(int) - expected) <= 1)


def test_each_instance_gets_its_own_class_colour_not_its_number(coco):
    image = np.full((H, W, 3), 128, np.uint8)
    # Same class twice, a different class once: colours follow the class.
    shapes = [((20, 40, 100, 120), 3, 0.9, 'box'), ((120, 40, 200, 120), 44, 0.8, 'box'),
              ((220, 40, 300, 120), 3, 0.7, 'box')]
    out = render_overlay(image, make_instances(shapes), coco, alpha=0.5)
    first, second, third = out[100, 60], out[100, 160], out[100, 260]
    assert np.array_equal(first, third)
    assert not np.array_equal(first, second)
    np.testing.assert_allclose(second, blended(128, class_colour(44), 0.5), atol=1)


def test_alpha_zero_leaves_masks_unblended_but_draws_boxes(coco):
    image = random_image(3)
    instances = make_instances(TWO)
    out = render_overlay(image, instances, coco, alpha=0.0)
    y0, y1, x0, x1 = 100, 160, 70, 110  # well inside the first mask
    assert instances.label_image[y0:y1, x0:x1].all()
    assert np.array_equal(out[y0:y1, x0:x1], image[y0:y1, x0:x1])
    assert not np.array_equal(out[60, 40:140], image[60, 40:140])  # the box's top edge


def test_every_mask_pixel_is_drawn_on(coco):
    # Instances as the pipeline makes them, boxes partly outside the image included.
    rng = np.random.default_rng(4)
    count = 12
    low = rng.uniform(-0.2, 0.9, (count, 2))
    high = low + rng.uniform(0.05, 0.6, (count, 2))
    raw = RawDetections(
        boxes=np.concatenate([low, high], 1).astype(np.float32),
        classes=rng.integers(1, 91, count).astype(np.int32),
        scores=np.sort(rng.uniform(0.5, 1, count))[::-1].astype(np.float32),
        masks=rng.uniform(0.3, 1, (count, 33, 33)).astype(np.float32))
    instances = postprocess(raw, H, W, PostprocessSettings())
    assert len(instances) == count and instances.label_image.any()
    image = np.full((H, W, 3), 128, np.uint8)
    out = render_overlay(image, instances, coco, alpha=0.5)
    changed = np.any(out != image, axis=2)
    assert np.all(changed[instances.label_image > 0])


# --- buffers and memory layouts ------------------------------------------------------------

def test_writes_into_the_given_out_buffer(coco):
    image = random_image(5)
    instances = make_instances(TWO)
    expected = render_overlay(image, instances, coco, alpha=0.5)
    out = np.zeros_like(image)
    result = render_overlay(image, instances, coco, alpha=0.5, out=out)
    assert result is out
    assert np.array_equal(out, expected)


def test_out_buffer_reused_across_frames_keeps_nothing_from_before(coco):
    out = np.full((H, W, 3), 255, np.uint8)
    render_overlay(random_image(6), make_instances(TWO), coco, out=out)
    image = random_image(7)
    render_overlay(image, make_instances([]), coco, out=out)
    assert np.array_equal(out, image)


@pytest.mark.parametrize('view', ['bgr_from_rgb', 'mirrored', 'cropped', 'strided'])
def test_non_contiguous_input_views(coco, view):
    big = random_image(8, 2 * H + 20, 2 * W + 40)
    image = {
        'bgr_from_rgb': random_image(8)[..., ::-1],
        'mirrored': random_image(8)[:, ::-1],
        'cropped': big[10:10 + H, 20:20 + W],
        'strided': big[::2, ::2][:H, :W],
    }[view]
    assert not image.flags['C_CONTIGUOUS'] and image.shape == (H, W, 3)
    before = image.copy()
    instances = make_instances(TWO)
    out = render_overlay(image, instances, coco, alpha=0.5)
    assert np.array_equal(out, render_overlay(np.ascontiguousarray(image), instances, coco,
                                              alpha=0.5))
    assert np.array_equal(image, before)


@pytest.mark.parametrize('view', ['transposed', 'rot90'])
def test_transposed_input_views(coco, view):
    source = random_image(9, W, H)
    image = source.transpose(1, 0, 2) if view == 'transposed' else np.rot90(source)
    assert image.shape == (H, W, 3)
    instances = make_instances(TWO)
    out = render_overlay(image, instances, coco, alpha=0.5)
    assert np.array_equal(out, render_overlay(np.ascontiguousarray(image), instances, coco,
                                              alpha=0.5))


# --- caption -------------------------------------------------------------------------------

CAPTION = 'built-in demo model: knows only circles, squares, triangles'


def caption_extent(height, width):
    """(rows, columns, white text rows, white text columns) that the caption changes."""
    image = np.full((height, width, 3), 128, np.uint8)
    assert draw_caption(image, CAPTION) is image  # drawn in place
    changed = np.any(image != 128, axis=2)
    white = np.all(image >= 230, axis=2)
    return (np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0)),
            np.flatnonzero(white.any(axis=1)), np.flatnonzero(white.any(axis=0)))


@pytest.mark.parametrize('height, width', [(240, 320), (480, 640), (2160, 3840)])
def test_caption_is_white_text_on_a_dark_band_at_the_bottom_left(height, width):
    image = np.full((height, width, 3), 128, np.uint8)
    draw_caption(image, CAPTION)
    rows, columns, text_rows, text_columns = caption_extent(height, width)
    assert rows[0] > 0.85 * height and rows[-1] == height - 1  # a band at the bottom
    assert columns[0] == 0 and columns[-1] < width - 1  # from the left, the text not cut off
    band = image[rows[0]:, :columns[-1] + 1]
    assert np.all(band <= 20, axis=2).mean() > 0.5  # dark
    assert len(text_rows) >= 8  # legible text, across the band
    assert text_columns[-1] - text_columns[0] > 0.8 * len(columns)


def test_caption_font_follows_the_image_width():
    band_heights = [len(caption_extent(h, w)[0]) for h, w in ((480, 640), (960, 1280),
                                                              (1920, 2560))]
    assert band_heights[1] == pytest.approx(2 * band_heights[0], rel=0.2)
    assert band_heights[2] == pytest.approx(2 * band_heights[1], rel=0.2)


@pytest.mark.parametrize('height, width', [(1, 1), (1, 500), (500, 1), (3, 3), (40, 40)])
def test_caption_on_tiny_images_does_not_crash(height, width):
    image = random_image(12, height, width)
    assert draw_caption(image, CAPTION).shape == (height, width, 3)


# --- colours -------------------------------------------------------------------------------

def test_class_colours_are_bgr_byte_triples():
    for class_id in range(0, 256):
        colour = class_colour(class_id)
        assert isinstance(colour, tuple) and len(colour) == 3
        assert all(isinstance(c, int) and 0 <= c <= 255 for c in colour)


def test_class_colours_are_stable():
    first = [class_colour(i) for i in range(1, 91)]
    class_colour.cache_clear()
    assert [class_colour(i) for i in range(1, 91)] == first
    assert class_colour(np.int64(7)) == first[6]


def test_class_colours_distinct_for_coco_ids():
    colours = [class_colour(i) for i in range(1, 91)]
    assert len(set(colours)) == 90


def test_neighbouring_class_ids_have_clearly_different_colours():
    for class_id in range(1, 90):
        a, b = np.array(class_colour(class_id)), np.array(class_colour(class_id + 1))
        assert np.abs(a - b).sum() > 100, class_id


def test_class_ids_close_to_each_other_have_clearly_different_colours():
    # A hue-only palette cannot keep all 90 apart (person 1 and toothbrush 90 are only 7
    # apart in L1), but ids up to 12 apart, often seen together, differ clearly.
    for a, b in itertools.combinations(range(1, 91), 2):
        if b - a <= 12:
            distance = np.abs(np.array(class_colour(a)) - np.array(class_colour(b))).sum()
            assert distance > 60, (a, b)


# --- boxes and labels at the edges ---------------------------------------------------------

@pytest.mark.parametrize('box', [
    (0, 0, W, H), (0, 0, 1, 1), (W - 1, H - 1, W, H), (W - 1, 0, W, 10), (0, H - 1, 10, H),
    (W, H, W, H), (0, 0, 0, 0), (300, 5, W, 40), (-5, -5, 20, 20), (W - 20, H - 20, W + 5,
                                                                    H + 5),
])
def test_boxes_near_image_edges_do_not_crash(coco, box):
    image = random_image(10)
    instances = make_instances([(box, 88, 0.99, 'box')])
    out = render_overlay(image, instances, coco, alpha=0.5)
    assert out.shape == image.shape


@pytest.mark.parametrize('height, width', [(1, 1), (1, 50), (50, 1), (8, 8)])
def test_tiny_images(coco, height, width):
    image = random_image(11, height, width)
    instances = make_instances([((0, 0, width, height), 1, 0.9, 'box')], height, width)
    out = render_overlay(image, instances, coco, alpha=1.0)
    assert out.shape == image.shape


def test_label_at_the_top_edge_is_drawn_inside_the_box(coco):
    image = np.full((H, W, 3), 128, np.uint8)
    instances = make_instances([((100, 0, 220, 120), 1, 0.9, 'disc')])
    out = render_overlay(image, instances, coco, alpha=0.0)
    colour = np.array(class_colour(1), np.uint8)
    label_area = out[1:8, 102:130]  # just inside the top-left corner of the box
    is_colour = np.all(label_area == colour, axis=2)
    assert is_colour.mean() > 0.3  # the label's filled background
    # And the text itself: pixels of neither the background nor the label colour.
    text_rows = out[0:20, 101:200]
    assert np.any(np.all(text_rows != colour, axis=2) & np.all(text_rows != 128, axis=2))


def test_label_with_room_goes_above_the_box(coco):
    image = np.full((H, W, 3), 128, np.uint8)
    instances = make_instances([((100, 100, 220, 200), 18, 0.9, 'disc')])
    out = render_overlay(image, instances, coco, alpha=0.0)
    colour = np.array(class_colour(18), np.uint8)
    above = out[85:99, 101:130]
    assert np.all(above == colour, axis=2).mean() > 0.3
    inside = out[103:115, 103:130]  # inside the box, where a label would be drawn otherwise
    assert np.all(inside == 128)


def test_label_text_uses_the_label_map_names():
    # The label names come from the label map passed in, so a different map gives a
    # different overlay in the label area, and the same map the same overlay.
    image = np.full((H, W, 3), 128, np.uint8)
    instances = make_instances([((100, 100, 220, 200), 1, 0.9, 'disc')])
    a = render_overlay(image, instances, LabelMap({1: 'a'}))
    b = render_overlay(image, instances, LabelMap({1: 'a very long name'}))
    c = render_overlay(image, instances, LabelMap({1: 'a'}))
    assert np.array_equal(a, c)
    assert not np.array_equal(a[70:100], b[70:100])
    assert np.array_equal(a[110:], b[110:])


# --- label placement -----------------------------------------------------------------------

LABEL = (70, 16)  # (width, height), about a label's like 'person 90%' at this image size


def label_rectangles(positions, sizes):
    """(x0, y0, x1, y1) of each label, x1 and y1 exclusive."""
    positions, sizes = np.asarray(positions), np.asarray(sizes)
    return np.concatenate([positions, positions + sizes], axis=1)


def overlapping_pairs(rectangles):
    return [(a, b) for a, b in itertools.combinations(range(len(rectangles)), 2)
            if rectangles[a][0] < rectangles[b][2] and rectangles[b][0] < rectangles[a][2]
            and rectangles[a][1] < rectangles[b][3] and rectangles[b][1] < rectangles[a][3]]


def label_patch(box, class_id, label_map):
    """The label of one instance drawn alone, well inside the image: text on its fill."""
    image = np.full((H, W, 3), 128, np.uint8)
    out = render_overlay(image, make_instances([(box, class_id, 0.9, 'box')]), label_map,
                         alpha=0.0)
    rows, columns = np.nonzero(np.any(out[:box[1]] != 128, axis=2))  # above the box
    return out[rows.min():rows.max() + 1, columns.min():columns.max() + 1]


def shows(image, patch):
    """Whether `patch` appears somewhere in `image`, every pixel of it."""
    patch_height, patch_width = patch.shape[:2]
    height, width = image.shape[:2]
    corner_matches = np.all(
        image[:height - patch_height + 1, :width - patch_width + 1] == patch[0, 0], axis=2)
    return any(np.array_equal(image[y:y + patch_height, x:x + patch_width], patch)
               for y, x in np.argwhere(corner_matches))


def test_best_label_keeps_its_spot_above_its_box():
    positions = label_positions([(100, 100, 220, 200)], [LABEL], (H, W))
    assert positions.tolist() == [[100, 100 - LABEL[1]]]


@pytest.mark.parametrize('box', [
    (W - 30, 100, W, 200), (W - 1, 0, W, 10), (300, 5, W, 40), (W - 20, H - 20, W + 5, H + 5),
    (W, H, W, H), (0, H - 1, 10, H), (-5, -5, 20, 20), (0, 0, W, H), (W + 50, -80, W + 90, -40),
])
def test_labels_lie_inside_the_image(box):
    rectangle = label_rectangles(label_positions([box], [LABEL], (H, W)), [LABEL])[0]
    assert rectangle[0] >= 0 and rectangle[1] >= 0
    assert rectangle[2] <= W and rectangle[3] <= H


def test_label_of_a_box_at_the_right_edge_moves_left_to_fit():
    positions = label_positions([(W - 30, 100, W, 200)], [LABEL], (H, W))
    assert positions.tolist() == [[W - LABEL[0], 100 - LABEL[1]]]


def test_labels_of_nearly_identical_boxes_do_not_overlap():
    boxes = [(100, 100, 220, 200), (102, 101, 221, 201), (99, 100, 219, 199)]
    positions = label_positions(boxes, [LABEL] * 3, (H, W))
    assert positions[0].tolist() == [100, 100 - LABEL[1]]  # the best one keeps its spot
    assert overlapping_pairs(label_rectangles(positions, [LABEL] * 3)) == []


def test_crowded_labels_find_free_spots_while_there_are_any():
    # Ten instances on one spot: above, inside, below and down the box hold them all.
    boxes = [(100 + k % 3, 60, 220 + k % 3, 220 + k % 2) for k in range(10)]
    sizes = [LABEL] * 10
    rectangles = label_rectangles(label_positions(boxes, sizes, (H, W)), sizes)
    assert overlapping_pairs(rectangles) == []
    assert np.all(rectangles[:, :2] >= 0) and np.all(rectangles[:, 2:] <= (W, H))


def test_labels_finding_no_free_spot_still_lie_inside_the_image():
    # Twenty labels cannot fit into a 40-row image; they still all lie inside it.
    height = 40
    sizes = [LABEL] * 20
    positions = label_positions([(10, 5, 100, 35)] * 20, sizes, (height, W))
    rectangles = label_rectangles(positions, sizes)
    assert np.all(rectangles[:, :2] >= 0) and np.all(rectangles[:, 2:] <= (W, height))
    assert overlapping_pairs(rectangles[:2]) == []  # the first two still found room


def test_many_random_labels_stay_inside_and_apart_where_there_is_room():
    rng = np.random.default_rng(12)
    count = 100
    corners = rng.uniform((-40, -40), (W, H), (count, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(5, 200, (count, 2))], axis=1)
    sizes = np.stack([rng.integers(20, 120, count), rng.integers(8, 24, count)], axis=1)
    positions = label_positions(boxes, sizes, (H, W))
    rectangles = label_rectangles(positions, sizes)
    assert positions.shape == (count, 2)
    assert np.all(rectangles[:, :2] >= 0) and np.all(rectangles[:, 2:] <= (W, H))
    # The first few, spread over a large image, never need to overlap.
    assert overlapping_pairs(rectangles[:8]) == []


@pytest.mark.parametrize('height, width', [(1, 1), (8, 8), (1, 50), (50, 1), (12, 200)])
def test_labels_larger_than_the_image_start_at_its_edge(height, width):
    boxes = [(0, 0, width, height), (2, 2, 5, 5), (width, height, width, height)]
    rectangles = label_rectangles(label_positions(boxes, [LABEL] * 3, (height, width)),
                                  [LABEL] * 3)
    assert np.all(rectangles[:, :2] >= 0)
    for start, end, size, room in ((0, 2, LABEL[0], width), (1, 3, LABEL[1], height)):
        if size > room:  # does not fit: starts at the left or top edge
            assert np.all(rectangles[:, start] == 0)
        else:
            assert np.all(rectangles[:, end] <= room)


def test_no_boxes_give_no_positions():
    assert label_positions(np.zeros((0, 4)), np.zeros((0, 2)), (H, W)).shape == (0, 2)


@pytest.mark.parametrize('height, width', [(1, 1), (8, 8), (3, 40)])
def test_tiny_images_with_several_detections_show_the_best_label(coco, height, width):
    image = np.full((height, width, 3), 128, np.uint8)
    shapes = [((0, 0, width, height), 1, 0.9, 'box'), ((1, 1, width, height), 18, 0.8, 'box'),
              ((width - 1, height - 1, width + 4, height + 4), 44, 0.7, 'box')]
    out = render_overlay(image, make_instances(shapes, height, width), coco, alpha=0.5)
    assert out.shape == image.shape
    # The best label, drawn last, fills the top-left pixel at least.
    assert np.array_equal(out[0, 0], class_colour(1))


def test_label_at_the_right_edge_is_shown_whole(coco):
    patch = label_patch((100, 100, 220, 200), 1, coco)
    image = np.full((H, W, 3), 128, np.uint8)
    out = render_overlay(image, make_instances([((W - 30, 100, W, 200), 1, 0.9, 'box')]), coco,
                         alpha=0.0)
    assert shows(out, patch)
    # It lies just above the box, its right side on the image's last column.
    label_height, label_width = patch.shape[:2]
    assert np.array_equal(out[100 - label_height:100, W - label_width:], patch)


def test_labels_of_instances_on_one_spot_are_all_shown_whole():
    label_map = LabelMap({1: 'cat', 2: 'dog', 3: 'owl'})
    patches = [label_patch((100, 100, 220, 200), class_id, label_map) for class_id in (1, 2, 3)]
    shapes = [((100, 100, 220, 200), 1, 0.9, 'box'), ((101, 101, 221, 201), 2, 0.9, 'box'),
              ((100, 102, 219, 200), 3, 0.9, 'box')]
    image = np.full((H, W, 3), 128, np.uint8)
    out = render_overlay(image, make_instances(shapes), label_map, alpha=0.0)
    assert all(shows(out, patch) for patch in patches)


# --- text with an outline ---------------------------------------------------------------------

FPS_TEXT = '29.7 FPS  inference 41 ms'


def shadowed_text_extent(scale):
    """(white text, any text ink, darkened) masks of FPS_TEXT drawn on grey."""
    image = np.full((80, 640, 3), 128, np.uint8)
    assert draw_shadowed_text(image, FPS_TEXT, (10, 40), scale) is image
    return (np.all(image >= 200, axis=2), np.all(image > 128, axis=2),
            np.all(image < 100, axis=2))


@pytest.mark.parametrize('scale', [0.5, 0.7, 1.5])
def test_text_outline_surrounds_the_text_evenly_along_the_whole_line(scale):
    # Two putText passes of different thickness drift apart under OpenCV 5 (the thick one
    # is wider): the outline's margin then differs between the first and the last letter.
    text, _, outline = shadowed_text_extent(scale)
    text_columns, outline_columns = np.flatnonzero(text.any(0)), np.flatnonzero(outline.any(0))
    left_margin = text_columns[0] - outline_columns[0]
    right_margin = outline_columns[-1] - text_columns[-1]
    assert 1 <= left_margin <= 3 and 1 <= right_margin <= 3
    assert abs(left_margin - right_margin) <= 1
    text_rows, outline_rows = np.flatnonzero(text.any(1)), np.flatnonzero(outline.any(1))
    assert 1 <= text_rows[0] - outline_rows[0] <= 3 and 1 <= outline_rows[-1] - text_rows[-1] <= 3


def test_text_outline_is_drawn_where_the_text_is_and_nowhere_else():
    text, ink, outline = shadowed_text_extent(0.7)
    grown = cv2.dilate(ink.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    assert outline.sum() > text.sum()  # a real outline, not a hairline
    assert not np.any(outline & ~grown)  # only around the letters


@pytest.mark.parametrize('origin', [(-30, 5), (600, 79), (0, 0), (700, 200), (-500, -500)])
def test_text_outline_is_clipped_at_the_image_edges(origin):
    image = np.full((80, 640, 3), 128, np.uint8)
    draw_shadowed_text(image, FPS_TEXT, origin, 0.7)
    assert image.shape == (80, 640, 3)


def test_track_ids_add_their_hash_id_to_the_labels_of_confirmed_instances(coco):
    instances = make_instances(TWO)
    image = random_image()
    plain = render_overlay(image, instances, coco)
    unconfirmed = render_overlay(image, instances, coco, track_ids=np.array([0, 0]))
    np.testing.assert_array_equal(unconfirmed, plain)  # no id yet: no '#'
    tracked = render_overlay(image, instances, coco, track_ids=np.array([12, 0]))
    changed = np.any(tracked != plain, axis=2)
    assert changed.any() and not changed[~may_change(instances)].any()
