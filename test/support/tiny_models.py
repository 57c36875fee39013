"""Tiny but real TensorFlow detection models in the four formats users bring.

No pretrained weights can be downloaded here, so the model loader is tested on models that these
helpers build and export *the way the real exporters do*: same export API, same signature names,
input keys, output keys, dtypes and shapes.  Only the network is different: a colour detector
written in TF ops that reports one instance per pure colour present in the image, so the right
answer for an image drawn by :func:`draw_scene` is known exactly.

Detector behaviour (identical in every format):

* ``classes`` is a sequence of ``(class_id, (r, g, b), score)``; ``class_id`` is 1-based like the
  COCO label map.  A pixel belongs to a class when every channel is within ``TOLERANCE`` of its
  colour.
* For every class with at least one pixel: the pixel-edge box of its pixels, normalised
  ``[ymin / H, xmin / W, (ymax + 1) / H, (xmax + 1) / W]``; a box-relative ``m x m`` mask made by
  ``tf.image.crop_and_resize`` of the float membership image over that box (values in [0, 1]);
  the class id; the configured score.
* Detections are sorted by score (descending), present ones first, zero-padded to
  ``max_detections`` rows; ``num_detections`` is the number of colours present.
* ``compute_seconds > 0`` adds a busy loop of small matmuls that runs until that many seconds
  have passed since it started (checked with ``tf.timestamp``), and whose result feeds the scores
  through a term that is always zero but that no graph optimiser can prove to be zero.  Each call
  then takes about ``compute_seconds`` of real CPU work, for benchmarks that need a model with a
  known inference time.  (In the TF1 graphs that loop is a functional ``While`` op with its
  body in the GraphDef's function library; real TF1 graphs have no such loop.)

Only batches of one image are supported, like the real Mask R-CNN exports.
"""

import os

import numpy as np
import tensorflow as tf

DEFAULT_CLASSES = ((1, (255, 0, 0), 0.9), (3, (0, 255, 0), 0.8))
"""(class_id, RGB colour, score) per class: a red class 1 (COCO person) and a green class 3."""

TOLERANCE = 40
"""A pixel belongs to a colour when every channel differs from it by at most this much."""

DETECTION_KEYS = (
    'detection_boxes', 'detection_scores', 'detection_classes', 'num_detections',
    'detection_masks')
"""Output names shared by the TF2 and TF1 OD API exports (and, plus image_info, Model Garden)."""

_BUSY_SIZE = 64


def _sorted_classes(classes):
    """Sort classes by score, descending (stable), so the outputs come out in score order."""
    classes = [(int(cid), tuple(int(c) for c in colour), float(score))
               for cid, colour, score in classes]
    if not classes:
        raise ValueError('at least one colour class is needed')
    return sorted(classes, key=lambda c: -c[2])


def _busy_term(seconds, anchor):
    """Return a scalar that is always 0.0 but costs ``seconds`` of real matmul work to compute.

    The loop runs until ``tf.timestamp()`` says ``seconds`` have passed, so the time does not
    depend on the machine.  ``anchor`` (from the input image) makes the start matrix depend on
    the input so that nothing can be constant-folded, and the result is turned into zero by a
    comparison that is always false (tanh stays within (-1, 1)) rather than by ``0 * x``, which
    a graph optimiser is allowed to rewrite into a constant and then drop the loop.
    """
    start = tf.timestamp()
    x0 = tf.fill([_BUSY_SIZE, _BUSY_SIZE], 0.5) + 0.0 * anchor
    w = tf.eye(_BUSY_SIZE) * 0.9 + 0.01

    def cond(x):
        return tf.timestamp() - start < seconds

    def body(x):
        return (tf.tanh(tf.matmul(x, w)),)

    (x,) = tf.while_loop(cond, body, (x0,))
    return tf.cast(tf.reduce_mean(x) > 1.0, tf.float32)


