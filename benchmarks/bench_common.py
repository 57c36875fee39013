"""Helpers shared by the benchmark scripts: machine facts, statistics, models, ROS processes.

Not a benchmark itself. Run as a script it exports one tiny model (used by the benchmarks so
that the measuring process never imports TensorFlow):

    python benchmarks/bench_common.py export FORMAT PATH COMPUTE_SECONDS
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_DIR = ROOT / 'test' / 'support'
WORK = Path(os.environ.get('BENCH_WORK', '/tmp/bench_work'))
MODELS = WORK / 'models'

for _path in (str(ROOT), str(TEST_DIR)):
    if _path not in sys.path:
        sys.path.insert(1, _path)

FORMAT_EXPORTERS = {
    'tf2_od_api': ('export_tf2_od_saved_model', ''),
    'tf1_frozen_graph': ('export_tf1_frozen_graph', '.pb'),
    'tf1_od_api': ('export_tf1_saved_model', ''),
    'model_garden': ('export_model_garden', ''),
}


# --- machine and reporting -----------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def load_average() -> str:
    return ' '.join(f'{v:.2f}' for v in os.getloadavg())


def machine_lines(argv=None) -> list[str]:
    """What a results table needs next to it: machine, load, command and date."""
    argv = sys.argv if argv is None else argv
    return [
        f'date: {datetime.datetime.now().astimezone().isoformat(timespec="seconds")}',
        f'machine: nproc={os.cpu_count()}, CPU {cpu_model()}, Python {platform.python_version()}',
        f'load average (1/5/15 min) at start: {load_average()}',
        f'command: {Path(sys.executable).name} {" ".join(shlex.quote(a) for a in argv)}',
    ]


def print_header(title: str, argv=None):
    print(f'## {title}')
    for line in machine_lines(argv):
        print(f'- {line}')
    print(flush=True)


def markdown_table(headers, rows) -> str:
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + '---|' * len(headers)]
    lines += ['| ' + ' | '.join(str(cell) for cell in row) + ' |' for row in rows]
    return '\n'.join(lines)


def percentile(values, q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; nan for no values."""
    values = sorted(values)
    if not values:
        return float('nan')
    position = (len(values) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def median(values) -> float:
    return percentile(values, 50.0)


def save_json(name: str, data) -> Path:
    """Write raw results under the scratch folder (for the plot and for inspection)."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / name
    path.write_text(json.dumps(data, indent=1))
    return path


# --- models --------------------------------------------------------------------------------

def model_path(model_format: str, compute_seconds: float, **options) -> str:
    """A tiny exported model, built once into the scratch folder in a separate process."""
    suffix = FORMAT_EXPORTERS[model_format][1]
    extra = ''.join(f'_{k}{v}' for k, v in sorted(options.items()))
    path = MODELS / f'{model_format}_T{compute_seconds:g}{extra}{suffix}'
    if not path.exists():
        MODELS.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, __file__, 'export', model_format, str(path),
                   str(compute_seconds), json.dumps(options)]
        subprocess.run(command, check=True, env=ros_environment(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return str(path)


def _export(model_format: str, path: str, compute_seconds: str, options: str = '{}'):
    import tiny_models

    function = getattr(tiny_models, FORMAT_EXPORTERS[model_format][0])
    kw = json.loads(options)
    if 'classes' in kw:
        kw['classes'] = tuple((c[0], tuple(c[1]), c[2]) for c in kw['classes'])
    function(path, compute_seconds=float(compute_seconds), **kw)


# --- processes -----------------------------------------------------------------------------

def ros_environment() -> dict:
    """Environment for every ROS process of one benchmark run: its own DDS domain, localhost."""
    env = os.environ.copy()
    env.setdefault('ROS_DOMAIN_ID', str(101 + os.getpid() % 100))
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    return env


def add_dds_arguments(parser):
    """The `--dds-profile` option: a Fast DDS XML profile for every process of the run."""
    parser.add_argument(
        '--dds-profile', metavar='XML',
        help='Fast DDS profile file for all processes, e.g. '
             'instance_segmentation_ros/data/fastdds_large_frames.xml (what the nodes use '
             'by themselves); default: benchmarks/fastdds_defaults.xml (Fast DDS defaults)')


def apply_dds_profile(path: str | None) -> str:
    """Use a Fast DDS profile in this process and every process it starts; returns a label."""
    if not path:  # set, so that the nodes do not apply their own large-frame profile
        os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(
            Path(__file__).resolve().parent / 'fastdds_defaults.xml')
        return 'Fast DDS defaults'
    path = str(Path(path).resolve())
    if not Path(path).is_file():
        raise SystemExit(f'no such DDS profile: {path}')
    os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = path
    return f'Fast DDS profile {Path(path).name}'


def use_ros_environment():
    """Apply `ros_environment` to this process (call before rclpy.init)."""
    os.environ.update(ros_environment())


class SpinningNode:
    """A ROS node of this process in a context of its own, spun by a background thread.

    The tests' `SpinningGraph` with one node: subclasses create their publishers and
    subscriptions on `self.node`, which is already being spun.
    """

    def __init__(self, name: str):
        import rclpy
        from ros_helpers import SpinningGraph

        use_ros_environment()
        self.rclpy = rclpy
        self._graph = SpinningGraph()
        self.context = self._graph.context
        self.node = self._graph.node(name)
        self.lock = threading.Lock()

    def close(self):
        self._graph.close()


def console_script(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    raise SystemExit(f'{name} not found beside {sys.executable}: install the package '
                     f'(pip install -e .) into this environment')


def start(command: list[str], log_name: str) -> subprocess.Popen:
    """Start a process in its own session, its output going to a log in the scratch folder."""
    WORK.mkdir(parents=True, exist_ok=True)
    log = open(WORK / log_name, 'w')  # noqa: SIM115 - closed by `stop`
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               env=ros_environment(), start_new_session=True)
    process.log = log
    return process


def stop(process: subprocess.Popen, timeout: float = 15.0) -> int:
    """SIGINT (Fast DDS then cleans its shared memory), SIGKILL only if it will not stop."""
    import signal

    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.log.close()
    return process.returncode


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB (VmRSS)."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024.0
    return float('nan')


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


if __name__ == '__main__':
    if len(sys.argv) >= 5 and sys.argv[1] == 'export':
        _export(*sys.argv[2:])
    else:
        raise SystemExit(__doc__)
