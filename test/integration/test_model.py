"""The model loader on tiny real TensorFlow exports of the four formats.

Every format is exported once per module by ``tiny_models`` (same export APIs, signatures and
output keys as the real zoo / Model Garden exports) and loaded once through the package's own
loader; the detector behind them finds a red disc (class 1) and a green rectangle (class 3),
so the right detections and masks for a ``draw_scene`` image are known exactly.
"""

import numpy as np
import pytest
import tensorflow as tf
import tiny_models as tm

from instance_segmentation_ros.core.detections import PostprocessSettings, RawDetections
from instance_segmentation_ros.core.postprocess import postprocess
from instance_segmentation_ros.model.layout import ModelError
from instance_segmentation_ros.model.source import locate_model
from instance_segmentation_ros.model.tensorflow_model import (
    MODEL_GARDEN,
    TF1_FROZEN_GRAPH,
    TF1_OD_API,
    TF2_OD_API,
    SegmentationModel,
    tensorflow_device,
)

HEIGHT, WIDTH = 240, 320
TF1_ZOO = 'mask_rcnn_inception_v2_coco_2018_01_28'
TF2_ZOO = 'mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8'
GARDEN = 'maskrcnn_resnetfpn_coco'
GARDEN_INPUT_SIZE = (256, 256)
BOX_TOLERANCE_PX = 1.5
MIN_IOU = 0.9  # the acceptance criterion

# case -> (path inside the module's model folder, format, name, mask size)
CASES = {
    'tf2_od_api_saved_model': (f'{TF2_ZOO}/saved_model', TF2_OD_API, TF2_ZOO, 33),
    'tf1_frozen_graph': (f'{TF1_ZOO}/frozen_inference_graph.pb', TF1_FROZEN_GRAPH, TF1_ZOO, 15),
    'tf1_od_api_saved_model': (f'{TF1_ZOO}/saved_model', TF1_OD_API, TF1_ZOO, 15),
    'model_garden': (f'{GARDEN}/saved_model', MODEL_GARDEN, GARDEN, 28),
    'zoo_folder_tf1': (TF1_ZOO, TF1_FROZEN_GRAPH, TF1_ZOO, 15),  # frozen graph preferred
    'zoo_folder_tf2': (TF2_ZOO, TF2_OD_API, TF2_ZOO, 33),
    'saved_model_pb_tf1': (f'{TF1_ZOO}/saved_model/saved_model.pb', TF1_OD_API, TF1_ZOO, 15),
    'saved_model_pb_tf2': (f'{TF2_ZOO}/saved_model/saved_model.pb', TF2_OD_API, TF2_ZOO, 33),
}
FORMATS = ('tf2_od_api_saved_model', 'tf1_frozen_graph', 'tf1_od_api_saved_model',
           'model_garden')


@pytest.fixture(scope='module')
def model_dir(tmp_path_factory):
    """Export each format once: two zoo folders as unpacked and one Model Garden export."""
    base = tmp_path_factory.mktemp('models')
    tm.make_zoo_folder(base / TF1_ZOO, 'tf1')  # frozen graph + TF1 SavedModel
    tm.make_zoo_folder(base / TF2_ZOO, 'tf2')
    tm.export_model_garden(base / GARDEN / 'saved_model', input_size=GARDEN_INPUT_SIZE)
    return base


@pytest.fixture(scope='module')
def models(model_dir):
    """Load each case once (lazily) through the package's loader."""
    cache = {}

    def get(case):
        if case not in cache:
            cache[case] = SegmentationModel(locate_model(model_dir / CASES[case][0]))
        return cache[case]

    return get


@pytest.fixture(scope='module')
def scene():
    return tm.draw_scene(HEIGHT, WIDTH, seed=0)


def _pixel_box(mask):
    """Pixel-edge box [ymin, xmin, ymax + 1, xmax + 1] of a bool mask."""
    ys, xs = np.nonzero(mask)
    return np.array([ys.min(), xs.min(), ys.max() + 1, xs.max() + 1], float)


def _iou(a, b):
    return np.count_nonzero(a & b) / np.count_nonzero(a | b)


