"""The README's `ros2` commands, run as a user types them: launch, param, topic.

Needs the `ros2` command with the launch verbs (a ROS 2 install, or the README's ROS tools for
the pip set-up) and this package in the ament index; skipped without them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from ros_helpers import ros2

from instance_segmentation_ros.demo.coco_truth import write_coco_dataset

PACKAGE = 'instance_segmentation_ros'


def installed(package: str) -> bool:
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError:
        return False
    try:
        get_package_prefix(package)
    except (PackageNotFoundError, OSError):  # OSError: no AMENT_PREFIX_PATH at all
        return False
    return True


pytestmark = [
    pytest.mark.skipif(ros2() is None, reason='the ros2 command is not installed (no PyPI wheel)'),
    pytest.mark.skipif(not installed('ros2launch') or not installed(PACKAGE),
                       reason=f'ros2 launch or {PACKAGE} is not in the ament index (no PyPI '
                              'wheel: scripts/add_ros_tools.sh adds them to a venv)'),
]


def hear_ctrl_c():
    """In the child: SIGINT as in a terminal, even where the tests were started in the background.

    A shell starts background commands with SIGINT ignored, an ignored signal stays ignored
    through exec, and `ros2 launch` then cannot be stopped with Ctrl+C's signal.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Launch:
    """`ros2 launch ...` in a process group of its own, so that every child can be found."""

    def __init__(self, *arguments: str, env: dict[str, str] | None = None):
        self.process = subprocess.Popen(
            [ros2(), 'launch', PACKAGE, *arguments], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
            preexec_fn=hear_ctrl_c,
            env=dict(os.environ, RCUTILS_COLORIZED_OUTPUT='0', PYTHONUNBUFFERED='1',
                     **(env or {})))

    def finish(self, timeout: float, sig=None) -> tuple[int, str]:
        if sig is not None:
            self.process.send_signal(sig)
        output, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, output

    def survivors(self) -> list[str]:
        """Command lines of processes of the launch's group still running after it ended."""
        group = self.process.pid
        alive = []
        for entry in Path('/proc').iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) != group:
                    continue
                state = (entry / 'stat').read_text().rsplit(')', 1)[1].split()[0]
                command = (entry / 'cmdline').read_bytes().replace(b'\0', b' ').decode()
            except (OSError, ProcessLookupError):
                continue
            if state != 'Z':
                alive.append(command)
        return alive

    def close(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.communicate()
        try:
            os.killpg(self.process.pid, signal.SIGINT)  # orphans, if a test failed
        except ProcessLookupError:
            pass


@pytest.fixture
def launched():
    started = []

    def start(*arguments, env=None):
        started.append(Launch(*arguments, env=env))
        return started[-1]

    yield start
    for launch in started:
        launch.close()


@pytest.mark.skipif(installed('rviz2'), reason='rviz2 is installed: it would open a window')
def test_demo_with_rviz_missing_says_so_and_runs_to_the_end(launched, tmp_path):
    launch = launched('demo.launch.py', 'rviz:=true', 'count:=2', 'rate:=10.0',
                      f'scenes_folder:={tmp_path}')
    code, output = launch.finish(timeout=180)
    assert code == 0, output
    notices = [line for line in output.splitlines() if 'rviz2 is not installed' in line]
    assert len(notices) == 1, output
    assert f"done with '{tmp_path}': published 2 images, skipped 0, 0 wait timeouts" in output
    assert launch.survivors() == []


@pytest.mark.skipif(installed('ros2bag'), reason='rosbag2 is installed')
def test_record_without_rosbag2_stops_before_starting_anything(launched, tmp_path):
    write_coco_dataset(tmp_path, 1)
    launch = launched('folder.launch.py', f'folder:={tmp_path}', 'record:=true',
                      f'bag_path:={tmp_path / "bag"}')
    code, output = launch.finish(timeout=60)
    assert code == 1, output
    errors = [line for line in output.splitlines() if 'ERROR' in line]
    assert len(errors) == 1 and 'needs rosbag2' in errors[0], output
    assert 'process started' not in output and 'Traceback' not in output
    assert launch.survivors() == []
    assert not (tmp_path / 'bag').exists()


def test_a_refused_launch_argument_stops_the_launch_before_anything_starts(launched, tmp_path):
    launch = launched('webcam.launch.py', f'device:={tmp_path / "video.avi"}', 'classes:=[a, b')
    code, output = launch.finish(timeout=60)
    assert code == 1, output
    errors = [line for line in output.splitlines() if 'ERROR' in line]
    assert len(errors) == 1 and "classes:='[a, b' is not valid" in errors[0], output
    assert 'process started' not in output
    assert launch.survivors() == []


def test_multi_camera_lists_of_the_wrong_length_stop_the_launch_before_anything_starts(
        launched, tmp_path):
    launch = launched('multi_camera.launch.py', 'cameras:=[left, right]',
                      f'folders:=[{tmp_path}]')
    code, output = launch.finish(timeout=60)
    assert code == 1, output
    errors = [line for line in output.splitlines() if 'ERROR' in line]
    assert len(errors) == 1, output
    assert 'launch argument folders has 1 entries for the 2 cameras [left, right]' in errors[0]
    assert 'process started' not in output
    assert launch.survivors() == []


NO_MODEL = '/nonexistent/model'
MISSING_MODEL = f"model_path '{NO_MODEL}' does not exist"
FAILED = 'ended with exit status 1: ending the launch'


def failing_launches(folder: Path) -> dict[str, tuple[list[str], str]]:
    """Launches whose node fails at start-up: their arguments, and the node's error line."""
    return {
        'segmentation-missing-model': (['segmentation.launch.py', f'model_path:={NO_MODEL}'],
                                       MISSING_MODEL),
        'segmentation-unknown-classes': (['segmentation.launch.py', 'classes:=[person, car]'],
                                         "unknown class 'person', 'car'"),
        'folder-missing-model': (['folder.launch.py', f'folder:={folder}',
                                  f'model_path:={NO_MODEL}'], MISSING_MODEL),
        'folder-unknown-class': (['folder.launch.py', f'folder:={folder}', 'classes:=[person]'],
                                 "unknown class 'person'"),
        # The webcam retries a source that does not open, for ever (reconnect: true).
        'webcam-missing-model': (['webcam.launch.py', f'device:={folder / "missing.mp4"}',
                                  f'model_path:={NO_MODEL}'], MISSING_MODEL),
        'multi-camera-missing-model': (['multi_camera.launch.py', f'model_path:={NO_MODEL}'],
                                       MISSING_MODEL),
        'multi-camera-folders-missing-model': (
            ['multi_camera.launch.py', f'folders:=[{folder}, {folder}]',
             f'model_path:={NO_MODEL}'], MISSING_MODEL),
    }


@pytest.mark.parametrize('case', list(failing_launches(Path('images'))))
def test_a_node_that_fails_at_start_ends_the_launch_with_status_1(launched, tmp_path, case):
    write_coco_dataset(tmp_path, 1)
    arguments, node_error = failing_launches(tmp_path)[case]
    launch = launched(*arguments)
    code, output = launch.finish(timeout=180)  # the node fails in seconds; a hang ends here
    assert code == 1, output
    assert node_error in output
    assert len([line for line in output.splitlines() if FAILED in line]) == 1, output
    assert 'Traceback' not in output
    assert launch.survivors() == []


def test_a_player_that_fails_ends_the_folder_launch_with_status_1(launched, tmp_path):
    launch = launched('folder.launch.py', f'folder:={tmp_path / "missing"}')
    code, output = launch.finish(timeout=180)
    assert code == 1, output
    assert f"folder '{tmp_path / 'missing'}' does not exist" in output
    assert f'folder_player-2 {FAILED}' in output
    assert launch.survivors() == []


def test_a_camera_that_fails_ends_the_webcam_launch_with_status_1(launched, tmp_path):
    camera_params = tmp_path / 'webcam.yaml'
    camera_params.write_text('/**:\n  ros__parameters:\n    reconnect: false\n')
    device = tmp_path / 'missing.mp4'
    launch = launched('webcam.launch.py', f'device:={device}',
                      f'camera_params_file:={camera_params}')
    code, output = launch.finish(timeout=180)
    assert code == 1, output
    assert f'webcam_publisher-2 {FAILED}' in output
    assert launch.survivors() == []


def demo_folders(folder: Path) -> list[Path]:
    return list(folder.glob('instance_segmentation_demo_*'))


def test_the_demo_ends_with_status_0_and_deletes_its_scenes(launched, tmp_path):
    launch = launched('demo.launch.py', 'count:=2', 'rate:=10.0', env={'TMPDIR': str(tmp_path)})
    code, output = launch.finish(timeout=180)
    assert code == 0, output
    assert 'published 2 images, skipped 0, 0 wait timeouts' in output
    assert demo_folders(tmp_path) == []
    assert launch.survivors() == []


def test_the_demo_stopped_with_ctrl_c_ends_with_status_0_and_deletes_its_scenes(
        launched, tmp_path):
    launch = launched('demo.launch.py', 'count:=20', 'rate:=0.2', env={'TMPDIR': str(tmp_path)})
    deadline = time.monotonic() + 180
    while not (demo_folders(tmp_path) and list(demo_folders(tmp_path)[0].glob('*.png'))):
        assert launch.process.poll() is None and time.monotonic() < deadline, \
            launch.finish(timeout=30)[1]
        time.sleep(0.2)
    code, output = launch.finish(timeout=60, sig=signal.SIGINT)
    assert code == 0, output
    assert demo_folders(tmp_path) == []
    assert launch.survivors() == []


def run_ros2(*arguments: str, timeout: float = 60) -> str:
    result = subprocess.run([ros2(), *arguments], capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_readme_param_and_topic_commands_on_a_launched_node(launched):
    launch = launched('segmentation.launch.py', 'image_topic:=/camera/image_raw')
    node = '/segmentation/segmentation_node'
    deadline = time.monotonic() + 120
    while node not in run_ros2('node', 'list') and time.monotonic() < deadline:
        assert launch.process.poll() is None, launch.finish(timeout=10)[1]
        time.sleep(1.0)
    assert 'Set parameter successful' in run_ros2('param', 'set', node, 'classes',
                                                  '[circle, square]')
    assert 'circle' in run_ros2('param', 'get', node, 'classes')
    assert 'Set parameter successful' in run_ros2('param', 'set', node, 'score_threshold',
                                                  '0.7')
    refused = subprocess.run([ros2(), 'param', 'set', node, 'classes', '[person]'],
                             capture_output=True, text=True, timeout=60)
    assert "unknown class 'person'" in refused.stdout + refused.stderr
    # The README's ways to set classes: ros2 param set sends "[]" as a bool array, "[1, square]"
    # as one string and "[1, 3]" as integers; each is the list it spells.
    for value, names in [('[]', []), ('[1, square]', ['1', 'square']), ('[1, 3]', ['1', '3']),
                         ('square', ['square'])]:
        assert 'Set parameter successful' in run_ros2('param', 'set', node, 'classes', value)
        assert f'String values are: {names}' in run_ros2('param', 'get', node, 'classes')
    refused = subprocess.run([ros2(), 'param', 'set', node, 'classes', "['']"],
                             capture_output=True, text=True, timeout=60)
    assert '"[]" keeps every class' in refused.stdout + refused.stderr
    topics = run_ros2('topic', 'list')
    for topic in ('/segmentation/masks', '/segmentation/detections',
                  '/segmentation/detections_json', '/segmentation/overlay',
                  '/segmentation/label_info'):
        assert topic in topics.split(), topics
    code, output = launch.finish(timeout=30, sig=signal.SIGINT)
    assert code == 0, output
    assert launch.survivors() == []
