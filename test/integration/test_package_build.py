"""The package builds as a ROS 2 workspace package with colcon, installing what ROS tools read."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXECUTABLES = ('segmentation_node', 'segmentation_lifecycle_node', 'webcam_publisher',
               'folder_player', 'instance_segmentation')


def colcon() -> str | None:
    beside = Path(sys.executable).parent / 'colcon'
    return str(beside) if beside.exists() else shutil.which('colcon')


@pytest.mark.skipif(colcon() is None, reason='colcon is not installed')
def test_colcon_build_installs_executables_launch_and_config(tmp_path):
    source = tmp_path / 'src' / 'instance_segmentation_ros'
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        '.git', '.venv', 'build', 'install', 'log', '*.egg-info', '__pycache__'))
    result = subprocess.run([colcon(), 'build', '--event-handlers', 'console_cohesion-'],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    prefix = tmp_path / 'install' / 'instance_segmentation_ros'
    for executable in EXECUTABLES:  # where `ros2 run` looks
        assert (prefix / 'lib' / 'instance_segmentation_ros' / executable).is_file()
    share = prefix / 'share' / 'instance_segmentation_ros'
    assert (share / 'package.xml').is_file()
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages'
            / 'instance_segmentation_ros').is_file()
    for launch_file in (ROOT / 'launch').glob('*.launch.py'):
        assert (share / 'launch' / launch_file.name).is_file()
    for config_file in [*(ROOT / 'config').glob('*.yaml'), *(ROOT / 'config').glob('*.rviz')]:
        assert (share / 'config' / config_file.name).is_file()
    data = next(prefix.glob('lib/python*/site-packages/instance_segmentation_ros/data'), None)
    assert data is not None, 'run-time data must be installed inside the Python package'
    # instance_segmentation runs instance_segmentation_ros.cli, a package of its own.
    assert (data.parent / 'cli' / '__init__.py').is_file(), 'the cli package is not installed'
    for name in ('mscoco_label_map.pbtxt', 'sample.jpg', 'fastdds_large_frames.xml',
                 'demo_model/labels.txt', 'demo_model/saved_model/saved_model.pb',
                 'demo_model/saved_model/variables/variables.index'):
        assert (data / name).is_file(), f'{name} is not installed'