def _check_scene(model, image, masks, mask_size):
    """The detections of ``image`` match the scene's ground truth, raw and after postprocess."""
    height, width = image.shape[:2]
    detections = model.predict(image)
    assert isinstance(detections, RawDetections)
    assert len(detections) == 2
    assert detections.classes.tolist() == [1, 3]
    np.testing.assert_allclose(detections.scores, [0.9, 0.8], rtol=1e-6)
    assert detections.boxes.dtype == np.float32 and detections.boxes.shape == (2, 4)
    assert detections.masks.shape == (2, mask_size, mask_size)
    assert detections.masks.min() >= 0.0 and detections.masks.max() <= 1.0
    pixels = detections.boxes * np.array([height, width, height, width])
    for row, class_id in enumerate((1, 3)):
        np.testing.assert_allclose(pixels[row], _pixel_box(masks[class_id]),
                                   atol=BOX_TOLERANCE_PX)

    instances = postprocess(detections, height, width, PostprocessSettings())
    assert len(instances) == 2 and instances.classes.tolist() == [1, 3]
    assert instances.label_image.shape == (height, width)
    for number, class_id in enumerate((1, 3), start=1):
        iou = _iou(instances.label_image == number, masks[class_id])
        assert iou >= MIN_IOU, f'instance {number} (class {class_id}): IoU {iou:.3f}'


def _one_line(error_info, *words):
    """The ModelError's message is one line and holds every one of ``words``."""
    message = str(error_info.value)
    assert '\n' not in message, message
    for word in words:
        assert str(word) in message, f'{word!r} not in {message!r}'
    return message


# --- the four formats and the zoo layouts ---------------------------------------------------

@pytest.mark.parametrize('case', CASES)
def test_format_and_name(case, models, model_dir):
    path, model_format, name, _ = CASES[case]
    model = models(case)
    assert isinstance(model, SegmentationModel)
    assert model.format == model_format
    assert model.name == name
    assert model.load_seconds > 0
    expected_kind = 'frozen_graph' if model_format == TF1_FROZEN_GRAPH else 'saved_model'
    assert locate_model(model_dir / path).kind == expected_kind


@pytest.mark.parametrize('case', CASES)
def test_predict_matches_ground_truth(case, models, scene):
    image, masks = scene
    _check_scene(models(case), image, masks, CASES[case][3])


@pytest.mark.parametrize('height,width', [(300, 200), (200, 300), (480, 360)])
def test_model_garden_undoes_resize_of_non_square_images(height, width, models):
    """The loader maps boxes in the resized 256x256 input back with image_info."""
    image, masks = tm.draw_scene(height, width, seed=2)
    _check_scene(models('model_garden'), image, masks, 28)


@pytest.mark.parametrize('case', FORMATS)
@pytest.mark.parametrize('keep', [(), (1,), (3,)])
def test_detections_absent_shapes_are_not_reported(case, keep, models, scene):
    """Only real detections come back: the zero padding up to max_detections is cut off."""
    image, masks = scene
    image = image.copy()
    for class_id, mask in masks.items():
        if class_id not in keep:
            image[mask] = 128
    mask_size = CASES[case][3]
    detections = models(case).predict(image)
    assert len(detections) == len(keep)
    assert detections.classes.tolist() == list(keep)
    assert detections.boxes.shape == (len(keep), 4)
    assert detections.classes.shape == detections.scores.shape == (len(keep),)
    assert detections.masks.shape == (len(keep), mask_size, mask_size)
    assert detections.boxes.dtype == detections.scores.dtype == np.float32
    assert detections.masks.dtype == np.float32
    assert np.issubdtype(detections.classes.dtype, np.integer)
    instances = postprocess(detections, HEIGHT, WIDTH, PostprocessSettings())
    assert len(instances) == len(keep)
    assert instances.label_image.shape == (HEIGHT, WIDTH)
    if not keep:
        assert not instances.label_image.any()
    else:
        assert _iou(instances.label_image == 1, masks[keep[0]]) >= MIN_IOU


@pytest.mark.parametrize('bad', [
    np.zeros((HEIGHT, WIDTH, 3), np.float32),
    np.zeros((HEIGHT, WIDTH, 3), np.int16),
    np.zeros((HEIGHT, WIDTH), np.uint8),
    np.zeros((HEIGHT, WIDTH, 4), np.uint8),
    np.zeros((1, HEIGHT, WIDTH, 3), np.uint8),
], ids=['float32', 'int16', 'mono', 'rgba', 'batch'])
def test_predict_rejects_bad_input(bad, models):
    model = models('tf1_frozen_graph')
    with pytest.raises(ModelError) as error:
        model.predict(bad)
    _one_line(error, 'uint8', str(bad.shape))