def detect(image, colours, tolerance, classes, max_detections, mask_size, compute_seconds=0.0):
    """Run the colour detector on one float RGB image ``[H, W, 3]`` (values 0..255).

    ``colours`` ([K, 3] float32) and ``tolerance`` (scalar float32) are tensors so that the
    exports can keep them in variables like real weights; ``classes`` (already sorted by score,
    K entries) supplies the static ids and scores.  Works eagerly, in a tf.function and in a
    tf.compat.v1 graph.  Returns a dict of unbatched tensors: ``detection_boxes`` [N, 4]
    normalised, ``detection_classes`` [N] int32, ``detection_scores`` [N] float32,
    ``num_detections`` scalar int32 and ``detection_masks`` [N, m, m] float32, N =
    ``max_detections``.
    """
    k = len(classes)
    image = tf.convert_to_tensor(image, tf.float32)
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    diff = tf.abs(image[tf.newaxis] - colours[:, tf.newaxis, tf.newaxis, :])
    member = tf.reduce_all(diff <= tolerance, axis=-1)  # [K, H, W]
    rows = tf.cast(tf.reduce_any(member, axis=2), tf.int32)  # [K, H]
    cols = tf.cast(tf.reduce_any(member, axis=1), tf.int32)  # [K, W]
    present = tf.reduce_any(member, axis=[1, 2])  # [K]
    ymin = tf.argmax(rows, axis=1, output_type=tf.int32)
    ymax = height - 1 - tf.argmax(tf.reverse(rows, [1]), axis=1, output_type=tf.int32)
    xmin = tf.argmax(cols, axis=1, output_type=tf.int32)
    xmax = width - 1 - tf.argmax(tf.reverse(cols, [1]), axis=1, output_type=tf.int32)
    h = tf.cast(height, tf.float32)
    w = tf.cast(width, tf.float32)
    boxes = tf.stack([
        tf.cast(ymin, tf.float32) / h, tf.cast(xmin, tf.float32) / w,
        tf.cast(ymax + 1, tf.float32) / h, tf.cast(xmax + 1, tf.float32) / w], axis=1)
    masks = tf.image.crop_and_resize(
        tf.cast(member, tf.float32)[..., tf.newaxis], boxes, tf.range(k), [mask_size, mask_size])
    masks = masks[..., 0]  # [K, m, m]
    ids = tf.constant([c[0] for c in classes], tf.int32)
    scores = tf.constant([c[2] for c in classes], tf.float32)
    if compute_seconds > 0:
        scores = scores + _busy_term(float(compute_seconds), tf.reduce_mean(image))

    keep = tf.where(present)[:max_detections, 0]
    num = tf.size(keep)
    pad = max_detections - num

    def padded(values):
        kept = tf.gather(values, keep)
        rank = len(values.shape)
        out = tf.pad(kept, [[0, pad]] + [[0, 0]] * (rank - 1))
        out.set_shape([max_detections] + values.shape.as_list()[1:])
        return out

    return {
        'detection_boxes': padded(boxes),
        'detection_classes': padded(ids),
        'detection_scores': padded(scores),
        'num_detections': num,
        'detection_masks': padded(masks),
    }


class _ColourModel(tf.Module):
    """Holds the colour table and tolerance in variables, as a real model holds its weights."""

    def __init__(self, classes, max_detections, mask_size, compute_seconds, name=None,
                 weights_mb=0):
        super().__init__(name=name)
        self.classes = _sorted_classes(classes)
        self.max_detections = int(max_detections)
        self.mask_size = int(mask_size)
        self.compute_seconds = float(compute_seconds)
        self.colours = tf.Variable([c[1] for c in self.classes], dtype=tf.float32,
                                   trainable=False, name='colour_table')
        self.tolerance = tf.Variable(float(TOLERANCE), trainable=False, name='tolerance')
        # Zeros that weigh what a real model's weights do, for memory measurements.
        self.ballast = tf.Variable(tf.zeros([int(weights_mb * 2**18)]), trainable=False,
                                   name='ballast') if weights_mb else None

    def run(self, image):
        """Detect on one float image [H, W, 3]; unbatched outputs (see :func:`detect`)."""
        out = detect(image, self.colours, self.tolerance, self.classes, self.max_detections,
                     self.mask_size, self.compute_seconds)
        if self.ballast is not None:  # used, as weights are: a term that is always 0
            out['detection_scores'] += tf.cast(self.ballast[0] > 1.0, tf.float32)
        return out


