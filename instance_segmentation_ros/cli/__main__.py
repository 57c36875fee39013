"""python -m instance_segmentation_ros.cli: the instance-segmentation command."""

import sys

from . import main

sys.exit(main())
