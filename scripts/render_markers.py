"""Draw what rviz would show of `segmentation_node`'s 3D markers, without rviz (not built here).

One synthetic RGB-D scene (`synthetic_scenes`: shapes at known distances before a wall, with
depth noise and holes) goes through the same code as the node with `depth.enabled`: the
built-in model, `depth3d.locate_instances` and `depth_msgs.to_marker_array`. The MarkerArray's
boxes and labels are then drawn over the scene's point cloud, seen from a virtual camera above
and to the left of the real one, next to the node's 2D overlay:

    .venv/bin/python scripts/render_markers.py docs/rgbd_markers.jpg
"""

from __future__ import annotations

import argparse
import itertools

import cv2
import numpy as np

from instance_segmentation_ros.core.depth3d import METRES_PER_UNIT, Intrinsics, locate_instances
from instance_segmentation_ros.core.detections import PostprocessSettings
from instance_segmentation_ros.core.labels import load_label_map
from instance_segmentation_ros.core.render import draw_shadowed_text
from instance_segmentation_ros.demo import depth_scenes, scenes
from instance_segmentation_ros.demo.depth_scenes import CAMERA
from instance_segmentation_ros.model.segmenter import Segmenter
from instance_segmentation_ros.model.source import with_builtin_defaults
from instance_segmentation_ros.model.tensorflow_model import SegmentationModel
from instance_segmentation_ros.ros import depth_msgs

VIEW_SIZE = (640, 480)
VIEW = Intrinsics(820.0, 820.0, 300.0, 220.0)


def view_transform() -> tuple[np.ndarray, np.ndarray]:
    """Rotation and translation from the camera's optical frame to the virtual viewer's."""
    pivot = np.array([0.0, 0.0, 2.5])  # the middle of the scene, turned about
    yaw, pitch = np.radians(30.0), np.radians(-20.0)
    about_y = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0],
                        [-np.sin(yaw), 0, np.cos(yaw)]])
    about_x = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)],
                        [0, np.sin(pitch), np.cos(pitch)]])
    rotation = about_x @ about_y
    return rotation, pivot - rotation @ pivot + np.array([0.35, 0.05, 1.9])


def project(points: np.ndarray, rotation, translation) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates in the virtual view and depth there of (N, 3) points."""
    seen = points @ rotation.T + translation
    pixels = np.stack([VIEW.fx * seen[:, 0] / seen[:, 2] + VIEW.cx,
                       VIEW.fy * seen[:, 1] / seen[:, 2] + VIEW.cy], axis=1)
    return pixels, seen[:, 2]


def point_cloud_view(bgr: np.ndarray, depth_mm: np.ndarray, rotation, translation):
    """The scene's coloured points, far ones drawn first, in the virtual view."""
    rows, cols = np.nonzero(depth_mm)
    z = depth_mm[rows, cols] * METRES_PER_UNIT['16UC1']
    points = np.stack([(cols - CAMERA.cx) / CAMERA.fx * z, (rows - CAMERA.cy) / CAMERA.fy * z,
                       z], axis=1)
    pixels, distance = project(points, rotation, translation)
    canvas = np.full((VIEW_SIZE[1], VIEW_SIZE[0], 3), 40, np.uint8)
    for index in np.argsort(-distance):
        u, v = (int(round(c)) for c in pixels[index])
        if 0 <= u < VIEW_SIZE[0] - 1 and 0 <= v < VIEW_SIZE[1] - 1:
            canvas[v:v + 2, u:u + 2] = bgr[rows[index], cols[index]]
    return canvas


def draw_markers(canvas: np.ndarray, markers, rotation, translation):
    """Each CUBE marker as a wireframe box and each TEXT marker as its text, in its colour."""
    for marker in markers.markers:
        colour = tuple(int(255 * c) for c in (marker.color.b, marker.color.g, marker.color.r))
        centre = np.array([marker.pose.position.x, marker.pose.position.y,
                           marker.pose.position.z])
        if marker.type == marker.CUBE:
            half = np.array([marker.scale.x, marker.scale.y, marker.scale.z]) / 2
            corners = np.array([centre + half * np.array(signs)
                                for signs in itertools.product((-1, 1), repeat=3)])
            pixels, _ = project(corners, rotation, translation)
            for a, b in itertools.combinations(range(8), 2):
                if bin(a ^ b).count('1') == 1:  # corners differing in one axis: an edge
                    cv2.line(canvas, tuple(np.round(pixels[a]).astype(int)),
                             tuple(np.round(pixels[b]).astype(int)), colour, 2, cv2.LINE_AA)
        elif marker.type == marker.TEXT_VIEW_FACING:
            (pixel,), _ = project(centre[None], rotation, translation)
            origin = tuple(np.round(pixel).astype(int))
            draw_shadowed_text(canvas, marker.text, origin, 0.5, colour)


def main():
    """Render one scene's markers into the PNG named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('output', help='image file to write (.png or .jpg)')
    parser.add_argument('--seed', type=int, default=3)
    parser.add_argument('--index', type=int, default=10)
    args = parser.parse_args()
    if not depth_msgs.MARKERS_AVAILABLE:
        raise SystemExit('render_markers: visualization_msgs is not installed '
                         '(pip install ros-jazzy-visualization-msgs)')

    scene = scenes.generate_scene(args.seed, args.index)
    depth = depth_scenes.render_depth(scene, args.seed, args.index)
    model_path, label_map_path, _ = with_builtin_defaults('', '')
    segmenter = Segmenter(SegmentationModel(model_path), load_label_map(label_map_path))
    segmentation = segmenter.segment(scene.bgr, PostprocessSettings())
    instances = segmentation.instances
    located = locate_instances(instances.label_image, depth.depth_mm, METRES_PER_UNIT['16UC1'],
                               CAMERA, len(instances))
    markers = depth_msgs.to_marker_array(instances, located, segmenter.label_map, None)

    rotation, translation = view_transform()
    view = point_cloud_view(scene.bgr, depth.depth_mm, rotation, translation)
    draw_markers(view, markers, rotation, translation)
    overlay = cv2.resize(segmenter.overlay(scene.bgr, segmentation), VIEW_SIZE,
                         interpolation=cv2.INTER_NEAREST)
    if not cv2.imwrite(args.output, np.hstack([overlay, view]), [cv2.IMWRITE_JPEG_QUALITY, 80]):
        raise SystemExit(f'render_markers: cannot write {args.output}')
    print(f'{args.output}: {len(instances)} instances, '
          f'{sum(located.located(k) for k in range(1, len(instances) + 1))} located in 3D')


if __name__ == '__main__':
    main()
