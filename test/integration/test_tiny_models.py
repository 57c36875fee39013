"""The tiny exported models behave as documented, checked with raw TensorFlow only.

The package's loader is tested on these models, so they must first be shown to match the four
real formats independently of that loader.
"""

import os
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tiny_models as tm

HEIGHT, WIDTH = 240, 320
FORMATS = ('tf2', 'tf1_frozen', 'tf1_saved', 'garden')
MASK_SIZES = {'tf2': 33, 'tf1_frozen': 15, 'tf1_saved': 15, 'garden': 28}


def _export(kind, folder, **kw):
    """Export one format into ``folder``; return its path."""
    if kind == 'tf2':
        return tm.export_tf2_od_saved_model(folder / 'tf2', **kw)
    if kind == 'tf1_frozen':
        return tm.export_tf1_frozen_graph(folder / 'frozen_inference_graph.pb', **kw)
    if kind == 'tf1_saved':
        return tm.export_tf1_saved_model(folder / 'tf1_saved_model', **kw)
    return tm.export_model_garden(folder / 'garden', **kw)


def _load(kind, path):
    """Load with raw TF as a user of that format would; return image -> dict of numpy arrays."""
    if kind == 'tf1_frozen':
        graph_def = tf.compat.v1.GraphDef()
        with open(path, 'rb') as f:
            graph_def.ParseFromString(f.read())
        wrapped = tf.compat.v1.wrap_function(
            lambda: tf.compat.v1.import_graph_def(graph_def, name=''), [])
        graph = wrapped.graph
        fn = wrapped.prune(graph.get_tensor_by_name('image_tensor:0'),
                           {k: graph.get_tensor_by_name(k + ':0') for k in tm.DETECTION_KEYS})
        return lambda image: {k: v.numpy() for k, v in fn(tf.constant(image[None])).items()}
    signature = tf.saved_model.load(path).signatures['serving_default']
    key = 'input_tensor' if kind == 'tf2' else 'inputs'
    return lambda image: {k: v.numpy()
                          for k, v in signature(**{key: tf.constant(image[None])}).items()}


def _pixel_box(mask):
    """Pixel-edge box [ymin, xmin, ymax + 1, xmax + 1] of a bool mask."""
    ys, xs = np.nonzero(mask)
    return np.array([ys.min(), xs.min(), ys.max() + 1, xs.max() + 1], float)


@pytest.fixture(scope='module')
def scene():
    return tm.draw_scene(HEIGHT, WIDTH, seed=0)


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """Export every format once per module (lazily) and keep the loaded callables."""
    cache = {}

    def get(kind, **kw):
        key = (kind, tuple(sorted(kw.items())))
        if key not in cache:
            folder = tmp_path_factory.mktemp(kind)
            path = _export(kind, folder, **kw)
            cache[key] = (path, _load(kind, path))
        return cache[key]

    return get


def test_draw_scene_is_deterministic_and_separable():
    image, masks = tm.draw_scene(HEIGHT, WIDTH, seed=3)
    again, _ = tm.draw_scene(HEIGHT, WIDTH, seed=3)
    other, _ = tm.draw_scene(HEIGHT, WIDTH, seed=4)
    assert image.dtype == np.uint8 and image.shape == (HEIGHT, WIDTH, 3)
    assert np.array_equal(image, again) and not np.array_equal(image, other)
    assert sorted(masks) == [1, 3]
    assert not np.any(masks[1] & masks[3])
    background = image[~(masks[1] | masks[3])].astype(int)
    for _, colour, _ in tm.DEFAULT_CLASSES:
        near = np.all(np.abs(background - colour) <= tm.TOLERANCE, axis=-1)
        assert not near.any()
    assert len(np.unique(background)) > 50  # textured, not flat
    for class_id, colour, _ in tm.DEFAULT_CLASSES:
        assert np.all(image[masks[class_id]] == colour)
        box = _pixel_box(masks[class_id])
        assert 55 <= box[2] - box[0] <= 125 and 55 <= box[3] - box[1] <= 125
    _, big = tm.draw_scene(2 * HEIGHT, 2 * WIDTH, seed=3)
    assert 110 <= _pixel_box(big[3])[2] - _pixel_box(big[3])[0] <= 250


def test_detect_sorts_by_score_skips_absent_and_truncates(scene):
    image, masks = scene
    classes = ((1, (255, 0, 0), 0.3), (7, (0, 0, 255), 0.99), (3, (0, 255, 0), 0.6))
    ordered = tm._sorted_classes(classes)
    colours = tf.constant([c[1] for c in ordered], tf.float32)
    out = tm.detect(image.astype(np.float32), colours, float(tm.TOLERANCE), ordered, 5, 8)
    assert int(out['num_detections']) == 2  # the blue class 7 is absent
    assert out['detection_classes'].numpy().tolist() == [3, 1, 0, 0, 0]
    np.testing.assert_allclose(out['detection_scores'].numpy(), [0.6, 0.3, 0, 0, 0])
    out = tm.detect(image.astype(np.float32), colours, float(tm.TOLERANCE), ordered, 1, 8)
    assert int(out['num_detections']) == 1
    assert out['detection_classes'].numpy().tolist() == [3]


