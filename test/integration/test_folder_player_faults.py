"""folder_player faults: files cut short, and files or the whole folder that disappear.

The player runs as its console script. In lock-step mode the test decides when the next file
is read: it changes the folder after the first image and only then acknowledges it. Without a
subscriber the player reads nothing yet, so the folder can go before the first image.
(The tests run as root, for whom chmod cannot make a file unreadable: files are deleted or
overwritten with garbage instead.)
"""

import shutil

import cv2
import numpy as np
from helper_nodes import FolderRecorder, make_folder
from ros_helpers import NodeProcess, spin_until
from std_msgs.msg import String

WAIT_TIMEOUT = 5.0  # s the player waits for an acknowledgement before going on by itself


class AckingRecorder(FolderRecorder):
    """Records like FolderRecorder and, from ``acking`` on, acknowledges every image on ``ack``."""

    def __init__(self, node):
        super().__init__(node)
        self.acked = 0
        self.acking = False
        self._ack = node.create_publisher(String, 'ack', 10)

    def ack_received(self):
        """Acknowledge the images received since the last call (when acking)."""
        while self.acking and self.acked < len(self.images):
            self._ack.publish(String(data=f'done with image {self.acked}'))
            self.acked += 1
        return False


def lines_of(output, level):
    return [line for line in output.splitlines() if f'[{level}]' in line]


def play(executor, recorder, condition, timeout):
    """Spin, acknowledging images, until ``condition()`` or ``timeout`` seconds."""
    return spin_until(executor, lambda: recorder.ack_received() or condition(), timeout)


def test_files_that_disappear_or_turn_to_garbage_are_skipped_and_listed(ros, tmp_path):
    node, executor = ros
    folder = make_folder(tmp_path / 'images', count=6, corrupt=False)
    recorder = AckingRecorder(node)
    with NodeProcess('folder_player', folder=folder, rate=50.0, wait_for_topic='ack',
                     wait_timeout=WAIT_TIMEOUT) as player:
        assert spin_until(executor, lambda: len(recorder.images) >= 1, 30.0), player.finish()
        # img_0.png is out and the player waits for its acknowledgement: change the folder.
        (folder / 'img_2.png').unlink()
        (folder / 'img_4.png').write_bytes(b'\x89PNG\r\n\x1a\n garbage \x00\xff' * 10)
        recorder.acking = True
        assert play(executor, recorder, lambda: player.returncode is not None, 60.0), \
            player.finish()
        spin_until(executor, lambda: len(recorder.images) >= 4, 1.0)
        status, output = player.finish()
    assert status == 0, output
    assert recorder.widths == [32, 33, 35, 37]  # img_0, 1, 3 and 5, in order
    assert recorder.names == ['img_0.png', 'img_1.png', 'img_3.png', 'img_5.png']
    warnings = lines_of(output, 'WARN')
    skips = [line for line in warnings if 'skipping' in line]
    assert len(skips) == 2, output
    assert str(folder / 'img_2.png') in skips[0] and str(folder / 'img_4.png') in skips[1]
    assert 'published 4 images, skipped 2 (img_2.png, img_4.png)' in output, output
    assert lines_of(output, 'ERROR') == [] and 'Traceback' not in output


def test_a_jpeg_cut_short_is_skipped_and_the_whole_images_are_played(ros, tmp_path):
    node, executor = ros
    folder = make_folder(tmp_path / 'images', count=3, corrupt=False)
    noise = np.random.default_rng(3).integers(0, 256, (24, 64, 3), np.uint8)
    data = cv2.imencode('.jpg', noise)[1].tobytes()
    cut = folder / 'img_1b.jpg'  # between img_1.png and img_2.png in name order
    cut.write_bytes(data[:len(data) // 2])  # a copy that was still running, say
    assert cv2.imread(str(cut)) is not None  # OpenCV alone would show it, half grey
    recorder = FolderRecorder(node)
    with NodeProcess('folder_player', folder=folder, rate=20.0) as player:
        assert spin_until(executor, lambda: player.returncode is not None, 30.0), \
            player.finish()
        spin_until(executor, lambda: len(recorder.images) >= 3, 1.0)
        status, output = player.finish()
    assert status == 0, output
    assert recorder.widths == [32, 33, 34], output
    assert recorder.names == ['img_0.png', 'img_1.png', 'img_2.png']
    skips = [line for line in lines_of(output, 'WARN') if 'skipping' in line]
    assert len(skips) == 1, output
    assert f"skipping '{cut}': truncated JPEG (no end-of-image marker)" in skips[0], output
    assert 'published 3 images, skipped 1 (img_1b.jpg)' in output, output
    assert 'Premature end of JPEG file' not in output  # refused before libjpeg reads it
    assert lines_of(output, 'ERROR') == [] and 'Traceback' not in output


def test_folder_removed_after_the_first_image_ends_with_a_summary(ros, tmp_path):
    node, executor = ros
    folder = make_folder(tmp_path / 'images', count=4, corrupt=False)
    recorder = AckingRecorder(node)
    with NodeProcess('folder_player', folder=folder, rate=50.0, wait_for_topic='ack',
                     wait_timeout=WAIT_TIMEOUT) as player:
        assert spin_until(executor, lambda: len(recorder.images) >= 1, 30.0), player.finish()
        shutil.rmtree(folder)
        recorder.acking = True
        assert play(executor, recorder, lambda: player.returncode is not None, 60.0), \
            player.finish()
        status, output = player.finish()
    # One image made it out, so the run is not a failure; the rest is reported as unreadable.
    assert status == 0, output
    assert recorder.names == ['img_0.png']
    skips = [line for line in lines_of(output, 'WARN') if 'skipping' in line]
    assert [f'img_{k}.png' in line for k, line in enumerate(skips, start=1)] == [True] * 3
    assert 'published 1 images, skipped 3 (img_1.png, img_2.png, img_3.png)' in output, output
    assert lines_of(output, 'ERROR') == [] and 'Traceback' not in output


def test_folder_removed_before_the_first_image_exits_1_with_one_error(ros, tmp_path):
    node, executor = ros
    folder = make_folder(tmp_path / 'images', count=3, corrupt=False)
    with NodeProcess('folder_player', folder=folder, wait_for_subscriber=60.0) as player:
        # The files are listed once the node exists (its publisher is in the graph); it then
        # waits for a subscriber on image, so nothing has been read yet.
        assert spin_until(executor, lambda: node.count_publishers('/image') > 0, 30.0), \
            player.finish()
        shutil.rmtree(folder)
        recorder = FolderRecorder(node)
        assert spin_until(executor, lambda: player.returncode is not None, 30.0), \
            player.finish()
        status, output = player.finish()
    assert status == 1, output
    assert recorder.images == []
    errors = lines_of(output, 'ERROR')
    assert len(errors) == 1, output
    assert f"no file of '{folder}' could be read" in errors[0], output
    assert 'published 0 images, skipped 3 (img_0.png, img_1.png, img_2.png)' in errors[0]
    assert 'Traceback' not in output
