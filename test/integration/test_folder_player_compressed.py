"""folder_player with transport compressed over real DDS: what arrives on image/compressed.

A JPEG or PNG must arrive as the file's own bytes, anything else as a PNG of the same pixels,
a damaged file is skipped as in raw mode, and lock-step works with a segmentation_node that
reads image/compressed (the real node, with its built-in model).
"""

import json

import cv2
import numpy as np
import pytest
from helper_nodes import RELIABLE
from ros_helpers import Collector, NodeProcess, spin_until
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from instance_segmentation_ros.core.compressed import PNG_FORMAT
from instance_segmentation_ros.demo.coco_truth import write_coco_dataset

RESULTS = '/segmentation/detections_json'


def noise(width, seed):
    return np.random.default_rng(seed).integers(0, 256, (24, width, 3), np.uint8)


def write_files(folder):
    """a.jpg, b.png, c.bmp (widths 40, 41, 42) and d_cut.jpg, a JPEG cut short."""
    folder.mkdir()
    files = {}
    for index, name in enumerate(['a.jpg', 'b.png', 'c.bmp']):
        assert cv2.imwrite(str(folder / name), noise(40 + index, index))
        files[name] = (folder / name).read_bytes()
    whole = cv2.imencode('.jpg', noise(64, 9))[1].tobytes()
    (folder / 'd_cut.jpg').write_bytes(whole[:len(whole) // 2])
    return files


@pytest.mark.parametrize('remap', [None, '/camera/image_raw'])
def test_files_arrive_as_their_own_bytes_or_as_png_and_a_cut_jpeg_is_skipped(
        ros, tmp_path, remap):
    node, executor = ros
    files = write_files(tmp_path / 'images')
    base = remap or '/image'
    compressed, raw, names = Collector(), Collector(), Collector()
    node.create_subscription(CompressedImage, f'{base}/compressed', compressed, RELIABLE)
    node.create_subscription(Image, base, raw, RELIABLE)
    node.create_subscription(String, 'image_file', names, RELIABLE)
    with NodeProcess('folder_player', remaps=[f'image:={remap}'] if remap else [],
                     folder=tmp_path / 'images', transport='compressed', rate=20.0,
                     frame_id='test_cam') as player:
        assert spin_until(executor, lambda: player.returncode is not None, 30.0), \
            player.finish()
        spin_until(executor, lambda: len(compressed) >= 3, 1.0)
        status, output = player.finish()
    assert status == 0, output
    assert [m.data for m in names.messages] == ['a.jpg', 'b.png', 'c.bmp']
    assert len(raw) == 0, 'compressed mode published raw images too'
    jpeg, png, bmp = compressed.messages
    assert (jpeg.format, bytes(jpeg.data)) == ('bgr8; jpeg compressed bgr8', files['a.jpg'])
    assert (png.format, bytes(png.data)) == ('bgr8; png compressed bgr8', files['b.png'])
    assert bmp.format == PNG_FORMAT and bytes(bmp.data[:8]) == b'\x89PNG\r\n\x1a\n'
    decoded = cv2.imdecode(np.frombuffer(bytes(bmp.data), np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(decoded, noise(42, 2))
    assert {m.header.frame_id for m in compressed.messages} == {'test_cam'}
    stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in compressed.messages]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert f"on '{base}/compressed'" in output, output
    skips = [line for line in output.splitlines() if 'skipping' in line]
    assert len(skips) == 1 and '[WARN]' in skips[0], output
    assert "d_cut.jpg': truncated JPEG (no end-of-image marker)" in skips[0], output
    assert 'published 3 images, skipped 1 (d_cut.jpg)' in output, output
    assert 'Traceback' not in output


def test_an_unknown_transport_exits_1_with_one_clear_line(tmp_path):
    write_files(tmp_path / 'images')
    with NodeProcess('folder_player', folder=tmp_path / 'images', transport='theora') as player:
        status, output = player.finish(timeout=20.0)
    assert status == 1, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and '[ERROR]' in lines[0], output
    assert "transport 'theora' is not one of raw, compressed" in lines[0], output


def test_lock_step_with_a_segmentation_node_that_reads_compressed_images(ros, tmp_path):
    node, executor = ros
    folder = tmp_path / 'scenes'
    write_coco_dataset(str(folder), 3, seed=5, size=(160, 120))
    sent, results = Collector(), Collector()
    node.create_subscription(CompressedImage, '/image/compressed', sent, RELIABLE)
    node.create_subscription(String, RESULTS, results, 10)
    with NodeProcess('segmentation_node', remaps=['__ns:=/segmentation', 'image:=/image'],
                     input_transport='compressed', warmup=False), \
            NodeProcess('folder_player', folder=folder, transport='compressed', rate=50.0,
                        wait_for_topic=RESULTS, wait_timeout=60.0) as player:
        assert spin_until(executor, lambda: player.returncode is not None, 180.0), \
            player.finish()
        status, output = player.finish()
        assert spin_until(executor, lambda: len(results) >= 3, 10.0)
    assert status == 0, output
    assert 'published 3 images, skipped 0, 0 wait timeouts' in output, output
    assert '[WARN]' not in output, output
    headers = [json.loads(m.data)['header'] for m in results.messages]
    assert [(h['stamp']['sec'], h['stamp']['nanosec'], h['frame_id']) for h in headers] == [
        (m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id) for m in sent.messages]
    assert {(json.loads(m.data)['width'], json.loads(m.data)['height'])
            for m in results.messages} == {(160, 120)}