@pytest.mark.parametrize('kind', FORMATS)
def test_export_matches_its_format(kind, models, scene):
    image, masks = scene
    _, run = models(kind)
    out = run(image)
    m = MASK_SIZES[kind]
    expected_keys = set(tm.DETECTION_KEYS) | ({'image_info'} if kind == 'garden' else set())
    assert set(out) == expected_keys
    int_outputs = kind == 'garden'
    assert out['detection_boxes'].dtype == np.float32
    assert out['detection_boxes'].shape == (1, 10, 4)
    assert out['detection_scores'].dtype == np.float32 and out['detection_scores'].shape == (1, 10)
    assert out['detection_classes'].dtype == (np.int32 if int_outputs else np.float32)
    assert out['detection_classes'].shape == (1, 10)
    assert out['num_detections'].dtype == (np.int32 if int_outputs else np.float32)
    assert out['num_detections'].shape == (1,)
    assert out['detection_masks'].dtype == np.float32
    assert out['detection_masks'].shape == (1, 10, m, m)

    assert out['num_detections'][0] == 2
    assert out['detection_classes'][0].tolist() == [1, 3] + [0] * 8
    np.testing.assert_allclose(out['detection_scores'][0], [0.9, 0.8] + [0] * 8)
    boxes = out['detection_boxes'][0]
    if kind == 'garden':
        info = out['image_info'][0]
        assert info.shape == (4, 2)
        np.testing.assert_allclose(info, [[HEIGHT, WIDTH], [256, 256], [0.8, 0.8], [0, 0]])
        boxes = boxes / np.tile(info[2], 2)
    else:
        boxes = boxes * [HEIGHT, WIDTH, HEIGHT, WIDTH]
    for row, class_id in enumerate((1, 3)):
        np.testing.assert_allclose(boxes[row], _pixel_box(masks[class_id]), atol=1.0)
    assert not boxes[2:].any()

    mask = out['detection_masks'][0]
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert 0.6 < mask[0].mean() < 0.9  # disc: about pi/4 of its box
    assert mask[1].mean() > 0.9  # rectangle fills its box
    assert not mask[2:].any()


def test_tf1_frozen_graph_is_frozen_and_tf1_saved_model_is_v1(models):
    path, _ = models('tf1_frozen')
    graph_def = tf.compat.v1.GraphDef()
    with open(path, 'rb') as f:
        graph_def.ParseFromString(f.read())
    ops = {node.name: node.op for node in graph_def.node}
    assert ops['image_tensor'] == 'Placeholder'
    assert ops['colour_table'] == 'Const'  # was a variable before freezing
    assert not {'VariableV2', 'VarHandleOp', 'ReadVariableOp'} & set(ops.values())
    for name in tm.DETECTION_KEYS:
        assert name in ops

    path, _ = models('tf1_saved')
    graph = tf.Graph()
    with tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.load(sess, ['serve'], path)
    signature = meta.signature_def['serving_default']
    assert signature.method_name == 'tensorflow/serving/predict'
    assert signature.inputs['inputs'].name == 'image_tensor:0'
    assert {k: v.name for k, v in signature.outputs.items()} == {
        k: k + ':0' for k in tm.DETECTION_KEYS}


def test_model_garden_resizes_tall_images(tmp_path):
    image, masks = tm.draw_scene(300, 200, seed=1)
    path = tm.export_model_garden(tmp_path / 'garden', input_size=(128, 160), mask_size=12)
    out = _load('garden', path)(image)
    info = out['image_info'][0]
    scale = min(128 / 300, 160 / 200)
    np.testing.assert_allclose(info[:2], [[300, 200], [128, 160]])
    np.testing.assert_allclose(info[2], [round(300 * scale) / 300, round(200 * scale) / 200])
    assert out['detection_masks'].shape == (1, 10, 12, 12)
    boxes = out['detection_boxes'][0, :2] / np.tile(info[2], 2)
    for row, class_id in enumerate((1, 3)):
        np.testing.assert_allclose(boxes[row], _pixel_box(masks[class_id]), atol=1 / scale)


@pytest.mark.parametrize('family,files', [
    ('tf1', {'frozen_inference_graph.pb', 'saved_model', 'pipeline.config'}),
    ('tf2', {'saved_model', 'pipeline.config', 'checkpoint'}),
])
def test_make_zoo_folder_layout(tmp_path, family, files):
    path = tm.make_zoo_folder(tmp_path / family, family)
    assert set(os.listdir(path)) == files
    assert os.path.isfile(os.path.join(path, 'saved_model', 'saved_model.pb'))
    assert 'mask_height' in open(os.path.join(path, 'pipeline.config')).read()
    if family == 'tf2':
        assert os.listdir(os.path.join(path, 'checkpoint')) == []


@pytest.mark.parametrize('kind', FORMATS)
def test_compute_seconds_sets_inference_time(kind, models, scene):
    image, _ = scene
    _, run = models(kind, compute_seconds=0.2)
    run(image)  # warm-up
    start = time.perf_counter()
    out = run(image)
    elapsed = time.perf_counter() - start
    assert 0.15 < elapsed < 0.5
    assert out['num_detections'][0] == 2
    np.testing.assert_allclose(out['detection_scores'][0, :2], [0.9, 0.8])


def test_weights_mb_makes_a_model_of_that_size_that_detects_the_same(models, scene):
    image, _ = scene
    path, run = models('tf2', weights_mb=8)
    size = sum(f.stat().st_size for f in (Path(path) / 'variables').iterdir())
    assert 8 * 2**20 <= size < 9 * 2**20
    out = run(image)
    assert out['num_detections'][0] == 2
    np.testing.assert_allclose(out['detection_scores'][0, :2], [0.9, 0.8])
