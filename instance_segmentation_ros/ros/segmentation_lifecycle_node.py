"""segmentation_lifecycle_node: segmentation_node as a managed (lifecycle) node.

The same node, topics and parameters, but it starts unconfigured and does each phase of
`SegmentationPhases` when told (`ros2 lifecycle set /segmentation/segmentation_node ...`, or the
launch argument `lifecycle:=true`, which configures and activates it by itself):

* configure: check the parameters and the label map, load and warm up the model;
* activate: make the publishers, start the pipeline, subscribe the image topic;
* deactivate: stop and destroy those again; the model stays loaded;
* cleanup: free the model (README: what TensorFlow keeps);
* shutdown, from any state: release what is held, and the process ends with status 0.

A configure that fails (a wrong model_path, an unknown class) logs one error line and leaves
the node unconfigured. `model_path`, `label_map_path`, `tf_device`, `device`, `precision` and
`cameras` can then be set, as after a cleanup, and configure run again, without restarting the
process.
"""

from __future__ import annotations

import copy

from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNodeMixin, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.task import Future

from ..engine.pipeline import TwoStagePipeline
from .parameters import parameter_error_text
from .segmentation_node import START_ERRORS, SegmentationPhases
from .segmentation_node import main as node_main
from .segmentation_parameters import PARAMETERS

RELOADED = ('model_path', 'label_map_path', 'tf_device', 'device', 'precision', 'cameras')


def settable(descriptor):
    """A copy of a parameter descriptor that is not read-only."""
    result = copy.copy(descriptor)
    result.read_only = False
    return result


# The parameters a configure reads anew are not read-only here: set while unconfigured.
LIFECYCLE_PARAMETERS = {name: (default, settable(descriptor) if name in RELOADED else descriptor)
                        for name, (default, descriptor) in PARAMETERS.items()}


class SegmentationLifecycleNode(LifecycleNodeMixin, SegmentationPhases):
    """segmentation_node whose phases are lifecycle transitions; `done` is set by shutdown.

    It declares its parameters as the plain node does and adds the lifecycle services, as
    rclpy's own LifecycleNode does over Node.
    """

    def __init__(self, engine=TwoStagePipeline, input_depth: int = 1, **kwargs):
        SegmentationPhases.__init__(self, LIFECYCLE_PARAMETERS, engine, input_depth, **kwargs)
        LifecycleNodeMixin.__init__(self)
        self.done = Future()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Configure; a failure is one error line and leaves the node unconfigured."""
        try:
            self._configure()
        except START_ERRORS as error:  # the user can fix the parameter and configure again
            self._cleanup()
            self.get_logger().error(f'configure failed: {parameter_error_text(error)}')
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Activate: outputs, pipeline, input."""
        self._activate()
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Deactivate: stop the frames, keep the model."""
        self._deactivate()
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Clean up: free the model."""
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """From any state: undo what it holds; run_node then ends the process (status 0)."""
        if state.label == 'active':
            self._deactivate()
        if state.label in ('active', 'inactive'):
            self._cleanup()
        self.done.set_result(0)
        return TransitionCallbackReturn.SUCCESS

    def _validate_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """While configured, refuse what only a configure reads; unconfigured, take all."""
        if self.model is None:  # configure checks the values, with one error line
            return SetParametersResult(successful=True)
        reloaded = [p.name for p in parameters if p.name in RELOADED]
        if reloaded:
            return SetParametersResult(successful=False, reason=(
                f'{reloaded[0]} is read by configure: cleanup first (ros2 lifecycle set '
                f'{self.get_fully_qualified_name()} cleanup), then set it and configure'))
        return super()._validate_parameters(parameters)

    def _apply_parameters(self, parameters: list[Parameter]):
        """Apply changes only while configured; configure reads them all anyway."""
        if self.model is not None:  # unconfigured: configure reads them
            super()._apply_parameters(parameters)


def main(args: list[str] | None = None) -> None:
    """Console script: as segmentation_node's, with the lifecycle node."""
    node_main(args, SegmentationLifecycleNode)


if __name__ == '__main__':
    main()
