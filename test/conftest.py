"""Shared pytest set-up: isolate the DDS traffic of this test run from anything else."""

import fcntl
import os
import tempfile

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

DOMAIN_IDS = range(1, 102)  # the ids Fast DDS can use besides 0, the default


def claim_domain_id() -> tuple[int, object]:
    """A DDS domain id no other test run on this machine holds, with the lock that holds it.

    Two test runs at once on one machine (CI beside a developer, two venvs) must never hear
    each other's nodes; an id from the process id collided now and then. The lock is a file
    lock, so it goes with the process, however that ends.
    """
    for domain_id in DOMAIN_IDS:
        path = os.path.join(tempfile.gettempdir(),
                            f'instance_segmentation_ros_tests_domain_{domain_id}.lock')
        lock = open(path, 'w')  # held open for the life of the process
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        return domain_id, lock
    raise RuntimeError(f'every DDS domain id in {DOMAIN_IDS} is held by another test run')


# Each pytest process gets its own DDS domain and stays on the loopback interface, so that
# concurrent runs on one machine never see each other's topics.
if 'ROS_DOMAIN_ID' not in os.environ:
    _domain_id, _DOMAIN_LOCK = claim_domain_id()
    os.environ['ROS_DOMAIN_ID'] = str(_domain_id)
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


# The fast tier (`pytest -m "not integration"`, about 20 s): plain Python, numpy and OpenCV
# modules tested without DDS, processes, an X server or model exports. Every other test file is
# marked `integration`, new ones too until they are listed here.
UNIT_TEST_MODULES = {
    'test_bag_writer', 'test_compressed', 'test_depth3d', 'test_diagnostics',
    'test_image_conversion', 'test_image_files', 'test_labels', 'test_launch_files',
    'test_layering', 'test_lint', 'test_locate_model', 'test_mask_pasting_vs_od_api',
    'test_node_support', 'test_postprocess', 'test_render', 'test_results', 'test_stages',
    'test_synthetic_scenes', 'test_video_source', 'test_zoo',
}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.stem not in UNIT_TEST_MODULES:  # launch tests have no `module`
            item.add_marker(pytest.mark.integration)


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
