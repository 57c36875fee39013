"""Shared pytest set-up: isolate the DDS traffic of this test run from anything else."""

import os

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

# Each pytest process gets its own DDS domain and stays on the loopback interface, so that
# concurrent runs on one machine never see each other's topics (DESIGN section 5).
os.environ.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


@pytest.fixture
def ros(request):
    """A node and executor of the test process, in a context of its own."""
    context = rclpy.Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node(f'test_{request.node.originalname}', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        yield node, executor
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
