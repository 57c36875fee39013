"""A stand-in camera for the benchmarks: bgr8 frames at a fixed rate, stamped at publication.

Publishes like a camera driver (REP-2003: system default QoS, reliable, keep last 10) a scene
that the tiny test models detect. With `--compressed` it publishes what
compressed_image_transport would: each frame stamped, then JPEG-encoded (quality 95), on
TOPIC/compressed. Waits for a subscriber first, publishes for `--duration` seconds, then prints
one JSON line with what it did and exits.

    python benchmarks/camera_publisher.py --topic /segmentation/image --rate 30
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import bench_common
import cv2
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CompressedImage, Image

from instance_segmentation_ros.core.compressed import encode_jpeg
from instance_segmentation_ros.core.image_conversion import fill_image_msg


def scene_bgr(height: int, width: int, seed: int = 1):
    import tiny_models

    rgb, _ = tiny_models.draw_scene(height, width, seed=seed)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--topic', default='/segmentation/image')
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--width', type=int, default=1280)
    parser.add_argument('--height', type=int, default=720)
    parser.add_argument('--duration', type=float, default=60.0)
    parser.add_argument('--wait', type=float, default=60.0,
                        help='longest wait for a subscriber before giving up')
    parser.add_argument('--compressed', action='store_true',
                        help='publish JPEG sensor_msgs/CompressedImage on TOPIC/compressed')
    args, ros_args = parser.parse_known_args(argv)
    bench_common.use_ros_environment()
    rclpy.init(args=ros_args)
    node = rclpy.create_node('benchmark_camera')
    frame = scene_bgr(args.height, args.width)
    if args.compressed:
        args.topic += '/compressed'
        publisher = node.create_publisher(CompressedImage, args.topic, QoSProfile(depth=10))
        message = CompressedImage(format='bgr8; jpeg compressed bgr8')
    else:
        publisher = node.create_publisher(Image, args.topic, QoSProfile(depth=10))
        message = fill_image_msg(Image(), frame, 'bgr8')
    message.header.frame_id = 'camera'
    summary = {'published': 0}
    try:
        deadline = time.monotonic() + args.wait
        while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
        if publisher.get_subscription_count() == 0:
            raise SystemExit(f'no subscriber on {args.topic} after {args.wait} s')
        period = 1.0 / args.rate
        publish_s = []
        started = time.monotonic()
        summary['start_ns'] = time.time_ns()
        next_time = started
        while time.monotonic() - started < args.duration:
            now = time.monotonic()
            if now < next_time:
                time.sleep(next_time - now)
            before = time.perf_counter()
            message.header.stamp = node.get_clock().now().to_msg()
            if args.compressed:  # as a driver does: captured (stamped), then encoded
                message.data = encode_jpeg(frame, 95)
            publisher.publish(message)
            publish_s.append(time.perf_counter() - before)
            summary['published'] += 1
            next_time += period
            if time.monotonic() - next_time > period:  # fell behind: no burst to catch up
                next_time = time.monotonic()
        summary['end_ns'] = time.time_ns()
        summary['elapsed_s'] = time.monotonic() - started
        summary['rate_hz'] = summary['published'] / summary['elapsed_s']
        summary['publish_ms_median'] = 1000 * bench_common.median(publish_s)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        print(json.dumps(summary), flush=True)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