@pytest.mark.parametrize('case', ['tf1_frozen_graph', 'model_garden'])
def test_predict_rejects_image_without_pixels(case, models):
    with pytest.raises(ModelError) as error:
        models(case).predict(np.zeros((0, WIDTH, 3), np.uint8))
    _one_line(error)


@pytest.mark.parametrize('case', FORMATS)
def test_warm_up_then_predict(case, models, scene):
    model = models(case)
    seconds = model.warm_up()
    assert isinstance(seconds, float) and seconds > 0
    assert model.warm_up(60, 80) > 0
    assert model.load_seconds > 0
    image, masks = scene
    _check_scene(model, image, masks, CASES[case][3])


# --- faults: each a ModelError with a clear one-line message ------------------------------

class _ImagesInput(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name='images')])
    def __call__(self, images):
        return {name: tf.zeros([1, 1]) for name in tm.DETECTION_KEYS}


class _BoxDetector(tf.Module):
    """A TF2 OD API style export of a box-only detector (no detection_masks)."""

    @tf.function(input_signature=[
        tf.TensorSpec([1, None, None, 3], tf.uint8, name='input_tensor')])
    def __call__(self, input_tensor):
        return {name: tf.zeros([1, 1]) for name in tm.DETECTION_KEYS[:4]}


class _NoSignature(tf.Module):
    def __init__(self):
        super().__init__()
        self.weight = tf.Variable(1.0)

    @tf.function  # no input_signature: TF exports no serving signature for it
    def detect(self, images):
        return tf.cast(images, tf.float32) * self.weight


def _save_saved_model(path, module, signatures=None):
    tf.saved_model.save(module, str(path), signatures=signatures)
    return path


def _no_serving_default(tmp_path):
    module = _NoSignature()
    module.detect(tf.zeros([1, 4, 4, 3], tf.uint8))
    path = _save_saved_model(tmp_path / 'no_signature', module)
    assert not tf.saved_model.load(str(path)).signatures  # what TF does: no signature at all
    return path


def _other_signature_only(tmp_path):
    module = _ImagesInput()
    return _save_saved_model(tmp_path / 'other_signature', module,
                             {'detect': module.__call__.get_concrete_function()})


def _write_frozen_graph(path, outputs, input_name='image_tensor'):
    """A tf.compat.v1 GraphDef with a uint8 image placeholder and the given outputs."""
    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.uint8, [None, None, None, 3], name=input_name)
        depends = 0.0 * tf.cast(tf.reduce_sum(tf.shape(image)), tf.float32)
        shapes = {'detection_boxes': [1, 10, 4], 'detection_scores': [1, 10],
                  'detection_classes': [1, 10], 'num_detections': [1],
                  'detection_masks': [1, 10, 15, 15]}
        for name in outputs:
            tf.identity(tf.zeros(shapes[name]) + depends, name=name)
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


def _random_bytes(path, size=4096, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(seed).bytes(size))
    return path


