"""Fixtures of the integration tests that several modules use."""

import cv2
import pytest
import rclpy
import tiny_models
from cli_run import HEIGHT, SCENES, WIDTH
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions


@pytest.fixture(scope='module')
def in_dir(tmp_path_factory):
    """Four scenes (one with an upper-case extension), a JPEG cut in half and a text file."""
    folder = tmp_path_factory.mktemp('images')
    for name, seed in SCENES.items():
        rgb, _ = tiny_models.draw_scene(HEIGHT, WIDTH, seed=seed)
        assert cv2.imwrite(str(folder / name), rgb[..., ::-1])
    rgb, _ = tiny_models.draw_scene(HEIGHT, WIDTH, seed=9)
    jpeg = cv2.imencode('.jpg', rgb[..., ::-1])[1].tobytes()
    (folder / 'broken.jpg').write_bytes(jpeg[:len(jpeg) // 2])
    (folder / 'notes.txt').write_text('not an image')
    return folder


@pytest.fixture(scope='module')
def slow_model(tmp_path_factory):
    """Every call takes 0.4 s, so that Ctrl+C lands in the middle of a run."""
    return tiny_models.export_tf2_od_saved_model(tmp_path_factory.mktemp('slow') / 'model',
                                                 compute_seconds=0.4)


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