class _Tf2OdModule(_ColourModel):
    """Stand-in for object_detection/exporter_lib_v2.DetectionFromImageModule."""

    @tf.function(input_signature=[
        tf.TensorSpec([1, None, None, 3], tf.uint8, name='input_tensor')])
    def __call__(self, input_tensor):
        out = self.run(tf.cast(input_tensor[0], tf.float32))
        return {
            'detection_boxes': out['detection_boxes'][tf.newaxis],
            'detection_classes': tf.cast(out['detection_classes'], tf.float32)[tf.newaxis],
            'detection_scores': out['detection_scores'][tf.newaxis],
            'num_detections': tf.cast(out['num_detections'], tf.float32)[tf.newaxis],
            'detection_masks': out['detection_masks'][tf.newaxis],
        }


def export_tf2_od_saved_model(path, mask_size=33, *, classes=DEFAULT_CLASSES, max_detections=10,
                              compute_seconds=0.0, weights_mb=0):
    """Export like the TF2 OD API's exporter_main_v2 (``saved_model/`` of a TF2 zoo tarball).

    Input ``input_tensor`` uint8 [1, H, W, 3]; outputs normalised boxes, float 1-based classes,
    float num_detections and box-relative masks [1, N, m, m].  ``weights_mb`` adds a variable
    of that many MB that every call reads, so that the model weighs what a real one does.
    Returns ``path`` as a str.
    """
    path = os.fspath(path)
    module = _Tf2OdModule(classes, max_detections, mask_size, compute_seconds,
                          weights_mb=weights_mb)
    concrete = module.__call__.get_concrete_function()
    tf.saved_model.save(module, path, signatures={'serving_default': concrete})
    return path


def _tf1_frozen_graph_def(mask_size, classes, max_detections, compute_seconds):
    """Build the TF1 OD API style graph and freeze its variables as exporter.py does."""
    classes = _sorted_classes(classes)
    graph = tf.Graph()
    with graph.as_default():
        image_tensor = tf.compat.v1.placeholder(tf.uint8, [None, None, None, 3],
                                                name='image_tensor')
        colours = tf.compat.v1.Variable([c[1] for c in classes], dtype=tf.float32,
                                        trainable=False, use_resource=False, name='colour_table')
        tolerance = tf.compat.v1.Variable(float(TOLERANCE), trainable=False, use_resource=False,
                                          name='tolerance')
        out = detect(tf.cast(image_tensor[0], tf.float32), colours, tolerance, classes,
                     max_detections, mask_size, compute_seconds)
        for name in DETECTION_KEYS:
            tensor = out[name]
            if tensor.dtype != tf.float32:
                tensor = tf.cast(tensor, tf.float32)
            tf.identity(tensor[tf.newaxis], name=name)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return tf.compat.v1.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), list(DETECTION_KEYS))


def export_tf1_frozen_graph(path, mask_size=15, *, classes=DEFAULT_CLASSES, max_detections=10,
                            compute_seconds=0.0):
    """Write a frozen GraphDef like the TF1 zoo's ``frozen_inference_graph.pb``.

    Placeholder ``image_tensor`` uint8 [None, None, None, 3] (batch of one is used); outputs
    ``detection_boxes:0`` ... ``detection_masks:0``, all float32.  Returns ``path`` as a str.
    """
    path = os.fspath(path)
    graph_def = _tf1_frozen_graph_def(mask_size, classes, max_detections, compute_seconds)
    with open(path, 'wb') as f:
        f.write(graph_def.SerializeToString())
    return path


