"""Depth images aligned with the generated scenes, their camera, and the exact 3D truth.

Each shape is a flat plate at a known distance before a sloping wall, with the faults of real
depth sensors (noise, holes, flying pixels, stray readings). `write_rgbd_scenes` writes what
`folder_player` plays with `depth: true` and the CLI's `folder --depth-camera-info` reads,
with the camera's calibration beside the images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..core.depth3d import Intrinsics
from .scenes import Scene, SceneSettings, disc_mask, generate_scene

CALIBRATION_FILE = 'camera.yaml'


def scene_camera(width: int = 320, height: int = 240) -> Intrinsics:
    """The pinhole camera of scenes of this size: 500 px focal length, centred."""
    return Intrinsics(500.0, 500.0, (width - 1) / 2, (height - 1) / 2)


CAMERA = scene_camera()


def calibration_yaml(width: int = 320, height: int = 240) -> str:
    """The scenes' camera as camera_calibration YAML (camera_info_url, --depth-camera-info)."""
    k = scene_camera(width, height)
    return (f'image_width: {width}\nimage_height: {height}\ncamera_name: synthetic\n'
            f'camera_matrix: {{rows: 3, cols: 3, data: [{k.fx}, 0, {k.cx}, 0, {k.fy}, '
            f'{k.cy}, 0, 0, 1]}}\n'
            'distortion_model: plumb_bob\n'
            'distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n')


@dataclass
class DepthSettings:
    """The depth image's geometry (metres) and its sensor faults.

    Shapes lie at `near`..`far`; the wall behind them at `wall` at the top row and
    `wall + wall_slope` at the bottom. Noise has a standard deviation of `noise` at 1 m,
    growing with distance squared (as for stereo and structured light). `holes` blobs of
    1-3 px radius and a `dropout` fraction of single pixels read 0 (no depth); a `flying`
    fraction of the pixels along depth edges read a depth between the two sides; a `stray`
    fraction of all pixels read anything from 0.3 to 8 m.
    """

    near: float = 1.0
    far: float = 3.0
    wall: float = 4.0
    wall_slope: float = 1.0
    noise: float = 0.001
    holes: int = 8
    dropout: float = 0.01
    flying: float = 0.5
    stray: float = 0.002


@dataclass
class DepthScene:
    """A 16-bit depth image in millimetres (0 = no depth) and each instance's distance (m)."""

    depth_mm: np.ndarray
    distances: list[float]


def render_depth(scene: Scene, seed: int = 0, index: int = 0,
                 settings: DepthSettings | None = None) -> DepthScene:
    """The depth image aligned with `scene` (scene `index` of `seed`; the same gives the same)."""
    settings = settings or DepthSettings()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 1]))
    height, width = scene.image.shape[:2]
    ramp = np.linspace(0.0, settings.wall_slope, height, dtype=np.float64)[:, None]
    depth = np.repeat(settings.wall + ramp, width, axis=1)
    distances = sorted(rng.uniform(settings.near, settings.far, len(scene.instances)),
                       reverse=True)  # painted later = nearer, as it occludes
    for instance, distance in zip(scene.instances, distances, strict=True):
        depth[instance.mask] = distance
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))  # the pixel and 4 neighbours
    near, far = cv2.erode(depth, cross), cv2.dilate(depth, cross)
    edge = (far - near > 0.05) & (rng.uniform(size=depth.shape) < settings.flying)
    depth[edge] = rng.uniform(near[edge], far[edge])
    depth += rng.normal(0.0, 1.0, depth.shape) * settings.noise * depth ** 2
    stray = rng.uniform(size=depth.shape) < settings.stray
    depth[stray] = rng.uniform(0.3, 8.0, int(stray.sum()))
    depth[rng.uniform(size=depth.shape) < settings.dropout] = 0.0
    for _ in range(settings.holes):
        centre = (float(rng.uniform(0, width)), float(rng.uniform(0, height)))
        depth[disc_mask(height, width, centre, float(rng.uniform(1.0, 3.0)))] = 0.0
    depth_mm = np.clip(np.rint(depth * 1000.0), 0, 65535).astype(np.uint16)
    return DepthScene(depth_mm, [float(d) for d in distances])


def truth_3d(mask: np.ndarray, distance: float, intrinsics: Intrinsics
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centroid, box min, box max) in metres of the `mask` pixels of a plate at `distance`.

    The centroid is the mean of the rays through the pixels' centres; the box reaches the
    outer edges of the outermost pixels, and is flat in depth. `mask` is an instance's visible
    mask, or the part of a detected mask that truly is the instance.
    """
    rows, cols = np.nonzero(mask)
    k = intrinsics
    centroid = np.array([(cols.mean() - k.cx) / k.fx, (rows.mean() - k.cy) / k.fy, 1.0])
    low = np.array([(cols.min() - 0.5 - k.cx) / k.fx, (rows.min() - 0.5 - k.cy) / k.fy, 1.0])
    high = np.array([(cols.max() + 0.5 - k.cx) / k.fx, (rows.max() + 0.5 - k.cy) / k.fy, 1.0])
    return centroid * distance, low * distance, high * distance


def write_rgbd_scenes(folder: str | Path, count: int, seed: int = 0,
                      settings: SceneSettings | None = None,
                      depth_settings: DepthSettings | None = None) -> list[str]:
    """Write scenes 0..count-1 as NAME.png and NAME_depth.png (16-bit mm); returns the NAMEs.

    What folder_player plays with `depth: true`, with the camera's calibration beside the
    images in camera.yaml (`scene_camera` of the scenes' size).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for index in range(count):
        scene = generate_scene(seed, index, settings)
        name = f'scene_{seed}_{index:05d}'
        for path, image in ((folder / f'{name}.png', scene.bgr), (
                folder / f'{name}_depth.png',
                render_depth(scene, seed, index, depth_settings).depth_mm)):
            if not cv2.imwrite(str(path), image):
                raise OSError(f'cannot write {path}')
        names.append(name)
    settings = settings or SceneSettings()
    (folder / CALIBRATION_FILE).write_text(calibration_yaml(settings.width, settings.height))
    return names
