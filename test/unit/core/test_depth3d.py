"""depth3d and stamp_pairing without ROS: 3D of instances against scenes of known geometry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from instance_segmentation_ros.core.depth3d import (
    MAX_GRID_PIXELS,
    DepthError,
    Intrinsics,
    common_grid,
    locate_instances,
    thinned,
)
from instance_segmentation_ros.core.stamp_pairing import NearestStampPairing
from instance_segmentation_ros.demo import depth_scenes, scenes

CAMERA = Intrinsics(500.0, 500.0, 159.5, 119.5)  # a 320x240 camera of 35 degrees
CENTROID_TOLERANCE, BOX_TOLERANCE = 0.01, 0.02  # metres, at 1-3 m, as the README promises


def label_image(scene) -> np.ndarray:
    labels = np.zeros(scene.image.shape[:2], np.uint8)
    for number, instance in enumerate(scene.instances, start=1):
        labels[instance.mask] = number
    return labels


def errors(located, number, truth):
    centroid, low, high = truth
    row = number - 1
    return (np.abs(located.centroids[row] - centroid).max(),
            max(np.abs(located.box_min[row] - low).max(),
                np.abs(located.box_max[row] - high).max()))


@pytest.mark.parametrize('encoding', ['16UC1', '32FC1'])
def test_centroids_and_boxes_of_noisy_scenes_with_holes_are_within_tolerance(encoding):
    checked = 0
    for index in range(30):
        scene = scenes.generate_scene(3, index)
        depth = depth_scenes.render_depth(scene, 3, index)
        if encoding == '16UC1':
            values, scale = depth.depth_mm, 0.001
        else:  # metres, holes as NaN the way float drivers publish them
            values = np.where(depth.depth_mm > 0, depth.depth_mm / 1000.0, np.nan)
            values, scale = values.astype(np.float32), 1.0
        located = locate_instances(label_image(scene), values, scale, CAMERA,
                                   len(scene.instances))
        for number, (instance, distance) in enumerate(
                zip(scene.instances, depth.distances, strict=True), start=1):
            truth = depth_scenes.truth_3d(instance.mask, distance, CAMERA)
            centroid_error, box_error = errors(located, number, truth)
            assert centroid_error <= CENTROID_TOLERANCE, (index, number, centroid_error)
            assert box_error <= BOX_TOLERANCE, (index, number, box_error)
            assert located.median_depth[number - 1] == pytest.approx(distance, abs=0.01)
            checked += 1
    assert checked > 100


def test_flying_pixels_and_stray_depths_would_ruin_min_max_but_not_the_result():
    """The scenes' faults are real: the plain extent of every valid mask pixel is far off."""
    scene = scenes.generate_scene(3, 2)
    depth = depth_scenes.render_depth(scene, 3, 2)
    labels = label_image(scene)
    worst_plain = 0.0
    for number, distance in enumerate(depth.distances, start=1):
        values = depth.depth_mm[(labels == number) & (depth.depth_mm > 0)] / 1000.0
        worst_plain = max(worst_plain, values.max() - distance, distance - values.min())
    assert worst_plain > 0.5
    located = locate_instances(labels, depth.depth_mm, 0.001, CAMERA, len(scene.instances))
    assert np.all(np.abs(located.box_max[:, 2] - depth.distances) < BOX_TOLERANCE)


def test_a_tilted_plane_gives_its_exact_geometry_and_the_cloud_its_points():
    """A plane z = 2 + 0.5 x (x from the column), no noise: the centroid is the mean ray."""
    labels = np.zeros((60, 80), np.uint8)
    labels[10:30, 20:60] = 1
    labels[40:50, 5:15] = 2
    camera = Intrinsics(100.0, 100.0, 39.5, 29.5)
    cols = np.arange(80)[None, :].repeat(60, axis=0)
    depth = (2.0 + 0.5 * (cols - 39.5) / 100.0).astype(np.float32)
    located = locate_instances(labels, depth, 1.0, camera, 2, percentile=0.0,
                               with_cloud=True)
    rows, columns = np.nonzero(labels == 1)
    z = depth[rows, columns]
    x, y = (columns - 39.5) * z / 100.0, (rows - 29.5) * z / 100.0
    assert located.centroids[0] == pytest.approx([x.mean(), y.mean(), z.mean()], abs=1e-5)
    interior = depth[11:29, 21:59]  # the band comes from pixels inside the mask's border
    assert located.box_min[0, 2] == pytest.approx(interior.min(), abs=1e-6)
    assert located.box_max[0, 2] == pytest.approx(interior.max(), abs=1e-6)
    half_pixel = 0.5 * np.median(interior) / 100.0  # to the outer edge of the pixels
    assert located.box_min[0, 0] == pytest.approx(x.min() - half_pixel, abs=1e-4)
    assert located.box_max[0, 1] == pytest.approx(y.max() + half_pixel, abs=1e-4)
    assert located.points.tolist() == [800, 100]
    cloud = located.cloud
    assert cloud.shape == (900, 4) and cloud.dtype == np.float32
    assert sorted(np.unique(cloud[:, 3]).tolist()) == [1.0, 2.0]
    assert cloud[cloud[:, 3] == 1, :3].mean(axis=0) == pytest.approx(
        located.centroids[0], abs=1e-5)


