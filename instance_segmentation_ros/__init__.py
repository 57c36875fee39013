"""Mask R-CNN instance segmentation for ROS 2 camera images."""

from importlib import resources


def data_file(*parts: str):
    """A file shipped in the package's `data/` folder (a Traversable; `str()` gives its path)."""
    return resources.files(__name__).joinpath('data', *parts)