def _truncated_frozen_graph(tmp_path, model_dir):
    data = (model_dir / TF1_ZOO / 'frozen_inference_graph.pb').read_bytes()
    path = tmp_path / 'truncated' / 'frozen_inference_graph.pb'
    path.parent.mkdir()
    path.write_bytes(data[:len(data) // 2])
    return path


def _not_a_model(tmp_path):
    folder = tmp_path / 'photos'
    folder.mkdir()
    (folder / 'pipeline.config').write_text('model {}\n')
    (folder / 'variables').mkdir()
    return folder


def _text_file(tmp_path):
    path = tmp_path / 'labels.txt'
    path.write_text('person\n')
    return path


# id -> (build(tmp_path, model_dir) -> path, words the message must hold)
FAULTS = {
    'missing_path': (lambda t, m: t / 'no' / 'such' / 'model', ['does not exist', 'no/such']),
    'not_a_model_folder': (lambda t, m: _not_a_model(t),
                           ['is not a model', 'photos', 'saved_model.pb',
                            'frozen_inference_graph.pb']),
    'not_a_pb_file': (lambda t, m: _text_file(t), ['labels.txt', 'not a .pb']),
    'corrupt_pb': (lambda t, m: _random_bytes(t / 'corrupt.pb'),
                   ['cannot parse frozen graph', 'corrupt.pb']),
    'truncated_frozen_graph': (_truncated_frozen_graph,
                               ['cannot parse frozen graph', 'truncated']),
    'frozen_graph_without_image_tensor': (
        lambda t, m: _write_frozen_graph(t / 'renamed.pb', tm.DETECTION_KEYS, 'images'),
        ['renamed.pb', 'no image_tensor', 'not an Object Detection API']),
    'frozen_box_detector': (
        lambda t, m: _write_frozen_graph(t / 'ssd.pb', tm.DETECTION_KEYS[:4]),
        ['ssd.pb', 'no detection_masks', 'not a Mask R-CNN']),
    'frozen_graph_lacking_outputs': (
        lambda t, m: _write_frozen_graph(t / 'few.pb', ['detection_boxes']),
        ['few.pb', 'lacks the outputs', 'detection_scores', 'detection_masks']),
    'saved_model_input_named_images': (
        lambda t, m: _save_saved_model(
            t / 'images_input', _ImagesInput(),
            {'serving_default': _ImagesInput().__call__.get_concrete_function()}),
        ["['images']", 'input_tensor', 'inputs', 'images_input']),
    'saved_model_without_signatures': (
        lambda t, m: _no_serving_default(t),
        ['no_signature', 'no serving_default signature', 'none']),
    'saved_model_with_other_signature': (
        lambda t, m: _other_signature_only(t),
        ['no serving_default signature', 'detect']),
    'saved_model_box_detector': (
        lambda t, m: _save_saved_model(
            t / 'box_only', _BoxDetector(),
            {'serving_default': _BoxDetector().__call__.get_concrete_function()}),
        ['box_only', 'no detection_masks', 'not a Mask R-CNN']),
    'corrupt_saved_model_pb': (
        lambda t, m: _random_bytes(t / 'broken' / 'saved_model.pb').parent,
        ['cannot load SavedModel', 'broken']),
    'corrupt_saved_model_pb_in_zoo_folder': (
        lambda t, m: _random_bytes(t / 'zoo' / 'saved_model' / 'saved_model.pb', seed=1)
        .parent.parent,
        ['cannot load SavedModel', 'saved_model']),
}


@pytest.mark.parametrize('fault', FAULTS)
def test_fault_gives_one_line_model_error(fault, tmp_path, model_dir):
    build, words = FAULTS[fault]
    path = build(tmp_path, model_dir)
    with pytest.raises(ModelError) as error:
        SegmentationModel(locate_model(path))
    _one_line(error, *words)


@pytest.mark.parametrize('path', ['', '   '])
def test_empty_path(path):
    with pytest.raises(ModelError) as error:
        locate_model(path)
    _one_line(error, 'empty')


# --- devices ------------------------------------------------------------------------------

@pytest.mark.parametrize('case', ['tf1_frozen_graph', 'tf2_od_api_saved_model'])
@pytest.mark.parametrize('device', ['cpu', ' CPU '])
def test_cpu_device(case, device, model_dir, scene):
    model = SegmentationModel(locate_model(model_dir / CASES[case][0]), device=device)
    image, masks = scene
    _check_scene(model, image, masks, CASES[case][3])


def test_tensorflow_device_names():
    assert tensorflow_device('auto') is None
    assert tensorflow_device('') is None
    assert tensorflow_device('cpu') == '/CPU:0'
    gpus = tf.config.list_physical_devices('GPU')
    if gpus:
        assert tensorflow_device('gpu:0') == '/GPU:0'


def test_missing_gpu_names_the_count(model_dir):
    count = len(tf.config.list_physical_devices('GPU'))
    if count > 3:
        pytest.skip('this machine has a GPU 3')
    with pytest.raises(ModelError) as error:
        SegmentationModel(locate_model(model_dir / CASES['tf1_frozen_graph'][0]), device='gpu:3')
    _one_line(error, "'gpu:3'", f'sees {count} GPUs')


@pytest.mark.parametrize('device', ['tpu', 'gpu', 'gpu:x', 'cuda:0'])
def test_unknown_device(device, model_dir):
    with pytest.raises(ModelError) as error:
        SegmentationModel(locate_model(model_dir / CASES['tf1_frozen_graph'][0]), device=device)
    _one_line(error, repr(device), 'auto, cpu, gpu:N')
