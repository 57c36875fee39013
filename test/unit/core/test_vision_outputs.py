"""The contents of the vision_msgs outputs: each instance's 2D and 3D detection, the classes."""

import numpy as np

from instance_segmentation_ros.core.depth3d import Instances3D
from instance_segmentation_ros.core.detections import Instances
from instance_segmentation_ros.core.labels import coco_label_map
from instance_segmentation_ros.core.vision_outputs import (
    detection_id,
    detections_2d,
    detections_3d,
    label_classes,
)


def two_instances():
    """Instances 1 (person) and 2 (car); only the first has a 3D position."""
    instances = Instances(np.zeros((4, 4), np.uint8), np.array([[1, 2, 5, 10], [0, 0, 4, 4]]),
                          np.array([1, 3]), np.array([0.9, 0.8]), np.ones(2))
    low = np.array([[0.0, 0.0, 1.0], [np.nan] * 3], np.float32)
    high = np.array([[0.2, 0.4, 1.2], [np.nan] * 3], np.float32)
    located = Instances3D(np.array([[0.1, 0.2, 1.05], [np.nan] * 3], np.float32), low, high,
                          np.array([50, 0]), np.array([1.1, np.nan], np.float32))
    return instances, located


def test_each_instance_is_a_2d_detection_with_its_box_centre_and_size_in_pixels():
    instances, _ = two_instances()
    first, second = detections_2d(instances, coco_label_map())
    assert (first.detection_id, first.centre, first.size) == ('1', (3.0, 6.0), (4.0, 8.0))
    assert (first.class_name, second.class_name) == ('person', 'car')
    assert np.isclose(first.score, 0.9) and second.detection_id == '2'


def test_only_located_instances_are_3d_detections_with_the_2d_id():
    instances, located = two_instances()
    (only,) = detections_3d(instances, located, coco_label_map())
    assert only.detection_id == '1' and only.class_name == 'person'
    assert np.allclose(only.centre, (0.1, 0.2, 1.1)) and np.allclose(only.size, (0.2, 0.4, 0.2))
    assert np.allclose(only.centroid, (0.1, 0.2, 1.05))


def test_track_ids_name_detections_and_an_unconfirmed_one_has_none():
    assert detection_id(2, np.array([7, 0])) == ''
    assert detection_id(1, np.array([7, 0])) == '7'
    assert detection_id(1, None) == '1'


def test_label_classes_are_the_label_map_by_class_id():
    classes = label_classes(coco_label_map())
    assert classes[0] == (1, 'person')
    assert [class_id for class_id, _ in classes] == sorted(c for c, _ in classes)
