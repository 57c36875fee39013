"""The Harness around segmentation_lifecycle_node, with clients of its lifecycle services.

The transitions are asked for as `ros2 lifecycle` and launch_ros ask for them, through
<node>/change_state and <node>/get_state.
"""

from __future__ import annotations

from lifecycle_msgs.srv import ChangeState, GetState
from node_harness import Harness
from ros_helpers import wait_for, wait_future

from instance_segmentation_ros.ros.segmentation_lifecycle_node import SegmentationLifecycleNode


class LifecycleHarness(Harness):
    """The lifecycle node in this process (unconfigured at first) and a client of its services."""

    def __init__(self, model_path: str | None, namespace: str, extra_args=()):
        super().__init__(model_path, extra_args, node_class=SegmentationLifecycleNode,
                         namespace=namespace, connect=False)
        self.namespace = namespace
        name = f'{namespace}/segmentation_node'
        self._change = self.client.create_client(ChangeState, f'{name}/change_state')
        self._get = self.client.create_client(GetState, f'{name}/get_state')
        assert wait_for(lambda: self._change.service_is_ready() and self._get.service_is_ready())

    def change(self, *labels: str) -> bool:
        """Ask for the transitions in turn; False at the first that fails."""
        for label in labels:
            request = ChangeState.Request()
            request.transition.label = label
            if not wait_future(self._change.call_async(request), timeout=60).success:
                return False
        return True

    @property
    def state(self) -> str:
        return wait_future(self._get.call_async(GetState.Request())).current_state.label
