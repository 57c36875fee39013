"""The bag command on a Ray cluster: a head of its own on 127.0.0.1, results equal to a local run.

The cluster is started here with 2 CPUs and stopped at the end (`ray stop --force`), and no
raylet may be left. A worker killed in the middle of a run must cost no frame and duplicate
none.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import tiny_models
from camera_bags import RESULTS, camera_bag
from cli_run import SCRIPT, read_bag

RAY = shutil.which('ray', path=str(SCRIPT.parent))
ACTOR_TITLE = 'ray::FrameSegmenter'  # what Ray names an actor's worker process
# Everything on the loopback interface: Ray takes 127.0.0.1 for this machine's outward address
# unless told that the cluster is one machine's; the head's token (ray start makes one) is used.
LOOPBACK = {**os.environ, 'RAY_ADDRESS': '', 'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER': '0',
            'RAY_AUTH_MODE': 'token'}


def bag_command(*args, timeout=300):
    return subprocess.run([str(SCRIPT), 'bag', *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=LOOPBACK)


def results(out):
    """A bag's results: per frame the JSON without its timing, the mask and overlay bytes."""
    _, messages = read_bag(out)
    frames = []
    for position, (log_time, text) in enumerate(messages[f'{RESULTS}/detections_json']):
        data = json.loads(text.data)
        data.pop('inference_ms')
        entry = {'log_time': log_time, 'json': data,
                 'masks': bytes(messages[f'{RESULTS}/masks'][position][1].data),
                 'png': bytes(messages[f'{RESULTS}/masks/compressed'][position][1].data)}
        if f'{RESULTS}/overlay' in messages:
            entry['overlay'] = bytes(messages[f'{RESULTS}/overlay'][position][1].data)
        frames.append(entry)
    return frames


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    return tiny_models.export_tf2_od_saved_model(tmp_path_factory.mktemp('ray_model') / 'tf2')


@pytest.fixture(scope='module')
def slow_model(tmp_path_factory):
    return tiny_models.export_tf2_od_saved_model(
        tmp_path_factory.mktemp('ray_slow_model') / 'tf2', compute_seconds=0.3)


def raylets():
    found = subprocess.run(['pgrep', '-f', 'raylet'], capture_output=True, text=True)
    return found.stdout.split()


@pytest.fixture(scope='module')
def ray_head():
    """The address of a Ray head of 2 CPUs on 127.0.0.1, stopped (every process) at the end."""
    pytest.importorskip('ray', reason='Ray is not installed (pip install .[ray])')
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    temp = tempfile.mkdtemp(prefix='ray', dir='/tmp')  # short: Ray's socket paths are in it
    started = subprocess.run(
        [RAY, 'start', '--head', '--node-ip-address', '127.0.0.1', '--port', str(port),
         '--num-cpus', '2', '--num-gpus', '0', '--include-dashboard', 'false',
         '--disable-usage-stats', '--temp-dir', temp],
        capture_output=True, text=True, timeout=180, env=LOOPBACK)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield f'127.0.0.1:{port}'
    finally:
        subprocess.run([RAY, 'stop', '--force'], capture_output=True, timeout=120, env=LOOPBACK)
        shutil.rmtree(temp, ignore_errors=True)
        deadline = time.monotonic() + 30
        while raylets() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert raylets() == [], 'a raylet outlived ray stop'


def test_a_ray_run_writes_what_a_local_run_writes(model, ray_head, tmp_path):
    bag = camera_bag(tmp_path / 'in', 8)
    local = bag_command(bag, tmp_path / 'local', '--model', model, '--overlay', '--json',
                        tmp_path / 'local.json')
    assert local.returncode == 0, local.stderr
    on_ray = bag_command(bag, tmp_path / 'ray', '--model', model, '--overlay', '--json',
                         tmp_path / 'ray.json', '--ray', ray_head, '--ray-actors', '2')
    assert on_ray.returncode == 0, on_ray.stderr
    assert 'ray: 2 actors (1 CPU each) on a cluster of 2 CPUs and 0 GPUs' in on_ray.stdout
    assert results(tmp_path / 'ray') == results(tmp_path / 'local')
    assert len(results(tmp_path / 'ray')) == 8
    for name in ('json', 'images.json'):
        assert (tmp_path / f'ray.{name}').read_bytes() == (
            tmp_path / f'local.{name}').read_bytes(), name


def test_several_bags_each_go_into_their_own_folder(model, ray_head, tmp_path):
    first = camera_bag(tmp_path / 'first', 3, 'sqlite3')
    second = camera_bag(tmp_path / 'second', 5)
    done = bag_command(first, second, tmp_path / 'out', '--model', model,
                       '--ray', ray_head, '--ray-actors', '2')
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['first', 'second']
    assert [len(results(tmp_path / 'out' / name)) for name in ('first', 'second')] == [3, 5]
    alone = bag_command(second, tmp_path / 'alone', '--model', model)
    assert alone.returncode == 0, alone.stderr
    assert results(tmp_path / 'out' / 'second') == results(tmp_path / 'alone')


def test_a_killed_worker_costs_no_frame_and_duplicates_none(slow_model, ray_head, tmp_path):
    frames = 12
    bag = camera_bag(tmp_path / 'in', frames)
    process = subprocess.Popen(
        [str(SCRIPT), 'bag', str(bag), str(tmp_path / 'ray'), '--model', str(slow_model),
         '--ray', ray_head, '--ray-actors', '2'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=LOOPBACK)
    killed, deadline = None, time.monotonic() + 240
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        if line.startswith('[2/'):
            workers = subprocess.run(['pgrep', '-f', ACTOR_TITLE], capture_output=True,
                                     text=True).stdout.split()
            assert len(workers) == 2, workers
            killed = int(workers[0])
            os.kill(killed, signal.SIGKILL)
            break
    rest, err = process.communicate(timeout=300)
    assert killed is not None, err
    assert process.returncode == 0, err
    written = results(tmp_path / 'ray')
    assert [f['json']['header']['stamp']['sec'] for f in written] == list(range(100, 112))
    local = bag_command(bag, tmp_path / 'local', '--model', slow_model)
    assert local.returncode == 0, local.stderr
    assert written == results(tmp_path / 'local')
    assert f'segmented {frames} frames' in rest


def test_without_ray_the_option_says_how_to_get_it(model, tmp_path):
    bag = camera_bag(tmp_path / 'in', 1)
    hidden = ('import sys; sys.modules["ray"] = None; '
              'from instance_segmentation_ros import cli; sys.exit(cli.main(sys.argv[1:]))')
    done = subprocess.run([sys.executable, '-c', hidden, 'bag', str(bag), str(tmp_path / 'out'),
                           '--model', str(model), '--ray'], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "pip install 'instance_segmentation_ros[ray]'" in lines[0]
    assert not (tmp_path / 'out').exists()
