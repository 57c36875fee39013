"""Style checks run by the test command: ruff with the ament flake8/pep257 conventions.

ament_flake8 and ament_pep257 enforce line length 99, single quotes and pep257 docstrings;
pyproject.toml configures ruff to the same rules, so `pytest` and `colcon test` check style
wherever the package is tested.
"""

import importlib.util
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.linter
@pytest.mark.skipif(importlib.util.find_spec('ruff') is None,
                    reason='ruff is not installed (pip install ruff)')
def test_ruff():
    result = subprocess.run(
        [sys.executable, '-m', 'ruff', 'check', '--no-cache', '--output-format', 'concise',
         'instance_segmentation_ros', 'test', 'launch', 'benchmarks', 'setup.py'],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_test_modules_have_unique_names():
    """No two test modules share a file name, wherever they are.

    test/ has no packages, so pytest imports each test module by its file name alone: two
    files of one name in different folders cannot be collected in one run.
    """
    names = Counter(path.name for path in (ROOT / 'test').rglob('test_*.py'))
    assert [name for name, count in names.items() if count > 1] == []
