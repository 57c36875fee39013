"""The contents of the 3D outputs: each located instance's marker, and the packed points."""

import numpy as np

from instance_segmentation_ros.core.depth3d import Instances3D
from instance_segmentation_ros.core.depth_outputs import (
    THINNEST_BOX,
    UNCONFIRMED_MARKER_ID,
    cloud_points,
    instance_markers,
)
from instance_segmentation_ros.core.detections import Instances
from instance_segmentation_ros.core.labels import coco_label_map


def three_instances():
    """Instances 1..3 (person, car, person); instance 2 has no 3D, instance 3 is flat."""
    instances = Instances(np.zeros((4, 4), np.uint8), np.zeros((3, 4)), np.array([1, 3, 1]),
                          np.array([0.9, 0.8, 0.7]), np.ones(3))
    low = np.array([[0.0, 0.0, 1.0], [np.nan] * 3, [1.0, 1.0, 2.0]], np.float32)
    high = np.array([[0.2, 0.4, 1.2], [np.nan] * 3, [1.2, 1.2, 2.0]], np.float32)
    located = Instances3D((low + high) / 2, low, high, np.array([50, 0, 40]),
                          np.array([1.1, np.nan, 2.0], np.float32))
    return instances, located


def test_each_located_instance_has_a_box_and_a_label_above_it():
    instances, located = three_instances()
    first, third = instance_markers(instances, located, coco_label_map())
    assert (first.marker_id, third.marker_id) == (1, 3)
    assert np.allclose(first.box_centre, (0.1, 0.2, 1.1))
    assert np.allclose(first.box_scale, (0.2, 0.4, 0.2))
    assert third.box_scale[2] == THINNEST_BOX  # rviz draws no cube with a zero side
    assert np.allclose(first.label_position, (0.1, -0.08, 1.0))
    assert first.text == 'person 0.90'
    assert all(0.0 <= channel <= 1.0 for channel in first.rgb)


def test_track_ids_name_the_markers_and_unconfirmed_ones_stay_apart():
    instances, located = three_instances()
    first, third = instance_markers(instances, located, coco_label_map(),
                                    np.array([7, 0, 0]))
    assert (first.marker_id, first.text) == (7, 'person #7 0.90')
    assert third.marker_id == UNCONFIRMED_MARKER_ID + 3


def test_points_are_packed_as_x_y_z_and_instance():
    points = cloud_points(np.array([[0.5, -0.25, 2.0, 3.0]], np.float32))
    assert points.itemsize == 16
    assert points[0].tolist() == (0.5, -0.25, 2.0, 3)
