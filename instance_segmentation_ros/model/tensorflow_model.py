"""Loading and running Mask R-CNN models of the TensorFlow detection model zoos.

Four export formats are recognised from what is on disk and in the serving signature, and
all of them are turned into the same `RawDetections`, so nothing downstream needs to know
which family a model came from:

- TF2 Object Detection API SavedModel (`serving_default`, input `input_tensor`);
- TF1 Object Detection API SavedModel (`serving_default`, input `inputs`);
- TF1 Object Detection API frozen graph (`image_tensor:0`, a `.pb` GraphDef);
- TF Model Garden export (`serving_default`, input `inputs`, boxes in pixels + `image_info`).

Which model a path or name means is decided before, by `source`: the loader takes the
`ModelSource` and knows neither names nor the zoo.
"""

from __future__ import annotations

import ctypes
import gc
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from ..core.detections import RawDetections
from .layout import ModelError, ModelSource
from .precision import (
    BfloatCalls,
    check_precision,
    choose_by_timing,
    native_bfloat16,
    read_cpu_flags,
)

TF2_OD_API = 'tf2_od_api_saved_model'
TF1_OD_API = 'tf1_od_api_saved_model'
TF1_FROZEN_GRAPH = 'tf1_od_api_frozen_graph'
MODEL_GARDEN = 'model_garden_saved_model'

_OD_API_OUTPUTS = ('detection_boxes', 'detection_scores', 'detection_classes', 'num_detections',
                   'detection_masks')


def configure_tensorflow(intra_op_threads: int = 0, inter_op_threads: int = 0):
    """Import TensorFlow quietly, grow GPU memory on demand and set its thread pools.

    Must run before any model is loaded: TensorFlow fixes these settings at first use.
    """
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices('GPU'):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # already initialised by an earlier model in this process
    try:
        if intra_op_threads:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
        if inter_op_threads:
            tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)
    except RuntimeError:
        pass  # already initialised; the first setting stays
    return tf


def tensorflow_device(device: str) -> str | None:
    """Map the `device` parameter (auto, cpu, gpu:N) to a TensorFlow device name."""
    tf = configure_tensorflow()
    text = device.strip().lower()
    if text in ('', 'auto'):
        return None
    if text == 'cpu':
        return '/CPU:0'
    if text.startswith('gpu:') and text[4:].isdigit():
        gpus = tf.config.list_physical_devices('GPU')
        index = int(text[4:])
        if index >= len(gpus):
            raise ModelError(f'device {device!r} asked for, but TensorFlow sees {len(gpus)} GPUs')
        return f'/GPU:{index}'
    raise ModelError(f'device {device!r} is not one of auto, cpu, gpu:N')


def release_memory():
    """Give back what a dropped model held, as far as TensorFlow lets go.

    TensorFlow's functions hold reference cycles, so only a collection frees them, and glibc
    keeps the freed heap until malloc_trim: of the 490 MB the built-in model takes, the two give
    back 110 and 180 MB (benchmarks/README.md, 9). TensorFlow itself stays imported, and the
    oneDNN allocator keeps large freed blocks (weights) for reuse unless
    TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1; GPU memory stays with TensorFlow's GPU allocator.
    """
    gc.collect()
    trim = getattr(ctypes.CDLL(None), 'malloc_trim', None)  # glibc only
    if trim is not None:
        trim(0)


