"""depth_scenes: an RGB-D folder comes with the calibration of the camera its depth is for."""

import cv2
import numpy as np
import pytest

from instance_segmentation_ros.core.camera_info import load_calibration
from instance_segmentation_ros.demo.depth_scenes import (
    CALIBRATION_FILE,
    CAMERA,
    scene_camera,
    write_rgbd_scenes,
)
from instance_segmentation_ros.demo.scenes import SceneSettings


def test_an_rgbd_folder_holds_its_camera_calibration(tmp_path):
    names = write_rgbd_scenes(tmp_path, 2, seed=4)
    for name in names:
        assert cv2.imread(str(tmp_path / f'{name}.png')).shape == (240, 320, 3)
        assert cv2.imread(str(tmp_path / f'{name}_depth.png'), cv2.IMREAD_UNCHANGED).dtype == \
            np.uint16
    calibration = load_calibration(str(tmp_path / CALIBRATION_FILE))
    assert (calibration['width'], calibration['height']) == (320, 240)
    assert calibration['k'] == pytest.approx([CAMERA.fx, 0, CAMERA.cx, 0, CAMERA.fy, CAMERA.cy,
                                              0, 0, 1])
    assert calibration['d'] == [0.0] * 5


def test_the_calibration_follows_the_scene_size(tmp_path):
    write_rgbd_scenes(tmp_path, 1, settings=SceneSettings(width=640, height=480))
    calibration = load_calibration(str(tmp_path / CALIBRATION_FILE))
    camera = scene_camera(640, 480)
    assert (calibration['width'], calibration['height']) == (640, 480)
    assert (calibration['k'][2], calibration['k'][5]) == (camera.cx, camera.cy) == (319.5, 239.5)
