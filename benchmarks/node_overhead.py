"""Benchmark 3: what segmentation_node costs per 1280x720 frame besides inference, and its memory.

The node process (`segmentation_node` console script, `input_reliability:=reliable`) runs a
zero-cost tiny model (compute_seconds=0: a few ms of real TF work). This process drives it in
lock-step over DDS: publish one 1280x720 bgr8 frame, wait until masks, overlay and
detections_json of that frame have all arrived, publish the next. Every output has a
subscriber, so the node converts, post-processes, renders and publishes everything.

Measured:
- node-side overhead: /diagnostics `latency_ms - inference_ms` (from the image callback to the
  last output published, minus the model call), averaged over the run;
- round trip minus inference: publish here -> all three outputs received here, minus the
  model call (adds both DDS transfers and this process's own (de)serialisation);
- an in-process breakdown of the same per-frame steps without DDS;
- RSS of the node process at start, after warm-up, at the end, and its growth.

    python benchmarks/node_overhead.py [--quick] [--frames N]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import bench_common
from bench_common import markdown_table, median, percentile

PREFIX = '/segmentation/'


class Driver(bench_common.SpinningNode):
    """Publishes frames one at a time and waits for every output of each."""

    def __init__(self):
        from camera_publisher import scene_bgr
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile
        from sensor_msgs.msg import Image
        from std_msgs.msg import String

        from instance_segmentation_ros.core.image_conversion import fill_image_msg

        super().__init__('benchmark_driver')
        self.publisher = self.node.create_publisher(Image, PREFIX + 'image', QoSProfile(depth=1))
        self.message = fill_image_msg(Image(), scene_bgr(720, 1280), 'bgr8')
        self.message.header.frame_id = 'camera'
        self.done = threading.Event()
        self.pending = None
        self.seen = set()
        self.arrivals = {}
        self.slow = []
        self.inference_ms = []
        self.diagnostics = []
        self.node.create_subscription(Image, PREFIX + 'masks', self.output('masks'), 10)
        self.node.create_subscription(Image, PREFIX + 'overlay', self.output('overlay'), 10)
        self.node.create_subscription(String, PREFIX + 'detections_json', self.on_json, 10)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self.on_diagnostics, 10)

    def output(self, kind):
        def callback(message):
            self._arrived(kind, (message.header.stamp.sec, message.header.stamp.nanosec))
        return callback

    def on_json(self, message):
        data = json.loads(message.data)
        stamp = data['header']['stamp']
        if self._arrived('json', (stamp['sec'], stamp['nanosec'])):
            self.inference_ms.append(data['inference_ms'])

    def _arrived(self, kind, stamp) -> bool:
        with self.lock:
            if stamp != self.pending:
                return False
            self.seen.add(kind)
            self.arrivals[kind] = time.perf_counter()
            if len(self.seen) == 3:
                self.done.set()
            return True

    def on_diagnostics(self, message):
        for status in message.status:
            if 'segmentation' in status.name:
                self.diagnostics.append({kv.key: kv.value for kv in status.values})

    def frame(self, timeout: float = 5.0) -> float | None:
        """Publish one frame; seconds until all its outputs arrived, or None on timeout."""
        stamp = self.node.get_clock().now().to_msg()
        with self.lock:
            self.pending = (stamp.sec, stamp.nanosec)
            self.seen = set()
            self.arrivals = {}
            self.done.clear()
        self.message.header.stamp = stamp
        started = time.perf_counter()
        self.publisher.publish(self.message)
        if not self.done.wait(timeout):
            return None
        seconds = time.perf_counter() - started
        if seconds > 0.5:  # keep a record of which output was late
            with self.lock:
                self.slow.append({k: round(1000 * (t - started)) for k, t in
                                  self.arrivals.items()})
        return seconds


def in_process_breakdown(model: str, repeats: int) -> dict:
    """The node's per-frame steps timed one by one in this process, without threads.

    Publishing goes to a subscriber in this same process (Fast DDS delivers it without a
    transport, but rclpy still converts and serialises the whole message).
    """
    import cv2
    from camera_publisher import scene_bgr
    from sensor_msgs.msg import Image

    from instance_segmentation_ros.core.detections import PostprocessSettings
    from instance_segmentation_ros.core.image_conversion import (
        fill_image_msg,
        fill_image_msg_from_buffer,
        image_msg_to_bgr,
        new_image_buffer,
    )
    from instance_segmentation_ros.core.labels import coco_label_map
    from instance_segmentation_ros.core.postprocess import postprocess
    from instance_segmentation_ros.core.render import render_overlay
    from instance_segmentation_ros.core.results import frame_json
    from instance_segmentation_ros.model.tensorflow_model import SegmentationModel

    segmentation_model = SegmentationModel(model)
    segmentation_model.warm_up()
    label_map = coco_label_map()
    message = fill_image_msg(Image(), scene_bgr(720, 1280), 'bgr8')
    mask_data, mask_view = new_image_buffer(720, 1280, 1)
    overlay_data, overlay_view = new_image_buffer(720, 1280, 3)
    settings = PostprocessSettings()
    import rclpy
    from std_msgs.msg import String

    context = rclpy.Context()
    rclpy.init(context=context)
    ros_node = rclpy.create_node('benchmark_breakdown', context=context)
    publishers = {name: ros_node.create_publisher(kind, f'/breakdown/{name}', 5)
                  for name, kind in (('masks', Image), ('json', String), ('overlay', Image))}
    for name, kind in (('masks', Image), ('json', String), ('overlay', Image)):
        ros_node.create_subscription(kind, f'/breakdown/{name}', lambda message: None, 1)
    steps = {name: [] for name in ('image_msg_to_bgr', 'cvtColor BGR->RGB', 'model.predict',
                                   'postprocess', 'mask message', 'publish masks',
                                   'frame_json (RLE)', 'publish json', 'render_overlay',
                                   'overlay message', 'publish overlay')}
    for _ in range(repeats):
        marks = [time.perf_counter()]
        bgr = image_msg_to_bgr(message)
        marks.append(time.perf_counter())
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        marks.append(time.perf_counter())
        detections = segmentation_model.predict(rgb)
        marks.append(time.perf_counter())
        instances = postprocess(detections, 720, 1280, settings, label_image=mask_view)
        marks.append(time.perf_counter())
        mask_msg = fill_image_msg_from_buffer(Image(header=message.header), mask_data, 720,
                                              1280, 'mono8')
        marks.append(time.perf_counter())
        publishers['masks'].publish(mask_msg)
        marks.append(time.perf_counter())
        text = frame_json(instances, label_map, 1, 2, 'camera', 'model', 1.0)
        marks.append(time.perf_counter())
        publishers['json'].publish(String(data=text))
        marks.append(time.perf_counter())
        render_overlay(bgr, instances, label_map, 0.5, out=overlay_view)
        marks.append(time.perf_counter())
        overlay_msg = fill_image_msg_from_buffer(Image(header=message.header), overlay_data,
                                                 720, 1280, 'bgr8')
        marks.append(time.perf_counter())
        publishers['overlay'].publish(overlay_msg)
        marks.append(time.perf_counter())
        for name, begin, end in zip(steps, marks[:-1], marks[1:], strict=True):
            steps[name].append(end - begin)
    ros_node.destroy_node()
    rclpy.try_shutdown(context=context)
    result = {name: 1000 * median(values) for name, values in steps.items()}
    result['instances'] = int(len(instances))
    result['all but predict'] = sum(v for k, v in result.items()
                                    if k not in ('model.predict', 'instances'))
    return result


def run(frames: int, warmup: int, sample_every: int) -> dict:
    model = bench_common.model_path('tf2_od_api', 0.0)
    command = [bench_common.console_script('segmentation_node'), '--ros-args',
               '-p', f'model_path:={model}', '-p', 'input_reliability:=reliable',
               '-r', '__ns:=/segmentation']
    driver = Driver()
    node = bench_common.start(command, 'node_overhead_node.log')
    try:
        if not bench_common.wait_until(
                lambda: driver.node.count_publishers(PREFIX + 'overlay') > 0
                or node.poll() is not None, 180):
            raise RuntimeError('segmentation_node did not come up')
        if node.poll() is not None:
            raise RuntimeError(f'segmentation_node exited with {node.returncode}')
        rss_start = bench_common.rss_mb(node.pid)
        # The node publishes only to subscribers it has discovered: retry until all arrive.
        if not bench_common.wait_until(lambda: driver.frame(1.0) is not None, 60, 0):
            raise RuntimeError('no frame came back with all three outputs')
        round_trips, timeouts, rss_samples = [], 0, []
        cpu_start = bench_common.cpu_seconds(node.pid)
        started = time.monotonic()
        for index in range(1, frames + 1):
            if not driver.rclpy.ok(context=driver.context):  # Ctrl+C: rclpy's handler
                raise KeyboardInterrupt
            seconds = driver.frame()
            if seconds is None:
                timeouts += 1
            elif index > warmup:
                round_trips.append(seconds)
            if index == warmup:
                rss_warm = bench_common.rss_mb(node.pid)
                diagnostics_from = len(driver.diagnostics)
                inference_from = len(driver.inference_ms)
            if index % sample_every == 0:
                rss_samples.append((index, bench_common.rss_mb(node.pid)))
                if index % (sample_every * 10) == 0:
                    print(f'  {index} frames, RSS {rss_samples[-1][1]:.1f} MiB', flush=True)
        elapsed = time.monotonic() - started
        cpu = bench_common.cpu_seconds(node.pid) - cpu_start
        rss_end = bench_common.rss_mb(node.pid)
        time.sleep(1.5)  # one more diagnostics period
    finally:
        code = bench_common.stop(node)
        driver.close()
    windows = [d for d in driver.diagnostics[diagnostics_from:]
               if float(d.get('rate_hz', 0)) > 0]
    node_latency = [float(d['latency_ms']) for d in windows]
    node_inference = [float(d['inference_ms']) for d in windows]
    inference = driver.inference_ms[inference_from:]
    inference_median = median(inference)
    return {
        'frames': frames, 'warmup': warmup, 'timeouts': timeouts, 'exit_code': code,
        'elapsed_s': elapsed, 'frames_per_s': frames / elapsed,
        'node_cpu_ms_per_frame': 1000 * cpu / frames,
        'inference_ms_median': inference_median,
        'round_trip_ms_median': 1000 * median(round_trips),
        'round_trip_ms_p95': 1000 * percentile(round_trips, 95),
        'round_trip_minus_inference_ms': 1000 * median(round_trips) - inference_median,
        'node_latency_ms_mean': sum(node_latency) / max(len(node_latency), 1),
        'node_overhead_ms_mean': (sum(node_latency) - sum(node_inference))
        / max(len(node_latency), 1),
        'node_overhead_ms_worst_window': max((a - b for a, b in zip(node_latency,
                                                                   node_inference,
                                                                   strict=True)),
                                             default=float('nan')),
        'rss_start_mb': rss_start, 'rss_warm_mb': rss_warm, 'rss_end_mb': rss_end,
        'rss_growth_mb': rss_end - rss_warm, 'rss_max_mb': max(r for _, r in rss_samples),
        'rss_samples': rss_samples,
        'slow_frames': driver.slow,
        'frames_dropped': driver.diagnostics[-1].get('frames_dropped') if driver.diagnostics
        else 'n/a',
    }


def report(result, breakdown):
    print()
    print(markdown_table(
        ['per 1280x720 frame (zero-cost model)', 'ms'],
        [['node-side overhead: callback -> last output published, minus inference (diag.)',
          f'{result["node_overhead_ms_mean"]:.1f} (worst 1 s window '
          f'{result["node_overhead_ms_worst_window"]:.1f})'],
         ['round trip here -> node -> here, minus inference (median)',
          f'{result["round_trip_minus_inference_ms"]:.1f}'],
         ['round trip (median / p95)',
          f'{result["round_trip_ms_median"]:.1f} / {result["round_trip_ms_p95"]:.1f}'],
         ['inference (model call, median)', f'{result["inference_ms_median"]:.1f}'],
         ['node CPU time per frame (all threads)', f'{result["node_cpu_ms_per_frame"]:.1f}']]))
    print()
    print(markdown_table(
        [f'in-process step ({breakdown["instances"]} instances)', 'median ms'],
        [[name, f'{value:.2f}'] for name, value in breakdown.items() if name != 'instances']))
    print()
    print(markdown_table(
        ['frames', 'RSS at start MiB', 'after warm-up', 'at end', 'growth', 'max sampled',
         'timeouts', 'frames/s'],
        [[result['frames'], f'{result["rss_start_mb"]:.1f}',
          f'{result["rss_warm_mb"]:.1f} ({result["warmup"]} frames)',
          f'{result["rss_end_mb"]:.1f}', f'{result["rss_growth_mb"]:+.1f}',
          f'{result["rss_max_mb"]:.1f}', result['timeouts'], f'{result["frames_per_s"]:.1f}']]))
    print()
    overhead = result['node_overhead_ms_mean']
    print(f'target overhead <= 10 ms per frame: {"met" if overhead <= 10 else "NOT met"} '
          f'(node-side {overhead:.1f} ms; round trip minus inference '
          f'{result["round_trip_minus_inference_ms"]:.1f} ms)')
    growth = result['rss_growth_mb']
    print(f'target RSS growth < 20 MB over {result["frames"]} frames: '
          f'{"met" if growth < 20 else "NOT met"} ({growth:+.1f} MiB)')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='500 frames (smoke run)')
    parser.add_argument('--frames', type=int, help='frames (default 10000, quick 500)')
    parser.add_argument('--output', default='node_overhead.json',
                        help='raw results file name in the scratch folder')
    bench_common.add_dds_arguments(parser)
    args = parser.parse_args(argv)
    dds = bench_common.apply_dds_profile(args.dds_profile)
    frames = args.frames or (500 if args.quick else 10000)
    warmup = max(50, frames // 50)
    bench_common.print_header(f'Node overhead per frame and memory (zero-cost model, {dds})')
    model = bench_common.model_path('tf2_od_api', 0.0)
    result = run(frames, warmup, max(frames // 100, 10))
    breakdown = in_process_breakdown(model, 30 if args.quick else 200)
    report(result, breakdown)
    bench_common.save_json(args.output, {'dds': dds, 'result': result, 'breakdown': breakdown})


if __name__ == '__main__':
    sys.exit(main())
