"""The synthetic scene generator: exact masks, determinism, COCO output."""

import json

import cv2
import numpy as np
import pytest

from instance_segmentation_ros.demo import coco_truth, scenes

SEED = 1234


@pytest.fixture(scope='module')
def some_scenes():
    return [scenes.generate_scene(SEED, index) for index in range(12)]


def _analytic_mask(instance, height, width):
    """The shape's mask recomputed from its recorded parameters alone (pixel centres)."""
    ys = np.arange(height)[:, None] + 0.5
    xs = np.arange(width)[None, :] + 0.5
    if instance.class_id == scenes.CIRCLE:
        cx, cy = instance.centre
        return (xs - cx) ** 2 + (ys - cy) ** 2 <= instance.radius ** 2
    corners = instance.vertices
    assert len(corners) == (4 if instance.class_id == scenes.SQUARE else 3)
    sides = np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1)
    np.testing.assert_allclose(sides, instance.size, rtol=1e-9)
    inside = np.ones((height, width), bool)
    centre = corners.mean(axis=0)
    for a, b in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        normal = np.array([b[1] - a[1], a[0] - b[0]])
        if normal @ (centre - a) < 0:
            normal = -normal
        inside &= (xs - a[0]) * normal[0] + (ys - a[1]) * normal[1] >= -1e-9
    return inside


def test_labels():
    assert scenes.LABELS == ('circle', 'square', 'triangle')
    assert scenes.label_text().splitlines() == ['circle', 'square', 'triangle']


def test_scene_shape_and_classes(some_scenes):
    kinds = set()
    for scene in some_scenes:
        assert scene.image.shape == (240, 320, 3) and scene.image.dtype == np.uint8
        assert 1 <= len(scene.instances) <= 7
        kinds.update(instance.class_id for instance in scene.instances)
    assert kinds == {1, 2, 3}


def test_visible_masks_are_the_analytic_shapes_minus_later_occluders(some_scenes):
    for scene in some_scenes:
        height, width = scene.image.shape[:2]
        for number, instance in enumerate(scene.instances):
            full = _analytic_mask(instance, height, width)
            np.testing.assert_array_equal(instance.full_mask, full)
            visible = full.copy()
            for later in scene.instances[number + 1:]:
                visible &= ~_analytic_mask(later, height, width)
            np.testing.assert_array_equal(instance.mask, visible)


def test_masks_are_disjoint_and_none_almost_hidden(some_scenes):
    settings = scenes.SceneSettings()
    for scene in some_scenes:
        total = np.zeros(scene.image.shape[:2], np.int32)
        for instance in scene.instances:
            total += instance.mask
            assert instance.mask.sum() >= settings.min_area
            assert instance.mask.sum() >= settings.min_visible * instance.full_mask.sum()
        assert total.max() <= 1


def test_some_scenes_have_occlusion(some_scenes):
    occluded = sum(instance.mask.sum() < instance.full_mask.sum()
                   for scene in some_scenes for instance in scene.instances)
    assert occluded >= 3


def test_shapes_are_painted_where_their_masks_are():
    """A shape's pixels differ from the background it covers: the image shows the mask."""
    settings = scenes.SceneSettings(min_objects=1, max_objects=1)
    for index in range(6):
        scene = scenes.generate_scene(SEED, index, settings)
        (instance,) = scene.instances
        image = scene.image.astype(np.float32)
        inside = image[instance.mask].mean(axis=0)
        ring = cv2.dilate(instance.mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        ring &= ~instance.mask
        outside = image[ring].mean(axis=0)
        assert np.linalg.norm(inside - outside) > 20


def test_sizes_within_range(some_scenes):
    for scene in some_scenes:
        for instance in scene.instances:
            assert 20 <= instance.size <= 100


def test_deterministic_from_seed():
    first = scenes.generate_scene(7, 3)
    again = scenes.generate_scene(7, 3)
    np.testing.assert_array_equal(first.image, again.image)
    assert len(first.instances) == len(again.instances)
    for a, b in zip(first.instances, again.instances, strict=True):
        assert (a.class_id, a.centre, a.size, a.angle) == (b.class_id, b.centre, b.size, b.angle)
        np.testing.assert_array_equal(a.mask, b.mask)
    other = scenes.generate_scene(8, 3)
    assert not np.array_equal(first.image, other.image)


def test_size_is_configurable():
    settings = scenes.SceneSettings(width=200, height=150)
    scene = scenes.generate_scene(1, 0, settings)
    assert scene.image.shape == (150, 200, 3)
    assert all(instance.mask.shape == (150, 200) for instance in scene.instances)


def test_rle_matches_pycocotools():
    mask_utils = pytest.importorskip('pycocotools.mask')
    rng = np.random.default_rng(0)
    cases = [np.zeros((5, 4), bool), np.ones((5, 4), bool), rng.uniform(size=(31, 17)) > 0.5]
    for scene in (scenes.generate_scene(SEED, 0), scenes.generate_scene(SEED, 1)):
        cases += [instance.mask for instance in scene.instances]
    for mask in cases:
        ours = coco_truth.coco_rle(mask)
        theirs = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert ours['size'] == list(theirs['size'])
        assert ours['counts'] == theirs['counts'].decode('ascii')


def test_coco_dataset_loads_in_pycocotools(tmp_path):
    coco_module = pytest.importorskip('pycocotools.coco')
    path = coco_truth.write_coco_dataset(tmp_path, 5, seed=SEED, size=(160, 120))
    data = json.loads(path.read_text())
    assert [c['name'] for c in data['categories']] == ['circle', 'square', 'triangle']
    assert [c['id'] for c in data['categories']] == [1, 2, 3]
    coco = coco_module.COCO(str(path))
    settings = scenes.SceneSettings(width=160, height=120)
    for image_entry in data['images']:
        scene = scenes.generate_scene(SEED, image_entry['id'] - 1, settings)
        on_disk = cv2.imread(str(tmp_path / image_entry['file_name']), cv2.IMREAD_COLOR)
        np.testing.assert_array_equal(on_disk, scene.bgr)
        assert (image_entry['width'], image_entry['height']) == (160, 120)
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image_entry['id']]))
        assert len(annotations) == len(scene.instances)
        for annotation, instance in zip(annotations, scene.instances, strict=True):
            assert annotation['iscrowd'] == 0
            assert annotation['category_id'] == instance.class_id
            assert annotation['area'] == int(instance.mask.sum())
            np.testing.assert_array_equal(coco.annToMask(annotation).astype(bool), instance.mask)
            x, y, w, h = annotation['bbox']
            rows, cols = np.nonzero(instance.mask)
            assert (x, y, x + w - 1, y + h - 1) == (cols.min(), rows.min(), cols.max(),
                                                    rows.max())
