"""instance-segmentation folder faults: SIGTERM at any time, and an OUT_DIR that is a file.

SIGTERM is what a process manager (systemd, docker stop, a launch file) sends; it must end a
run like Ctrl+C does: exit status 130, one error line and no traceback, and a bag that is
closed and readable (or no bag at all when no frame was written yet), never a bag folder
without its index and metadata.yaml that the next run then refuses to overwrite.
"""

import json
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from cli_run import SCRIPT, assert_one_line_error, read_bag, run_cli
from rosbags.rosbag2 import Reader

from instance_segmentation_ros.cli.bag_writer import TOPICS

IMAGES = 8


def many_images(in_dir, folder):
    """IMAGES copies of one scene, so that a run of the 0.4 s model takes a few seconds."""
    folder.mkdir()
    for k in range(IMAGES):
        (folder / f'{k}.png').write_bytes((in_dir / 'scene_0.png').read_bytes())
    return folder


@contextmanager
def folder_run(slow_model, images, tmp_path):
    """A running `folder` batch with bag and JSON; killed on exit if a test left it running."""
    process = subprocess.Popen(
        [str(SCRIPT), 'folder', str(images), str(tmp_path / 'out'), '--model', slow_model,
         '--bag', str(tmp_path / 'bag'), '--json', str(tmp_path / 'r.json')],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def read_stderr_until(process, prefix, lines, timeout=60.0):
    """Read stderr lines into ``lines`` until one starts with ``prefix``; True if one did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            return False
        lines.append(line)
        if line.startswith(prefix):
            return True
    return False


def loads_tensorflow(process):
    """True once TensorFlow's libraries are mapped into the (running) process."""
    try:
        return 'tensorflow' in Path(f'/proc/{process.pid}/maps').read_text()
    except OSError:
        return process.poll() is not None


def assert_bag_consistent(bag):
    """The bag is finished (metadata.yaml) and holds the same frames on every topic."""
    with Reader(bag) as reader:  # fails on a bag without metadata.yaml
        counts = {connection.topic: connection.msgcount for connection in reader.connections}
    _, messages = read_bag(bag)
    frames = len(messages['/image'])
    assert counts == {topic: frames for topic in TOPICS}
    assert {topic: len(messages[topic]) for topic in TOPICS} == counts
    stamps = [[stamp for stamp, _ in messages[topic]] for topic in TOPICS]
    assert all(entry == stamps[0] for entry in stamps)
    return frames


def test_sigterm_while_the_model_loads_leaves_no_broken_bag(slow_model, in_dir, tmp_path):
    images = many_images(in_dir, tmp_path / 'many')
    bag = tmp_path / 'bag'
    with folder_run(slow_model, images, tmp_path) as process:
        # The bag is created before the model loads; TensorFlow is imported to load it.
        deadline = time.monotonic() + 60
        while not loads_tensorflow(process) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert bag.exists(), process.communicate(timeout=60)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (out, err)
    assert 'Traceback' not in err
    if '[1/' in err:  # the machine was fast: the first image was done before the signal
        assert err.strip().splitlines()[-1].startswith(
            'instance-segmentation: error: interrupted after ')
        assert assert_bag_consistent(bag) >= 1
    else:
        assert err.strip().splitlines() == ['instance-segmentation: error: interrupted'], err
        assert not bag.exists()  # no frame: the bag is discarded, so a rerun can create it
        assert not (tmp_path / 'r.json').exists()
        assert not (tmp_path / 'out').exists()  # made by the run, and left empty


def test_sigterm_during_the_batch_closes_the_bag(slow_model, in_dir, tmp_path):
    images = many_images(in_dir, tmp_path / 'many')
    lines = []
    with folder_run(slow_model, images, tmp_path) as process:
        assert read_stderr_until(process, '[1/', lines), ''.join(lines)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    lines += err.splitlines(keepends=True)
    text = ''.join(lines)
    assert process.returncode == 130, text
    assert 'stopping after the current image' in text
    assert lines[-1].startswith('instance-segmentation: error: interrupted after '), text
    assert 'Traceback' not in text
    frames = assert_bag_consistent(tmp_path / 'bag')
    assert 1 <= frames < IMAGES
    # Everything written is complete and agrees: overlays, bag frames, JSON results.
    assert f'wrote {tmp_path / "bag"} ({frames} frames)' in out
    assert len(list((tmp_path / 'out').iterdir())) == frames
    assert len(json.loads((tmp_path / 'r.json').read_text())) == 2 * frames


def test_second_sigterm_stops_at_once_and_still_closes_the_bag(slow_model, in_dir, tmp_path):
    images = many_images(in_dir, tmp_path / 'many')
    lines = []
    with folder_run(slow_model, images, tmp_path) as process:
        assert read_stderr_until(process, '[1/', lines), ''.join(lines)
        process.send_signal(signal.SIGTERM)
        assert read_stderr_until(process, 'instance-segmentation: stopping', lines, 30.0), \
            ''.join(lines)
        process.send_signal(signal.SIGTERM)  # the next image is being segmented now
        started = time.monotonic()
        out, err = process.communicate(timeout=60)
        elapsed = time.monotonic() - started
    lines += err.splitlines(keepends=True)
    text = ''.join(lines)
    assert process.returncode == 130, text
    assert lines[-1].startswith('instance-segmentation: error: interrupted after '), text
    assert 'Traceback' not in text
    assert elapsed < 20.0, elapsed  # generous: a loaded machine; not the whole batch
    frames = assert_bag_consistent(tmp_path / 'bag')
    assert 1 <= frames < IMAGES
    # The second signal waits for the image being written: its outputs are all there or none.
    assert len(list((tmp_path / 'out').iterdir())) == frames
    assert len(json.loads((tmp_path / 'r.json').read_text())) == 2 * frames


def test_out_dir_that_is_a_file_is_one_line(slow_model, in_dir, tmp_path, capsys):
    out_file = tmp_path / 'out.png'
    out_file.write_bytes(b'an existing file')
    bag = tmp_path / 'bag'
    status, out, err = run_cli(capsys, 'folder', in_dir, out_file, '--model', slow_model,
                               '--bag', bag, '--json', tmp_path / 'r.json')
    assert_one_line_error(status, err, f'cannot create {out_file}', 'file exists')
    assert out == ''
    assert out_file.read_bytes() == b'an existing file'
    assert not bag.exists() and not (tmp_path / 'r.json').exists()

    # A folder below a file cannot be created either.
    status, out, err = run_cli(capsys, 'folder', in_dir, out_file / 'overlays', '--model',
                               slow_model)
    assert_one_line_error(status, err, f'cannot create {out_file / "overlays"}',
                          'not a directory')
