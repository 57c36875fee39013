"""Shared pytest set-up: the two tiers by folder, and DDS traffic isolated from other runs.

`test/unit/` is the fast tier: plain Python, numpy and OpenCV, no DDS traffic, processes, X
server or model exports, and it imports nothing of `test/integration/`. Everything under
`test/integration/` is marked `integration`. Helpers shared by tests live in `test/support/`
(on the path through pyproject.toml); no test module imports another.
"""

import fcntl
import os
import tempfile
from pathlib import Path

import pytest

DOMAIN_IDS = range(1, 102)  # the ids Fast DDS can use besides 0, the default


def claim_domain_id() -> tuple[int, object]:
    """A DDS domain id no other test run on this machine holds, with the lock that holds it.

    Two test runs at once on one machine (CI beside a developer, two venvs) must never hear
    each other's nodes; an id from the process id collided now and then. The lock is a file
    lock, so it goes with the process, however that ends.
    """
    for domain_id in DOMAIN_IDS:
        path = os.path.join(tempfile.gettempdir(),
                            f'instance_segmentation_ros_tests_domain_{domain_id}.lock')
        lock = open(path, 'w')  # held open for the life of the process
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        return domain_id, lock
    raise RuntimeError(f'every DDS domain id in {DOMAIN_IDS} is held by another test run')


# Each pytest process gets its own DDS domain and stays on the loopback interface, so that
# concurrent runs on one machine never see each other's topics.
if 'ROS_DOMAIN_ID' not in os.environ:
    _domain_id, _DOMAIN_LOCK = claim_domain_id()
    os.environ['ROS_DOMAIN_ID'] = str(_domain_id)
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


INTEGRATION = Path(__file__).resolve().parent / 'integration'


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makemodule(module_path, parent):
    """Keeps a module's skip or import error to that module.

    launch_testing's pytest plugin imports every test module while pytest collects the folder,
    to find launch tests; a module that skips at import (TrackEval, vision_msgs not installed)
    or fails to import would then skip or break the whole folder, test files named on the
    command line too. Such a module is handed back to pytest's own collector, which imports it
    again and reports the skip or the error for it alone.
    """
    try:
        return (yield)
    except (Exception, pytest.skip.Exception):
        return pytest.Module.from_parent(parent, path=module_path)


def pytest_collection_modifyitems(items):
    for item in items:
        if INTEGRATION in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)
