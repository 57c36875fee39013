"""segmentation_node: Mask R-CNN instance segmentation of a camera image topic.

Subscribes `image`; publishes `masks` (mono8 instance labels), `detections_json`,
`detections` and `label_info` (vision_msgs, where installed), `overlay` (bgr8) and
`/diagnostics`. With `depth.enabled` it also subscribes an aligned `depth/image` and
`depth/camera_info` and publishes each instance's 3D (`depth_input`, `depth3d`):
`detections_3d`, `markers`, `points` and 3D fields in `detections_json`. The names are
relative, as image_proc's are: a namespace places the outputs and `-r image:=/camera/image_raw`
picks the camera. With `cameras: [left, right]` one model serves several cameras, each with
these topics under its own name (`left/image`, `left/masks`, ...; `served_camera`).

The node is an adapter: `segmentation_parameters` holds its parameters, and
`segmentation_settings` what it reads from them; `active_segmentation` what exists while it
runs: each camera's topics (`served_camera`), the input subscriptions (`adaptive_input`) and the
two-thread pipeline of `engine.pipeline`, which keeps a slow model from building a queue and the
executor free to answer parameter requests. Every output carries the input header.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter

from ..engine.pipeline import TwoStagePipeline
from ..errors import InstanceSegmentationError
from ..model.segmenter import choose_model, load_segmenter
from ..model.source import DEMO_MODEL_NAME
from ..model.tensorflow_model import release_memory
from . import exit_guard
from .active_segmentation import ActiveSegmentation
from .node_support import FatalError, run_node
from .parameters import declare_table, parameter_error_text
from .segmentation_parameters import PARAMETERS
from .segmentation_settings import RunSettings, classes_as_names, run_settings, start_settings

START_ERRORS = (InstanceSegmentationError, ParameterException)


class SegmentationPhases(Node):
    """segmentation_node's parameters, declared, and the phases that a subclass runs.

    `_configure` reads the start-up settings and loads the model, `_activate` starts the
    frames flowing (`ActiveSegmentation`); `_deactivate` and `_cleanup` undo them.
    `SegmentationNode` runs the first two at once, `segmentation_lifecycle_node` as transitions.
    `engine` makes the pipeline (the benchmarks pass clocked or naive variants); `input_depth`
    is the image subscription's queue depth in latest mode.
    """

    def __init__(self, parameters: dict, engine=TwoStagePipeline, input_depth: int = 1,
                 **kwargs):
        super().__init__('segmentation_node', **kwargs)
        self._engine, self._latest_input_depth = engine, input_depth
        self.model = self.segmenter = self.label_map = self._active = None
        self._starting(functools.partial(self._declare, parameters))

    def _starting(self, step: Callable[[], None]):
        """Run a start-up step; its error is one line under this node's logger (FatalError)."""
        try:
            step()
        except START_ERRORS as error:  # a model, label map or parameter that cannot work
            logger = self.get_logger()
            self.destroy_node()
            raise FatalError(parameter_error_text(error), logger) from None

    def _declare(self, parameters: dict):
        """Declare `parameters` (name -> (default, descriptor)) and the callbacks that set them."""
        declare_table(self, parameters)
        self.add_pre_set_parameters_callback(classes_as_names)
        self.set_parameters([self.get_parameter('classes')])  # a given value, as names
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)

    def _configure(self):
        """Check the parameters and the label map, then load and warm up the model (seconds)."""
        self._start_settings = start_settings(self.get_parameter, self.resolve_topic_name)
        self._load_model()
        if self._param('warmup'):
            seconds = self.model.warm_up(self._param('warmup_height'), self._param('warmup_width'))
            self.get_logger().info(f'warm-up run took {seconds:.2f} s; '
                                   f'{self.model.precision_note}')

    def _load_model(self):
        """The label map, then the model and its segmenter; an unknown class is said first."""
        given_model_path = self._param('model_path')
        choice = choose_model(given_model_path, self._param('label_map_path'))
        if choice.resolved.builtin:  # the node cannot tell its own scenes from a camera's
            using = (f'model_path {given_model_path!r} is' if given_model_path.strip()
                     else 'model_path is empty: using')
            self.get_logger().warning(
                f'{using} the {DEMO_MODEL_NAME}, which knows only these shapes (the overlay '
                f'says so); set model_path to a zoo Mask R-CNN to segment real scenes')
        self.label_map = choice.label_map
        # Before the model, which takes seconds to load: an unknown class is a typo to say now.
        self._settings = self._run_settings({})
        self.segmenter = load_segmenter(
            choice, device=self._tf_device(),
            intra_op_threads=self._param('intra_op_threads'),
            inter_op_threads=self._param('inter_op_threads'), precision=self._param('precision'))
        self.model = self.segmenter.model
        self.get_logger().info(
            f'loaded {self.model.format} model {self.model.name!r} from '
            f'{self.model.source.path} in {self.model.load_seconds:.1f} s; class names from '
            f'{choice.resolved.label_map_path or "the COCO label map"}; '
            f'{self.model.precision_note}')

    def _tf_device(self) -> str:
        """tf_device, or the deprecated `device` where that was given (for one more release)."""
        device = self._param('device')
        if not device:
            return self._param('tf_device')
        self.get_logger().warning(
            f"parameter 'device' is deprecated and goes away in the next release: "
            f'use tf_device:={device}')
        return device

    def _activate(self):
        """Make the outputs, start the pipeline and subscribe the inputs: frames flow."""
        self._active = ActiveSegmentation(self, self._start_settings, self._settings,
                                          self.segmenter, self._engine, self._latest_input_depth)

    @property
    def pipeline(self) -> TwoStagePipeline | None:
        """The pipeline while the node is active, else None."""
        return None if self._active is None else self._active.pipeline

    def _param(self, name: str):
        return self.get_parameter(name).value

    def _run_settings(self, changes: dict[str, Parameter]) -> RunSettings:
        """The run-time settings from the current parameters with `changes` (name -> Parameter)."""
        return run_settings(
            lambda name: changes[name] if name in changes else self.get_parameter(name),
            self.label_map)

    def _validate_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Refuse values that the declared types and ranges let through but the node cannot use."""
        if any(parameter.name == 'cameras' for parameter in parameters):
            return SetParametersResult(successful=False, reason=(
                'cameras is read at start-up: restart the node with the new list'))
        try:
            self._run_settings({parameter.name: parameter for parameter in parameters})
        except InstanceSegmentationError as error:  # an unknown class, a classes of bools
            return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _apply_parameters(self, parameters: list[Parameter]):
        """Swap in new settings as one object: a frame never sees a mix of old and new."""
        self._settings = self._run_settings({})
        if self._active is not None:  # else _activate hands them on
            self._active.apply(self._settings)

    def _deactivate(self):
        """Stop the frames and destroy what _activate made; the model stays loaded."""
        self._active.close()
        self._active = None

    def _cleanup(self):
        """Free the model; TensorFlow keeps some memory (benchmarks/lifecycle_memory.py)."""
        self.model = self.segmenter = self.label_map = None
        release_memory()

    def destroy_node(self):
        """Stop the pipeline first, so that nothing publishes on a destroyed node."""
        if self._active is not None:
            self._active.close()
        super().destroy_node()


class SegmentationNode(SegmentationPhases):
    """The node that configures and activates at once; it cannot start: FatalError, one line."""

    def __init__(self, engine=TwoStagePipeline, input_depth: int = 1, **kwargs):
        super().__init__(PARAMETERS, engine, input_depth, **kwargs)
        self._starting(self._configure)
        self._starting(self._activate)


def run(args: list[str] | None = None,
        node_factory: Callable[[], SegmentationPhases] = SegmentationNode) -> int:
    """Run the node; returns 1 with one error line when it cannot start, else 0.

    0 also for Ctrl+C or SIGTERM at any moment, model load included (exit_guard).
    `node_factory` makes the node: the benchmarks pass variants of SegmentationNode.
    """
    return run_node('segmentation_node', node_factory, args)


def main(args: list[str] | None = None,
         node_factory: Callable[[], SegmentationPhases] = SegmentationNode) -> None:
    """Console script: run the node, then leave at once, skipping the interpreter's teardown.

    The only os._exit of the nodes, because TensorFlow's teardown is slow: with the built-in
    model loaded, SIGINT to process exit took 0.12 s this way (median of 4, 0.11-0.17 s) and
    1.8 s (1.4-1.8 s) through a normal interpreter exit, on 2 shared CPU cores. When run()
    returns, DDS and logging are shut down; exit_guard.leave flushes the output.
    `node_factory`: segmentation_lifecycle_node passes its node.
    """
    exit_guard.install()
    exit_guard.leave(run(args, node_factory))


if __name__ == '__main__':
    main()
