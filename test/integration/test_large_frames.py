"""A photo far larger than the shared-memory segment reaches segmentation_node and is answered.

A 4000x3600 photo is 43 MB as bgr8, above the 32 MiB Fast DDS segment the nodes use. Played by
folder_player (reliable) into segmentation_node with its default `input_reliability: auto`,
it must arrive: a best-effort subscription loses such a frame without a word.
"""

import json

import cv2
import numpy as np
from ros_helpers import Collector, NodeProcess, spin_until
from std_msgs.msg import String

WIDTH, HEIGHT = 4000, 3600
RESULTS = '/segmentation/detections_json'


def write_photo(path):
    """A large, smooth image (quick to encode and decode) with a few shapes on it."""
    ramp = np.linspace(0, 255, WIDTH, dtype=np.uint8)
    image = np.dstack([np.tile(ramp, (HEIGHT, 1))] * 3)
    cv2.circle(image, (1000, 1000), 500, (20, 200, 20), -1)
    cv2.rectangle(image, (2500, 1500), (3500, 2800), (200, 30, 30), -1)
    assert cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    assert image.nbytes > 40 * 2**20


def test_a_frame_above_40_mb_gets_its_result_in_lock_step(ros, tmp_path):
    node, executor = ros
    folder = tmp_path / 'photos'
    folder.mkdir()
    write_photo(folder / 'large.png')
    results = Collector()
    node.create_subscription(String, RESULTS, results, 10)
    with NodeProcess('segmentation_node', remaps=['__ns:=/segmentation', 'image:=/image'],
                     warmup=False), \
            NodeProcess('folder_player', folder=folder, wait_for_topic=RESULTS,
                        wait_timeout=120.0) as player:
        assert spin_until(executor, lambda: player.returncode is not None, 240.0)
        code, output = player.finish()
        assert spin_until(executor, lambda: len(results) > 0, 10.0)
    assert code == 0, output
    assert 'published 1 images, skipped 0, 0 wait timeouts' in output, output
    frame = json.loads(results.last.data)
    assert (frame['width'], frame['height']) == (WIDTH, HEIGHT)
