"""What the 3D outputs add per 1280x720 frame with 20 instances (RGB-D, `depth.enabled`).

In-process, the node's own per-frame steps on the same frames in the same run, first the 2D
outputs, then what depth adds:

- 2D baseline: post-processing (masks pasted into the label image), `detections_json`, and
  the Detection2DArray where vision_msgs is installed (the model call is left out: it is the
  same with or without depth);
- with depth: the same plus the 16UC1 depth message read (`depth_array`), pairing by stamp
  and the common grid (`DepthInput`), the instances' 3D (`depth3d.locate_instances`), the 3D
  fields of the JSON, the Detection3DArray and the MarkerArray where installed;
- with `points` subscribed: the same plus the PointCloud2.

The added cost is the difference of the medians, the variants run by turns on the same frames.

Frames are `postprocess_vs_od_api.realistic_inputs` (20 Mask R-CNN-like detections); the depth
paints each instance at its own 1-3 m before a 4 m wall, with 2 mm noise and 1 % holes.

    python benchmarks/depth_cost.py [--quick] [--frames N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_common import markdown_table, median, percentile, print_header, save_json
from postprocess_vs_od_api import realistic_inputs

from instance_segmentation_ros.core.depth3d import locate_instances
from instance_segmentation_ros.core.depth_input import DepthInput, depth_array
from instance_segmentation_ros.core.labels import coco_label_map
from instance_segmentation_ros.core.postprocess import PostprocessSettings, postprocess
from instance_segmentation_ros.core.results import frame_json
from instance_segmentation_ros.ros import depth_msgs, detection_msgs

HEIGHT, WIDTH, INSTANCES = 720, 1280, 20
MASK_SIZE = 33


def frame(rng):
    """(detections, colour header, depth message, camera_info) of one RGB-D frame."""
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header

    detections, _ = realistic_inputs(rng, INSTANCES, MASK_SIZE, HEIGHT, WIDTH)
    labels = postprocess(detections, HEIGHT, WIDTH, PostprocessSettings(max_detections=100))
    distances = np.concatenate(([4.0], rng.uniform(1.0, 3.0, INSTANCES)))
    depth = distances[labels.label_image] + rng.normal(0.0, 0.002, labels.label_image.shape)
    depth[rng.uniform(size=depth.shape) < 0.01] = 0.0
    depth_mm = np.rint(depth * 1000).astype('<u2')
    header = Header(frame_id='camera')
    header.stamp.sec = 100
    message = Image(header=header, height=HEIGHT, width=WIDTH, encoding='16UC1',
                    step=WIDTH * 2, data=depth_mm.tobytes())
    info = CameraInfo(width=WIDTH, height=HEIGHT,
                      k=[910.0, 0, 639.5, 0, 910.0, 359.5, 0, 0, 1])
    return detections, header, message, info


def outputs(inputs, label_map, with_depth: bool, with_points: bool = False):
    """Seconds per frame of the node's output work, 2D only or with the 3D."""
    settings = PostprocessSettings(max_detections=100)
    label_buffer = np.zeros((HEIGHT, WIDTH), np.uint8)
    seconds = []
    for detections, header, message, info in inputs:
        started = time.perf_counter()
        instances = postprocess(detections, HEIGHT, WIDTH, settings, label_image=label_buffer)
        located = None
        if with_depth:  # the depth frame's arrival is part of the cost, too
            depth_input = DepthInput(history=30, tolerance_s=0.02, allow_frame_mismatch=False)
            depth_input.add_camera_info(info)
            depth_input.add_depth(message)
            paired = depth_input.pair(header, instances.label_image)
            located = locate_instances(paired.labels, paired.depth, paired.metres_per_unit,
                                       paired.intrinsics, len(instances),
                                       with_cloud=with_points)
        frame_json(instances, label_map, 100, 0, 'camera', 'bench', 0.0, located)
        if detection_msgs.AVAILABLE:
            detection_msgs.to_detection2d_array(instances, label_map, header)
        if with_depth and detection_msgs.AVAILABLE:
            detection_msgs.to_detection3d_array(instances, located, label_map, header)
        if with_depth and depth_msgs.MARKERS_AVAILABLE:
            depth_msgs.to_marker_array(instances, located, label_map, header)
        if with_points:
            depth_msgs.to_point_cloud(located.cloud, header)
        seconds.append(time.perf_counter() - started)
    return seconds


def run(frames: int) -> dict:
    """The variants interleaved by round, so that a change in machine load hits them alike."""
    rng = np.random.default_rng(17)
    label_map = coco_label_map()
    inputs = [frame(rng) for _ in range(frames)]
    assert depth_array(inputs[0][2]).shape == (HEIGHT, WIDTH)
    timings = {'2d': [], '3d': [], 'points': []}
    for _ in range(3):
        timings['2d'] += outputs(inputs, label_map, with_depth=False)
        timings['3d'] += outputs(inputs, label_map, with_depth=True)
        timings['points'] += outputs(inputs, label_map, with_depth=True, with_points=True)
    return timings


def report(timings: dict):
    def ms(values, q=None):
        values = [v * 1000 for v in values]
        return f'{(median(values) if q is None else percentile(values, q)):.2f}'

    base = median(timings['2d']) * 1000
    rows = [['2D outputs: post-processing, detections_json, Detection2DArray', ms(timings['2d']),
             ms(timings['2d'], 95), ''],
            ['with depth: + depth read, pairing, 3D, JSON 3D fields, Detection3DArray, markers',
             ms(timings['3d']), ms(timings['3d'], 95),
             f"{median(timings['3d']) * 1000 - base:.2f}"],
            ['with depth and `points` subscribed', ms(timings['points']),
             ms(timings['points'], 95), f"{median(timings['points']) * 1000 - base:.2f}"]]
    print(markdown_table(['per 1280x720 frame, 20 instances', 'median ms', 'p95 ms',
                          'added (median) ms'], rows))
    print(f'\nvision_msgs {"installed" if detection_msgs.AVAILABLE else "NOT installed"}, '
          f'visualization_msgs {"installed" if depth_msgs.MARKERS_AVAILABLE else "NOT installed"}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='20 frames')
    parser.add_argument('--frames', type=int, default=100)
    args = parser.parse_args(argv)
    frames = 20 if args.quick else args.frames
    print_header('depth_cost: 3D outputs beside the 2D outputs', argv)
    timings = run(frames)
    report(timings)
    save_json('depth_cost.json', timings)


if __name__ == '__main__':
    main()