def test_an_instance_with_too_few_valid_points_has_no_position():
    labels = np.zeros((20, 20), np.uint8)
    labels[2:8, 2:8] = 1
    labels[10:18, 10:18] = 2
    depth = np.full((20, 20), 1500, np.uint16)
    depth[2:8, 2:7] = 0  # instance 1: six pixels of depth left
    located = locate_instances(labels, depth, 0.001, Intrinsics(20, 20, 9.5, 9.5), 3,
                               min_points=10)
    assert not located.located(1) and located.points[0] == 0
    assert located.located(2) and located.points[1] == 64
    assert not located.located(3)  # no pixel at all
    assert located.median_depth[1] == pytest.approx(1.5)


def test_sizes_that_are_integer_multiples_share_a_grid_with_matching_intrinsics():
    labels = np.zeros((4, 6), np.uint8)
    labels[1, 2] = 7
    depth = np.arange(8 * 12, dtype=np.uint16).reshape(8, 12)
    camera = Intrinsics(10.0, 10.0, 5.5, 3.5)
    same_labels, sampled, grid_camera = common_grid(labels, depth, camera)
    assert same_labels is labels and sampled.shape == (4, 6)
    # Colour pixel (1, 2) reads depth pixel (3, 5), and both look along the same ray.
    assert sampled[1, 2] == depth[3, 5]
    assert (2 - grid_camera.cx) / grid_camera.fx == pytest.approx((5 - camera.cx) / camera.fx)
    assert (1 - grid_camera.cy) / grid_camera.fy == pytest.approx((3 - camera.cy) / camera.fy)
    big_labels = np.zeros((8, 12), np.uint8)
    big_labels[3, 5] = 1
    sampled_labels, same_depth, same_camera = common_grid(big_labels, depth[::2, ::2], camera)
    assert sampled_labels[1, 2] == 1 and same_camera is camera


def test_a_1280x720_frame_is_thinned_to_every_other_pixel_and_stays_within_tolerance():
    settings = scenes.SceneSettings(width=1280, height=720, min_size=120,
                                              max_size=400, min_area=2000)
    camera = Intrinsics(910.0, 910.0, 639.5, 359.5)
    checked = 0
    for index in range(3):
        scene = scenes.generate_scene(7, index, settings)
        depth = depth_scenes.render_depth(scene, 7, index)
        labels, values, grid_camera = thinned(label_image(scene), depth.depth_mm, camera)
        assert labels.shape == (360, 640) and labels.size <= MAX_GRID_PIXELS
        # Grid pixel (r, c) is frame pixel (2r + 1, 2c + 1), along the same ray.
        assert values[5, 7] == depth.depth_mm[11, 15]
        assert (7 - grid_camera.cx) / grid_camera.fx == pytest.approx((15 - 639.5) / 910.0)
        located = locate_instances(labels, values, 0.001, grid_camera, len(scene.instances))
        for number, (instance, distance) in enumerate(
                zip(scene.instances, depth.distances, strict=True), start=1):
            truth = depth_scenes.truth_3d(instance.mask, distance, camera)
            centroid_error, box_error = errors(located, number, truth)
            assert centroid_error <= CENTROID_TOLERANCE and box_error <= BOX_TOLERANCE
            checked += 1
    assert checked >= 6
    small = np.zeros((480, 640), np.uint8)
    assert thinned(small, small, camera)[0] is small  # 640x480 and smaller: every pixel


