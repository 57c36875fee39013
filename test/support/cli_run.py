"""Running the instance-segmentation command in tests, and reading what it wrote."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from instance_segmentation_ros import cli

BIN = Path(sys.executable).parent
SCRIPT = BIN / 'instance-segmentation'
HEIGHT, WIDTH = 240, 320
SCENES = {'scene_0.png': 0, 'scene_1.png': 1, 'scene_2.png': 2, 'scene_3.BMP': 3}


def run_cli(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *fragments, expected_status=1):
    assert status == expected_status
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert 'Traceback' not in err and 'error: ' in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def interrupt_at(argv, progress_prefix: str, occurrence: int = 1, timeout: float = 180.0):
    """Run the command, press Ctrl+C (SIGINT) at the nth progress line that starts so.

    Returns the exit status and every stderr line, the ones after the interrupt included.
    """
    process = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    seen, lines, deadline = 0, [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        seen += line.startswith(progress_prefix)
        if seen == occurrence:
            process.send_signal(signal.SIGINT)
            break
    _, err = process.communicate(timeout=timeout)
    return process.returncode, lines + err.splitlines(keepends=True)


def read_bag(path):
    messages = {}
    with AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        for connection, timestamp, raw in reader.messages():
            messages.setdefault(connection.topic, []).append(
                (timestamp, reader.deserialize(raw, connection.msgtype)))
    return types, messages
