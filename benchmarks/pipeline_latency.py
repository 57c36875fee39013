"""Benchmark 2: the pipelined node versus a naive node over real DDS, for models of known cost.

For each model time T (a tiny real TF2 SavedModel exported with compute_seconds=T, so each call
costs about T of real compute) and each design:

- pipelined: the `segmentation_node` console script (one-slot latest frame, model stage and
  output stage threads, the default frame and output waits) with a best-effort input, keep
  last 1 (`-p input_reliability:=best_effort`, the default when these results were taken);
- pipelined_overlap: the same with `-p output_wait_fraction:=0.0` (the outputs of a frame always
  overlap the next model call);
- pipelined_no_wait: the same with `-p frame_wait_fraction:=0.0` (never waits for a due frame);
- pipelined_reliable: the same as pipelined with `-p input_reliability:=reliable` (what the
  default `auto` now gives this reliable camera);
- naive: benchmarks/naive_node.py (the same node with the model call in the subscription
  callback, reliable depth 10);
- pipelined_compressed: pipelined with `-p input_transport:=compressed`, the camera publishing
  JPEG (quality 95) sensor_msgs/CompressedImage, encoded after stamping as a driver would,

a camera process (benchmarks/camera_publisher.py) publishes 1280x720 bgr8 at 30 Hz into the node
process, and this process subscribes masks, detections_json and /diagnostics, as a user
would. Measured: output rate x T (throughput against 1/T), end-to-end latency (receive time of
detections_json minus the image stamp) p50/p95, frames dropped, and drift (median latency of
the first third of the run against the last third).

    python benchmarks/pipeline_latency.py [--quick] [--duration S] [--times 0.05 0.2 1.0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import bench_common
from bench_common import markdown_table, median, percentile

HERE = Path(__file__).resolve().parent
PREFIX = '/segmentation/'
DESIGNS = ('pipelined', 'pipelined_overlap', 'pipelined_no_wait', 'pipelined_reliable', 'naive',
           'pipelined_compressed')
DESIGN_PARAMETERS = {
    'pipelined': ['input_reliability:=best_effort'],
    'pipelined_compressed': ['input_reliability:=best_effort', 'input_transport:=compressed'],
    'pipelined_overlap': ['input_reliability:=best_effort', 'output_wait_fraction:=0.0'],
    'pipelined_no_wait': ['input_reliability:=best_effort', 'frame_wait_fraction:=0.0'],
    'pipelined_reliable': ['input_reliability:=reliable'],
    'naive': ['input_reliability:=reliable'],
}


class Measurer(bench_common.SpinningNode):
    """A ROS node in this process that records every output of the node under test."""

    def __init__(self):
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Image
        from std_msgs.msg import String

        super().__init__('benchmark_measurer')
        self.clear()
        self.node.create_subscription(String, PREFIX + 'detections_json', self.on_json, 10)
        self.node.create_subscription(Image, PREFIX + 'masks', self.on_masks, 10)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self.on_diagnostics, 10)

    def clear(self):
        with self.lock:
            self.json, self.masks, self.diagnostics = [], [], []

    def on_json(self, message):
        received = time.time_ns()
        data = json.loads(message.data)
        stamp = data['header']['stamp']
        with self.lock:
            self.json.append((received, stamp['sec'] * 10**9 + stamp['nanosec'],
                              data['inference_ms'], len(data['detections'])))

    def on_masks(self, message):
        received = time.time_ns()
        stamp = message.header.stamp
        with self.lock:
            self.masks.append((received, stamp.sec * 10**9 + stamp.nanosec))

    def on_diagnostics(self, message):
        for status in message.status:
            if 'segmentation' in status.name:
                values = {kv.key: kv.value for kv in status.values}
                with self.lock:
                    self.diagnostics.append((time.time_ns(), values))

    def node_ready(self) -> bool:
        return self.node.count_publishers(PREFIX + 'detections_json') > 0


def node_command(design: str, model: str, program: list[str] | None = None) -> list[str]:
    """The node process of a design; `program` replaces the executable (keeping parameters)."""
    if program is None:
        program = ([sys.executable, str(HERE / 'naive_node.py')] if design == 'naive'
                   else [bench_common.console_script('segmentation_node')])
    parameters = [f'model_path:={model}', *DESIGN_PARAMETERS[design]]
    return [*program, '--ros-args', '-r', '__ns:=/segmentation',
            *(arg for p in parameters for arg in ('-p', p))]


def run_one(measurer: Measurer, design: str, seconds: float, duration: float, warm: float,
            program: list[str] | None = None) -> dict:
    model = bench_common.model_path('tf2_od_api', seconds)
    node = bench_common.start(node_command(design, model, program),
                              f'node_{design}_{seconds:g}.log')
    try:
        if not bench_common.wait_until(lambda: measurer.node_ready() or node.poll() is not None,
                                       180):
            raise RuntimeError(f'{design} node did not come up')
        if node.poll() is not None:
            raise RuntimeError(f'{design} node exited with {node.returncode}')
        time.sleep(2.0)  # let the node discover this process's subscriptions too
        measurer.clear()
        cpu_before = bench_common.cpu_seconds(node.pid)
        camera = bench_common.start(
            [sys.executable, str(HERE / 'camera_publisher.py'), '--rate', '30',
             '--duration', str(duration),
             *(['--compressed'] if design.endswith('_compressed') else [])],
            f'camera_{design}_{seconds:g}.log')
        camera.wait(duration + 120)
        camera.log.close()
        camera_summary = json.loads(
            Path(camera.log.name).read_text().strip().splitlines()[-1])
        cpu_during = bench_common.cpu_seconds(node.pid) - cpu_before
        # Drain: what the node still had queued comes out now (the naive design's backlog).
        last = [len(measurer.json)]

        def settled():
            time.sleep(max(2.5 * seconds, 1.5))
            count = len(measurer.json)
            done = count == last[0]
            last[0] = count
            return done

        bench_common.wait_until(settled, 15 * seconds + 10, interval=0)
        rss = bench_common.rss_mb(node.pid)
    finally:
        code = bench_common.stop(node)
    with measurer.lock:
        records = list(measurer.json)
        diagnostics = list(measurer.diagnostics)
    return summarise(design, seconds, records, diagnostics, camera_summary, warm,
                     cpu_during, rss, code)


def summarise(design, seconds, records, diagnostics, camera, warm, cpu_during, rss, code):
    start_ns, end_ns = camera['start_ns'], camera['end_ns']
    in_run = [r for r in records if start_ns <= r[1] <= end_ns]
    steady_start = start_ns + int(warm * 1e9)
    steady = sorted((r for r in in_run if r[1] >= steady_start), key=lambda r: r[1])
    latencies = [(r[0] - r[1]) / 1e6 for r in steady]
    beyond_inference = [(r[0] - r[1]) / 1e6 - r[2] for r in steady]
    received_in_window = [r for r in records if steady_start <= r[0] <= end_ns]
    rate = len(received_in_window) / ((end_ns - steady_start) / 1e9)
    third = max(len(steady) // 3, 1)
    first = [(r[0] - r[1]) / 1e6 for r in steady[:third]]
    last = [(r[0] - r[1]) / 1e6 for r in steady[-third:]]
    drift = median(last) - median(first)
    final = diagnostics[-1][1] if diagnostics else {}
    node_latency = [float(v['latency_ms']) for t, v in diagnostics
                    if steady_start <= t <= end_ns and float(v.get('rate_hz', 0)) > 0]
    return {
        'design': design, 'T_s': seconds, 'published': camera['published'],
        'camera_rate_hz': camera['rate_hz'], 'outputs': len(in_run),
        'rate_hz': rate, 'throughput_x_T': rate * seconds,
        'inference_ms_median': median([r[2] for r in steady]),
        'latency_p50_ms': percentile(latencies, 50), 'latency_p95_ms': percentile(latencies, 95),
        'latency_max_ms': max(latencies) if latencies else float('nan'),
        'p95_minus_T_ms': percentile(latencies, 95) - 1000 * seconds,
        'latency_minus_inference_p50_ms': percentile(beyond_inference, 50),
        'latency_minus_inference_p95_ms': percentile(beyond_inference, 95),
        'first_third_p50_ms': median(first), 'last_third_p50_ms': median(last),
        'drift_ms': drift,
        'lost': camera['published'] - len(in_run),
        'node_frames_received': final.get('frames_received', 'n/a'),
        'node_received_hz': (int(final['frames_received']) / camera['elapsed_s']
                             if 'frames_received' in final else float('nan')),
        'node_frames_dropped': final.get('frames_dropped', 'n/a'),
        'node_latency_ms_mean': (sum(node_latency) / len(node_latency)
                                 if node_latency else float('nan')),
        'node_cpu_s_per_s': cpu_during / camera['elapsed_s'], 'node_rss_mb': rss,
        'detections_per_frame': median([r[3] for r in steady]), 'exit_code': code,
        'latencies_ms': latencies,
    }


def drifts(result) -> bool:
    """Latency rose: the last third's median exceeds the first third's by more than noise.

    A queue that grows adds whole frames of T each; jitter of a loaded 2-core machine moves
    the median by tens of ms. The limit is the larger of 20 ms and 10 % of T.
    """
    return result['drift_ms'] > max(20.0, 100.0 * result['T_s'])


def report(results, duration):
    print()
    rows = []
    for r in results:
        rows.append([
            r['design'], f'{1000 * r["T_s"]:.0f}', f'{r["inference_ms_median"]:.0f}',
            f'{r["rate_hz"]:.2f}', f'{r["throughput_x_T"]:.2f}',
            f'{r["rate_hz"] * r["inference_ms_median"] / 1000:.2f}',
            f'{r["latency_p50_ms"]:.0f}', f'{r["latency_p95_ms"]:.0f}',
            f'{r["p95_minus_T_ms"]:+.0f}',
            f'{r["latency_minus_inference_p50_ms"]:.0f} / '
            f'{r["latency_minus_inference_p95_ms"]:.0f}',
            f'{r["first_third_p50_ms"]:.0f} -> {r["last_third_p50_ms"]:.0f}'
            + (' (drifts)' if drifts(r) else ''),
            f'{r["published"]} / {r["outputs"]}',
            'n/a' if r['design'] == 'naive' else f'{r["node_received_hz"]:.1f}',
            f'{r["node_frames_dropped"]}', f'{r["node_cpu_s_per_s"]:.2f}'])
    print(markdown_table(
        ['design', 'T ms', 'inference ms (median)', 'output Hz', 'rate x T',
         'rate x inference', 'latency p50 ms',
         'p95 ms', 'p95 - T ms', 'latency - inference p50 / p95 ms', 'p50 first -> last third',
         'frames published / processed', 'node received Hz', 'dropped in node (slot)',
         'node CPU s/s'], rows))
    print()
    print(f'{duration:g} s per run; camera 1280x720 bgr8 at 30 Hz; latency = receive time of '
          f'detections_json - image stamp.')
    for r in results:
        if r['design'] == 'naive':
            continue
        verdicts = [
            f'throughput {r["throughput_x_T"]:.2f} x 1/T '
            f'({"met" if r["throughput_x_T"] >= 0.9 else "NOT met"})',
            f'p95 {r["latency_p95_ms"]:.0f} ms vs T + 30 = {1000 * r["T_s"] + 30:.0f} ms '
            f'({"met" if r["p95_minus_T_ms"] <= 30 else "NOT met"})',
            f'drift {r["drift_ms"]:+.0f} ms ({"NOT met" if drifts(r) else "met"})',
        ]
        print(f'target {r["design"]} T={1000 * r["T_s"]:.0f} ms: ' + '; '.join(verdicts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='~10 s per run (smoke run)')
    parser.add_argument('--duration', type=float, help='seconds per run (default 60, quick 10)')
    parser.add_argument('--times', type=float, nargs='+', default=[0.05, 0.2, 1.0],
                        help='model times T in seconds')
    parser.add_argument('--designs', nargs='+', default=list(DESIGNS), choices=DESIGNS)
    parser.add_argument('--output', default='pipeline_latency.json',
                        help='raw results file name in the scratch folder')
    parser.add_argument('--report', metavar='JSON',
                        help="only print the tables of an earlier run's raw results")
    bench_common.add_dds_arguments(parser)
    args = parser.parse_args(argv)
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        print('\n'.join(f'- {line}' for line in saved['header']) + f'\n- {saved["dds"]}')
        report(saved['results'], saved['duration_s'])
        return 0
    dds = bench_common.apply_dds_profile(args.dds_profile)
    duration = args.duration or (10.0 if args.quick else 60.0)
    warm = 1.0 if args.quick else 3.0
    header = bench_common.machine_lines()
    bench_common.print_header(f'Pipeline latency over DDS ({dds}): pipelined node vs naive')
    for seconds in args.times:  # export up front, so no run waits for TensorFlow
        bench_common.model_path('tf2_od_api', seconds)
    measurer = Measurer()
    results = []
    try:
        for seconds in args.times:
            for design in args.designs:
                if not measurer.rclpy.ok(context=measurer.context):  # Ctrl+C: rclpy's handler
                    raise KeyboardInterrupt
                result = run_one(measurer, design, seconds, duration, warm)
                results.append(result)
                print(f'{design} T={seconds:g}: {result["rate_hz"]:.2f} Hz, p50 '
                      f'{result["latency_p50_ms"]:.0f} ms, p95 {result["latency_p95_ms"]:.0f} ms'
                      f', outputs {result["outputs"]}/{result["published"]}', flush=True)
    finally:
        measurer.close()
    report(results, duration)
    path = bench_common.save_json(args.output, {
        'duration_s': duration, 'dds': dds, 'header': header,
        'load_at_end': bench_common.load_average(),
        'results': results})
    print(f'\nraw results: {path}')
    try:
        import plot_latency
    except ImportError:
        pass
    else:
        try:
            print(f'plot: {plot_latency.plot(path)}')
        except ImportError:
            print('matplotlib is not installed here: draw the plot with the benchmark venv: '
                  '/tmp/bench_work/venv/bin/python benchmarks/plot_latency.py')


if __name__ == '__main__':
    sys.exit(main())
