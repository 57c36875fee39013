"""Mask R-CNN instance segmentation for ROS 2 camera images."""
