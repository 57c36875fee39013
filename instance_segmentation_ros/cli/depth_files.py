"""The folder command's RGB-D images: each image's NAME_depth.png gives its instances' 3D."""

from __future__ import annotations

from pathlib import Path

from ..core.image_files import depth_file_for, read_depth_file


class DepthLocator:
    """Instances in 3D from each image's depth file; the images that got none, and why.

    The depth files are 16-bit millimetres aligned to their images, of the size and intrinsics
    of a camera_calibration YAML (--depth-camera-info).
    """

    def __init__(self, camera_info: str):
        from ..core.camera_info import load_calibration
        from ..core.depth3d import Intrinsics

        calibration = load_calibration(camera_info)
        self.intrinsics = Intrinsics.from_k(calibration['k'])
        self.size = (calibration['height'], calibration['width'])
        self.without_depth: list[tuple[str, str]] = []  # (image file name, reason)

    def locate(self, path: Path, segmentation):
        """The instances' 3D from the image's depth file, or None (listed) without a usable one."""
        from ..core.depth3d import METRES_PER_UNIT, DepthError, locate_instances, measurement_grid

        depth_path = depth_file_for(path)
        depth, reason = read_depth_file(depth_path)
        if depth is None:
            self.without_depth.append((path.name, f'{Path(depth_path).name} is {reason}'))
            return None
        if depth.shape != self.size:
            self.without_depth.append((path.name, f'{Path(depth_path).name} is '
                                       f'{depth.shape[1]}x{depth.shape[0]}, the camera info '
                                       f'{self.size[1]}x{self.size[0]}'))
            return None
        instances = segmentation.instances
        try:
            labels, grid_depth, grid = measurement_grid(instances.label_image, depth,
                                                        self.intrinsics)
        except DepthError as error:
            self.without_depth.append((path.name, str(error)))
            return None
        return locate_instances(labels, grid_depth, METRES_PER_UNIT['16UC1'], grid,
                                len(instances))
