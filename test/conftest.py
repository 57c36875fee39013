"""Shared pytest set-up: isolate the DDS traffic of this test run from anything else."""

import os

# Each pytest process gets its own DDS domain and stays on the loopback interface, so that
# concurrent runs on one machine never see each other's topics (DESIGN section 5).
os.environ.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