class SegmentationModel:
    """A loaded Mask R-CNN: call `predict` with an RGB uint8 image.

    `precision` (auto, fp32, bf16; see `precision`) is the arithmetic on a CPU; `precision_note`
    says in one line what is in effect and why, and `bfloat16` whether that is bfloat16. `auto`
    runs fp32 until `warm_up` has timed both. `cpu_flags`: the CPU's flags (default: read from
    /proc/cpuinfo).
    """

    def __init__(self, source: ModelSource, device: str = 'auto',
                 intra_op_threads: int = 0, inter_op_threads: int = 0,
                 precision: str = 'fp32', cpu_flags: frozenset[str] | None = None):
        self.precision = check_precision(precision)
        self.source = source
        self.name = self.source.name
        tf = configure_tensorflow(intra_op_threads, inter_op_threads)
        self._tf = tf
        self._device = tensorflow_device(device)
        self._bfloat16_calls = BfloatCalls()
        self._time_bfloat16 = False
        self.bfloat16, self.precision_note = self._plan_precision(
            read_cpu_flags() if cpu_flags is None else cpu_flags)
        started = time.perf_counter()
        with tf.device(self._device) if self._device else nullcontext():
            if self.source.kind == 'frozen_graph':
                self._function, self.format = self._load_frozen_graph(), TF1_FROZEN_GRAPH
                self._input_key = None
            else:
                self._function, self.format, self._input_key = self._load_saved_model()
        self.load_seconds = time.perf_counter() - started

    def predict(self, rgb: np.ndarray) -> RawDetections:
        """Run the model on one RGB uint8 image of shape (H, W, 3)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or not rgb.size:
            raise ModelError(f'expected a non-empty RGB uint8 image (H, W, 3), got {rgb.dtype} '
                             f'{rgb.shape}')
        return self._run(rgb, self.bfloat16)

    def warm_up(self, height: int = 480, width: int = 640) -> float:
        """Run once on a blank image so the first real frame is not slowed by graph set-up.

        Under `auto` with native bfloat16 it also times both precisions and keeps the faster.
        """
        started = time.perf_counter()
        blank = np.zeros((height, width, 3), np.uint8)
        self.predict(blank)
        if self._time_bfloat16:
            self._time_bfloat16 = False
            self.bfloat16, self.precision_note = choose_by_timing(*self._time_both(blank))
        return time.perf_counter() - started

    def _plan_precision(self, flags: frozenset[str]) -> tuple[bool, str]:
        """Whether to start in bfloat16, and the line that says what runs and why."""
        if self.precision == 'fp32':
            return False, 'precision fp32'
        on_gpu = (self._device or '').startswith('/GPU') or (
            self._device is None and bool(self._tf.config.list_physical_devices('GPU')))
        native = native_bfloat16(flags)
        if on_gpu:
            reason = "the model runs on a GPU, which keeps TensorFlow's own GPU arithmetic"
        elif not native:
            reason = 'this CPU has no native bfloat16 (no avx512_bf16 or amx_bf16 flag)'
        elif self.precision == 'bf16':
            return True, f'precision bf16: bfloat16 on this CPU ({", ".join(native)})'
        else:
            self._time_bfloat16 = True
            return False, 'precision auto: fp32 until the warm-up times bf16 against it'
        return False, (f'precision bf16: {reason}: running fp32' if self.precision == 'bf16'
                       else f'precision auto: fp32 ({reason})')

    def _time_both(self, blank: np.ndarray) -> tuple[float, float]:
        """Seconds per run in fp32 and in bf16: the fastest of interleaved runs, about 1 s."""
        self._run(blank, True)  # the graph set-up of the bfloat16 instantiation
        fastest = {False: math.inf, True: math.inf}
        started = time.perf_counter()
        for _ in range(100):  # fast models: many rounds, as their minimum is noisy
            for bf16 in (False, True):
                run_started = time.perf_counter()
                self._run(blank, bf16)
                fastest[bf16] = min(fastest[bf16], time.perf_counter() - run_started)
            if time.perf_counter() - started >= 1.0:
                break
        return fastest[False], fastest[True]

    def _run(self, rgb: np.ndarray, bf16: bool) -> RawDetections:
        tf = self._tf
        batch = tf.convert_to_tensor(np.ascontiguousarray(rgb)[np.newaxis])
        try:
            with (tf.device(self._device) if self._device else nullcontext(),
                  self._bfloat16_calls.calls() if bf16 else nullcontext()):
                if self._input_key is None:
                    outputs = self._function(batch)
                else:
                    outputs = self._function(**{self._input_key: batch})
        except tf.errors.OpError as error:
            raise ModelError(f'model {self.name!r} failed on a {rgb.shape[1]}x{rgb.shape[0]} '
                             f'image: {_first_line(error)}') from error
        return self._to_detections({key: value.numpy() for key, value in outputs.items()},
                                   rgb.shape[0], rgb.shape[1])

    def _load_saved_model(self):
        tf = self._tf
        try:
            loaded = tf.saved_model.load(str(self.source.path))
        except Exception as error:  # TensorFlow raises many unrelated types here
            raise ModelError(f'cannot load SavedModel {str(self.source.path)!r}: '
                             f'{_first_line(error)}') from error
        self._loaded = loaded  # the signature functions need their owner kept alive
        signatures = getattr(loaded, 'signatures', {})
        if 'serving_default' not in signatures:
            raise ModelError(f'SavedModel {str(self.source.path)!r} has no serving_default '
                             f'signature (it has: {", ".join(signatures) or "none"})')
        function = signatures['serving_default']
        inputs = list(function.structured_input_signature[1])
        outputs = set(function.structured_outputs)
        if inputs == ['input_tensor']:
            model_format = TF2_OD_API
        elif inputs == ['inputs'] and 'image_info' in outputs:
            model_format = MODEL_GARDEN
        elif inputs == ['inputs']:
            model_format = TF1_OD_API
        else:
            raise ModelError(f'SavedModel {str(self.source.path)!r} takes {inputs}: expected an '
                             f'Object Detection API or Model Garden detection export with one '
                             f'image input named input_tensor or inputs')
        _require_outputs(outputs, self.source.path)
        return function, model_format, inputs[0]

    def _load_frozen_graph(self):
        tf = self._tf
        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(self.source.path.read_bytes())
        except Exception as error:  # protobuf's DecodeError or an OSError
            raise ModelError(f'cannot parse frozen graph {str(self.source.path)!r}: '
                             f'{_first_line(error)}') from error
        node_names = {node.name for node in graph_def.node}
        if 'image_tensor' not in node_names:
            raise ModelError(f'frozen graph {str(self.source.path)!r} has no image_tensor input: '
                             f'not an Object Detection API export')
        _require_outputs(node_names, self.source.path)

        def import_graph():
            tf.compat.v1.import_graph_def(graph_def, name='')

        try:
            wrapped = tf.compat.v1.wrap_function(import_graph, [])
            return wrapped.prune(
                feeds='image_tensor:0',
                fetches={name: f'{name}:0' for name in _OD_API_OUTPUTS})
        except Exception as error:
            raise ModelError(f'cannot import frozen graph {str(self.source.path)!r}: '
                             f'{_first_line(error)}') from error

    def _to_detections(self, outputs: dict, height: int, width: int) -> RawDetections:
        count = int(np.asarray(outputs['num_detections']).reshape(-1)[0])
        boxes = np.asarray(outputs['detection_boxes'], np.float32)[0, :count]
        if self.format == MODEL_GARDEN:
            # Pixels of the resized model input -> normalised coordinates of the input image.
            _, _, scale, offset = np.asarray(outputs['image_info'], np.float32)[0]
            boxes = (boxes + np.tile(offset, 2)) / np.tile(scale, 2) / np.array(
                [height, width, height, width], np.float32)
        scores = np.asarray(outputs['detection_scores'], np.float32)[0, :count]
        order = np.argsort(-scores, kind='stable')
        return RawDetections(
            boxes=np.ascontiguousarray(boxes[order], np.float32),
            classes=np.asarray(outputs['detection_classes'])[0, :count][order].astype(np.int32),
            scores=scores[order],
            masks=np.asarray(outputs['detection_masks'], np.float32)[0, :count][order])


def _require_outputs(available, path: Path):
    missing = [name for name in _OD_API_OUTPUTS if name not in available]
    if 'detection_masks' in missing and len(missing) == 1:
        raise ModelError(f'model {str(path)!r} has no detection_masks output: it is a box '
                         f'detector, not a Mask R-CNN')
    if missing:
        raise ModelError(f'model {str(path)!r} lacks the outputs {", ".join(missing)}: not an '
                         f'Object Detection API or Model Garden Mask R-CNN export')


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