def export_tf1_saved_model(path, mask_size=15, *, classes=DEFAULT_CLASSES, max_detections=10,
                           compute_seconds=0.0):
    """Save the frozen graph with SavedModelBuilder, as the TF1 exporter's write_saved_model does.

    Tag ``serve``; signature ``serving_default`` with input key ``inputs`` and the five output
    keys.  ``path`` must not exist yet.  Returns ``path`` as a str.
    """
    path = os.fspath(path)
    graph_def = _tf1_frozen_graph_def(mask_size, classes, max_detections, compute_seconds)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name='')
        inputs = {'inputs': graph.get_tensor_by_name('image_tensor:0')}
        outputs = {name: graph.get_tensor_by_name(name + ':0') for name in DETECTION_KEYS}
        signature = tf.compat.v1.saved_model.predict_signature_def(inputs=inputs, outputs=outputs)
        with tf.compat.v1.Session(graph=graph) as sess:
            builder = tf.compat.v1.saved_model.Builder(path)
            builder.add_meta_graph_and_variables(
                sess, [tf.saved_model.SERVING],
                signature_def_map={'serving_default': signature})
            builder.save()
    return path


class _ModelGardenModule(_ColourModel):
    """Stand-in for official/vision/serving/detection.DetectionModule (Mask R-CNN)."""

    def __init__(self, input_size, **kw):
        super().__init__(**kw)
        self.input_size = (int(input_size[0]), int(input_size[1]))

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name='inputs')])
    def serve(self, inputs):
        image = tf.cast(inputs[0], tf.float32)
        size = tf.cast(tf.shape(image)[:2], tf.float32)
        desired = tf.constant(self.input_size, tf.float32)
        scale = tf.reduce_min(desired / size)
        scaled_size = tf.round(size * scale)
        image_scale = scaled_size / size
        resized = tf.image.resize(image, tf.cast(scaled_size, tf.int32))
        padded = tf.image.pad_to_bounding_box(resized, 0, 0, *self.input_size)
        out = self.run(padded)
        pixels = tf.concat([desired, desired], axis=0)
        image_info = tf.stack([size, desired, image_scale, tf.zeros([2], tf.float32)])
        return {
            'detection_boxes': (out['detection_boxes'] * pixels)[tf.newaxis],
            'detection_classes': out['detection_classes'][tf.newaxis],
            'detection_scores': out['detection_scores'][tf.newaxis],
            'num_detections': out['num_detections'][tf.newaxis],
            'detection_masks': out['detection_masks'][tf.newaxis],
            'image_info': image_info[tf.newaxis],
        }


def export_model_garden(path, input_size=(256, 256), mask_size=28, *, classes=DEFAULT_CLASSES,
                        max_detections=10, compute_seconds=0.0):
    """Export like the TF Model Garden's export_saved_model for a Mask R-CNN.

    Input ``inputs`` uint8 [1, H, W, 3], resized keeping aspect ratio to fit ``input_size``
    (padded bottom/right); boxes in pixels of that resized input, int32 classes and
    num_detections, box-relative masks [1, N, m, m] and ``image_info`` [1, 4, 2] =
    [[orig_h, orig_w], [desired_h, desired_w], [scale_y, scale_x], [0, 0]].  Returns ``path``.
    """
    path = os.fspath(path)
    module = _ModelGardenModule(input_size, classes=classes, max_detections=max_detections,
                                mask_size=mask_size, compute_seconds=compute_seconds)
    concrete = module.serve.get_concrete_function()
    tf.saved_model.save(module, path, signatures={'serving_default': concrete})
    return path


_PIPELINE_CONFIG = """\
# Stand-in for the pipeline.config shipped in a zoo tarball (tiny colour detector, {family}).
model {{
  faster_rcnn {{
    num_classes: 90
    image_resizer {{
      keep_aspect_ratio_resizer {{
        min_dimension: 800
        max_dimension: 1365
      }}
    }}
    second_stage_post_processing {{
      batch_non_max_suppression {{
        max_total_detections: {max_detections}
      }}
    }}
    second_stage_mask_prediction_loss_weight: 4.0
    mask_height: {mask_size}
    mask_width: {mask_size}
  }}
}}
"""