@pytest.mark.parametrize('depth_shape', [(5, 6), (8, 10), (12, 12)])
def test_sizes_that_are_not_integer_multiples_are_refused(depth_shape):
    with pytest.raises(DepthError) as raised:
        common_grid(np.zeros((4, 6), np.uint8), np.zeros(depth_shape, np.uint16),
                    Intrinsics(1, 1, 0, 0))
    assert raised.value.kind == 'size' and 'neither is an integer multiple' in str(raised.value)


def test_an_uncalibrated_camera_matrix_is_refused():
    with pytest.raises(DepthError) as raised:
        Intrinsics.from_k([0.0] * 9)
    assert raised.value.kind == 'camera_info'
    assert Intrinsics.from_k([500, 0, 320, 0, 400, 240, 0, 0, 1]) == Intrinsics(
        500.0, 400.0, 320.0, 240.0)


def test_depth_scenes_put_later_shapes_nearer_and_every_fault_in():
    scene = scenes.generate_scene(0, 1)
    depth = depth_scenes.render_depth(scene, 0, 1)
    assert depth.distances == sorted(depth.distances, reverse=True)
    assert all(1.0 <= d <= 3.0 for d in depth.distances)
    assert depth.depth_mm.dtype == np.uint16 and depth.depth_mm.shape == (240, 320)
    assert 0.005 < np.mean(depth.depth_mm == 0) < 0.05  # holes
    again = depth_scenes.render_depth(scenes.generate_scene(0, 1), 0, 1)
    assert np.array_equal(again.depth_mm, depth.depth_mm)


def test_pairing_takes_the_nearest_stamp_within_the_tolerance():
    pairing = NearestStampPairing(history=10, tolerance_ns=15)
    for stamp in (160, 100, 130):
        pairing.add(stamp, f'depth {stamp}')
    assert pairing.nearest(128) == (130, 'depth 130')
    assert pairing.nearest(141) == (130, 'depth 130')
    assert pairing.nearest(145) == (130, 'depth 130')  # a tie goes to the earlier
    assert pairing.nearest(84) is None and pairing.nearest(176) is None
    assert pairing.nearest(175) == (160, 'depth 160')


def test_pairing_keeps_the_newest_arrivals_and_replaces_a_repeated_stamp():
    pairing = NearestStampPairing(history=3, tolerance_ns=0)
    for stamp in (40, 10, 30, 20):  # out of order: the first to arrive goes first
        pairing.add(stamp, stamp)
    assert pairing.nearest(40) is None
    assert [pairing.nearest(s) for s in (10, 20, 30)] == [(10, 10), (20, 20), (30, 30)]
    pairing.add(20, 'again')
    assert pairing.nearest(20) == (20, 'again') and pairing.nearest(10) == (10, 10)


def test_a_mask_that_bleeds_two_pixels_onto_the_wall_keeps_its_geometry():
    """Mask R-CNN masks overrun edges; the background behind the jump in depth is left out."""
    checked = 0
    for index in range(10):
        scene = scenes.generate_scene(5, index)
        depth = depth_scenes.render_depth(scene, 5, index)
        labels = np.zeros(scene.image.shape[:2], np.uint8)
        for number, instance in enumerate(scene.instances, start=1):
            grown = cv2.dilate(instance.mask.astype(np.uint8), np.ones((5, 5), np.uint8))
            labels[(grown > 0) & (labels == 0)] = number  # over the wall only: earlier wins
        for number, instance in enumerate(scene.instances, start=1):
            labels[instance.mask] = number
        located = locate_instances(labels, depth.depth_mm, 0.001, CAMERA,
                                   len(scene.instances))
        for number, (instance, distance) in enumerate(
                zip(scene.instances, depth.distances, strict=True), start=1):
            bleeding = (labels == number) & ~instance.mask
            if not 0.1 <= bleeding.sum() / instance.mask.sum() <= 0.3:  # a small shape's ring
                continue  # is most of it: it is then as much the wall as the shape
            checked += 1
            truly_it = (labels == number) & instance.mask
            truth = depth_scenes.truth_3d(truly_it, distance, CAMERA)
            centroid_error, box_error = errors(located, number, truth)
            assert centroid_error <= CENTROID_TOLERANCE and box_error <= BOX_TOLERANCE, (
                index, number, centroid_error, box_error)
    assert checked >= 20
