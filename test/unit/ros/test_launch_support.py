"""launch_support: importable where the package is not in the ament index.

Needs the `launch` packages (a ROS 2 install, or the README's ROS tools for the pip set-up);
skipped without them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip('launch', reason='launch is not installed (no PyPI wheel)')
pytest.importorskip('launch_ros', reason='launch_ros is not installed (no PyPI wheel)')

ROOT = Path(__file__).resolve().parents[3]


def test_importing_needs_no_ament_index_and_the_share_folder_is_looked_up_on_use(tmp_path):
    """An empty ament index: the import works, and only config_file says the package is missing."""
    # Set in the script: a ROS-tools venv adds itself to AMENT_PREFIX_PATH at start-up.
    script = '\n'.join([
        'import os',
        f'os.environ["AMENT_PREFIX_PATH"] = {str(tmp_path)!r}',
        'from ament_index_python.packages import PackageNotFoundError',
        'from instance_segmentation_ros.ros import launch_support',
        'try:',
        "    launch_support.config_file('segmentation.yaml')",
        'except PackageNotFoundError:',
        "    print('not in the index')",
    ])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            env=env, timeout=120)
    assert (result.returncode, result.stdout) == (0, 'not in the index\n'), result.stderr