def make_zoo_folder(path, family, **kw):
    """Lay out a model folder like an unpacked zoo tarball; ``kw`` goes to the exporters.

    ``family='tf1'``: ``frozen_inference_graph.pb``, ``saved_model/`` (TF1 SavedModel) and
    ``pipeline.config``.  ``family='tf2'``: ``saved_model/``, ``pipeline.config`` and an empty
    ``checkpoint/``.  Returns ``path`` as a str.
    """
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    if family == 'tf1':
        mask_size = kw.pop('mask_size', 15)
        export_tf1_frozen_graph(os.path.join(path, 'frozen_inference_graph.pb'), mask_size, **kw)
        export_tf1_saved_model(os.path.join(path, 'saved_model'), mask_size, **kw)
    elif family == 'tf2':
        mask_size = kw.pop('mask_size', 33)
        export_tf2_od_saved_model(os.path.join(path, 'saved_model'), mask_size, **kw)
        os.makedirs(os.path.join(path, 'checkpoint'), exist_ok=True)
    else:
        raise ValueError(f"family must be 'tf1' or 'tf2', not {family!r}")
    with open(os.path.join(path, 'pipeline.config'), 'w') as f:
        f.write(_PIPELINE_CONFIG.format(family=family, mask_size=mask_size,
                                        max_detections=kw.get('max_detections', 10)))
    return path


def draw_scene(height=240, width=320, seed=0):
    """Draw a test image whose correct detections under DEFAULT_CLASSES are known exactly.

    A textured grey background (grey levels 70..190, so never within TOLERANCE of a colour
    that has a 0 or 255 channel), a red disc and a green axis-aligned rectangle, each in its
    own half of the image so they never overlap; sizes are about 60-120 px at 320x240 and scale
    with the image; positions and sizes come from ``seed``.  Returns ``(rgb, masks)``: ``rgb``
    uint8 [height, width, 3] and ``masks`` {class_id: bool [height, width]} for the red (1)
    and green (3) classes of DEFAULT_CLASSES.
    """
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(90, 170, size=(height // 16 + 2, width // 16 + 2))
    ys = np.linspace(0, coarse.shape[0] - 1, height)
    xs = np.linspace(0, coarse.shape[1] - 1, width)
    smooth = np.array([np.interp(xs, np.arange(coarse.shape[1]), row) for row in coarse])
    smooth = np.array([np.interp(ys, np.arange(coarse.shape[0]), col) for col in smooth.T]).T
    grey = smooth + rng.uniform(-12, 12, size=(height, width))
    image = np.repeat(np.clip(grey, 70, 190).astype(np.uint8)[..., np.newaxis], 3, axis=2)

    scale = min(height / 240, width / 320)
    horizontal = width >= height  # split along the longer side
    half_h, half_w = (height, width // 2) if horizontal else (height // 2, width)
    halves = [(0, 0), (0, half_w) if horizontal else (half_h, 0)]
    order = rng.permutation(2)
    disc_origin, rect_origin = halves[order[0]], halves[order[1]]

    yy, xx = np.mgrid[0:height, 0:width]
    diameter = int(min(rng.uniform(60, 120) * scale, half_h - 2, half_w - 2))
    diameter = max(diameter, 3)
    radius = diameter / 2
    cy = disc_origin[0] + rng.uniform(radius, half_h - radius)
    cx = disc_origin[1] + rng.uniform(radius, half_w - radius)
    disc = (yy + 0.5 - cy) ** 2 + (xx + 0.5 - cx) ** 2 <= radius ** 2

    rect_h = max(int(min(rng.uniform(60, 120) * scale, half_h - 2)), 2)
    rect_w = max(int(min(rng.uniform(60, 120) * scale, half_w - 2)), 2)
    top = rect_origin[0] + int(rng.integers(0, half_h - rect_h + 1))
    left = rect_origin[1] + int(rng.integers(0, half_w - rect_w + 1))
    rect = np.zeros((height, width), bool)
    rect[top:top + rect_h, left:left + rect_w] = True

    (red_id, red, _), (green_id, green, _) = DEFAULT_CLASSES
    image[disc] = red
    image[rect] = green
    return image, {red_id: disc, green_id: rect}
