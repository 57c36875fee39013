"""TensorFlow's native start-up notes in segmentation_node's output: hidden unless asked for.

TensorFlow writes them through absl (``I0000 ... port.cc:153] oneDNN custom operations are on``,
on some CPUs ``E0000 ... oneDNN supports DT_BOOL only on platforms with AVX-512``), which
TF_CPP_MIN_LOG_LEVEL does not filter; the console script's exit_guard does, and a level the user
sets wins. The node is started as users start it, by its console script, and read until its
model has run once (the warm-up, where the AVX-512 note comes).
"""

import re
import signal
import time

import pytest
from ros_helpers import NodeProcess

START_TIMEOUT = 180.0  # s until the warm-up is done: TensorFlow starts slowly on a busy machine
ABSL_LINE = re.compile(r'^[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\] ', re.MULTILINE)
WARMED_UP = 'warm-up run took'


def output_until_warmed_up(monkeypatch, level):
    """segmentation_node's output (stdout and stderr) from its start until after its warm-up."""
    if level is None:
        monkeypatch.delenv('TF_CPP_MIN_LOG_LEVEL', raising=False)
    else:
        monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', level)
    lines = []
    with NodeProcess('segmentation_node') as node:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = node.proc.stdout.readline()
            lines.append(line)
            if not line or WARMED_UP in line:
                break
        status, rest = node.finish(signal.SIGINT, timeout=60.0)
    output = ''.join(lines) + rest
    assert WARMED_UP in output and status == 0, output
    return output


@pytest.mark.parametrize('level', [None, '2'], ids=['unset', 'default'])
def test_tensorflow_notes_are_hidden_from_the_node_output(monkeypatch, level):
    output = output_until_warmed_up(monkeypatch, level)
    assert not ABSL_LINE.search(output), output
    assert 'absl::InitializeLog' not in output and 'oneDNN' not in output, output
    assert 'model_path is empty' in output  # the node's own lines pass


def test_a_level_the_user_sets_shows_them(monkeypatch):
    output = output_until_warmed_up(monkeypatch, '0')
    assert ABSL_LINE.search(output), output  # on x86: "I0000 ... oneDNN custom operations ..."
