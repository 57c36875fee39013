"""Benchmark 11: one node serving N cameras against N single-camera nodes, each with its model.

The targets of serving several cameras from one model, with a model of fixed time T (a tiny
real TF2 SavedModel exported with compute_seconds=T, loaded through `model_path` as a user's
zoo model is) and N = 1, 2 and 4 cameras at 30 Hz:

- aggregate throughput (results per second of all cameras together) at least 0.9 / T;
- each camera served at least every N x T + one camera period, at p95 (the service interval:
  time between the arrivals of two consecutive results of that camera);
- memory (RSS of the node processes, children included) of one node serving N cameras against
  N nodes.

Designs, both in the namespace /segmentation, both with the same topics:

- one_node: one `segmentation_node` process with `-p cameras:=[cam0, cam1, ...]` (one model,
  one model thread, a newest-frame slot per camera, the least recently served camera first);
- separate_nodes: N `segmentation_node` processes with the default `cameras` (one camera
  each), in the namespaces /segmentation/cam0, /segmentation/cam1, ..., each with its own
  model: what a user had to run before one node could serve several cameras. With busy-loop
  models on few cores the N models compete for the cores, so their throughput is a side note;
  their memory is the point.

One camera process (this script with `--camera-process`) publishes N topics
/segmentation/camI/image (1280x720 bgr8 at 30 Hz by default, reliable keep-last-10 as a driver
does, frame_id camI), each stamped at its own publication, the cameras' phases spread over one
period. This process subscribes every camera's detections_json and /diagnostics, records each
result's stamp, frame_id and arrival, and samples the nodes' RSS and CPU once a second. Results
count when they arrive while the cameras publish, after the first `--warm` seconds (once the
cameras stop, each one's last frame waits in its slot for its turn, which no live camera sees).
Models: `tiny` (the fixed-time model, T = `--model-seconds`) and `builtin` (the package's demo
model, empty model_path: a Model Garden Mask R-CNN, ~1.1 GB RSS per node; its call time is not
fixed, so its bound is N x its median call + one period, and its throughput is given against
that median call).

    python benchmarks/multi_camera.py [--quick] [--cameras 1 2 4] [--seconds 30]
        [--model-seconds 0.2] [--models tiny builtin] [--designs one_node separate_nodes]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from itertools import pairwise
from pathlib import Path

import bench_common
from bench_common import markdown_table, median, percentile

HERE = Path(__file__).resolve().parent
PREFIX = '/segmentation/'
DESIGNS = ('one_node', 'separate_nodes')
MODELS = ('tiny', 'builtin')


def camera_names(count: int) -> list[str]:
    return [f'cam{index}' for index in range(count)]


# --- the camera process --------------------------------------------------------------------

def camera_process(args) -> int:
    """Publish one bgr8 image topic per camera, phases spread over a period; print a summary."""
    import rclpy
    from camera_publisher import scene_bgr
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import Image

    from instance_segmentation_ros.core.image_conversion import fill_image_msg

    bench_common.use_ros_environment()
    rclpy.init()
    node = rclpy.create_node('benchmark_cameras')
    frame = scene_bgr(args.height, args.width)
    cameras = []
    for name in args.camera_process:
        message = fill_image_msg(Image(), frame, 'bgr8')
        message.header.frame_id = name
        publisher = node.create_publisher(Image, PREFIX + name + '/image', QoSProfile(depth=10))
        cameras.append({'name': name, 'publisher': publisher, 'message': message,
                        'published': 0})
    summary = {}
    try:
        deadline = time.monotonic() + args.wait
        while (any(c['publisher'].get_subscription_count() == 0 for c in cameras)
               and time.monotonic() < deadline):
            rclpy.spin_once(node, timeout_sec=0.05)
        missing = [c['name'] for c in cameras if c['publisher'].get_subscription_count() == 0]
        if missing:
            raise SystemExit(f'no subscriber for {missing} after {args.wait} s')
        period = 1.0 / args.rate
        started = time.monotonic()
        summary['start_ns'] = time.time_ns()
        for index, camera in enumerate(cameras):  # spread over one period, as free cameras are
            camera['next'] = started + index * period / len(cameras)
        publish_s = []
        while time.monotonic() - started < args.duration:
            camera = min(cameras, key=lambda c: c['next'])
            now = time.monotonic()
            if now < camera['next']:
                time.sleep(camera['next'] - now)
            before = time.perf_counter()
            camera['message'].header.stamp = node.get_clock().now().to_msg()
            camera['publisher'].publish(camera['message'])
            publish_s.append(time.perf_counter() - before)
            camera['published'] += 1
            camera['next'] += period
            if time.monotonic() - camera['next'] > period:  # fell behind: no burst
                camera['next'] = time.monotonic()
        summary['end_ns'] = time.time_ns()
        summary['elapsed_s'] = time.monotonic() - started
        summary['published'] = {c['name']: c['published'] for c in cameras}
        summary['rate_hz'] = {c['name']: c['published'] / summary['elapsed_s'] for c in cameras}
        summary['publish_ms_median'] = 1000 * median(publish_s)
    finally:
        print(json.dumps(summary), flush=True)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


# --- measuring -----------------------------------------------------------------------------

class Measurer(bench_common.SpinningNode):
    """Records every camera's detections_json and the nodes' /diagnostics."""

    def __init__(self, cameras: list[str]):
        from diagnostic_msgs.msg import DiagnosticArray
        from std_msgs.msg import String

        super().__init__('multi_camera_measurer')
        self.cameras = cameras
        self.clear()
        for name in cameras:
            self.node.create_subscription(
                String, PREFIX + name + '/detections_json',
                lambda message, name=name: self.on_json(name, message), 10)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self.on_diagnostics, 50)

    def clear(self):
        with self.lock:
            self.json = {name: [] for name in self.cameras}
            self.diagnostics = []

    def on_json(self, camera: str, message):
        received = time.time_ns()
        data = json.loads(message.data)
        header = data['header']
        stamp = header['stamp']['sec'] * 10**9 + header['stamp']['nanosec']
        with self.lock:
            self.json[camera].append((received, stamp, header['frame_id'],
                                      data['inference_ms']))

    def on_diagnostics(self, message):
        received = time.time_ns()
        for status in message.status:
            if 'segmentation' in status.name:
                values = {kv.key: kv.value for kv in status.values}
                with self.lock:
                    self.diagnostics.append((received, status.hardware_id, status.name,
                                             values))

    def nodes_ready(self, cameras: list[str]) -> bool:
        return all(self.node.count_publishers(PREFIX + name + '/detections_json') > 0
                   for name in cameras)


def node_commands(design: str, cameras: list[str], model: str, width: int, height: int,
                  extra_parameters: list[str]) -> list[list[str]]:
    """The node processes of a design: one with `cameras`, or one per camera."""
    program = [sys.executable, '-m', 'instance_segmentation_ros.ros.segmentation_node']
    parameters = ['input_reliability:=best_effort', f'warmup_width:={width}',
                  f'warmup_height:={height}', *extra_parameters]
    if model:  # else the built-in demo model
        parameters.append(f'model_path:={model}')

    def command(namespace, extra=()):
        return [*program, '--ros-args', '-r', f'__ns:={namespace}',
                *(arg for p in [*parameters, *extra] for arg in ('-p', p))]

    if design == 'one_node':
        return [command('/segmentation', [f'cameras:=[{", ".join(cameras)}]'])]
    return [command(PREFIX + name) for name in cameras]


def process_figures(processes) -> tuple[float, float]:
    """RSS (MiB) and CPU seconds of the node processes and their children, all together."""
    import psutil

    rss = cpu = 0.0
    for process in processes:
        try:
            parent = psutil.Process(process.pid)
            for each in [parent, *parent.children(recursive=True)]:
                rss += each.memory_info().rss / 2**20
                times = each.cpu_times()
                cpu += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return rss, cpu


def own_cpu_seconds(camera) -> float:
    """CPU seconds of this process and the camera process (the benchmark's own, not nodes)."""
    import psutil

    total = 0.0
    for pid in (os.getpid(), camera.pid):
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the machine's cores have been busy so far (all processes)."""
    import psutil

    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, 'iowait', 0.0)


def run_one(measurer: Measurer, model_label: str, model: str, design: str, count: int,
            args) -> dict:
    cameras = camera_names(count)
    commands = node_commands(design, cameras, model, args.width, args.height, args.parameter)
    load_at_start = bench_common.load_average()
    nodes = [bench_common.start(command, f'multi_camera_{model_label}_{design}_{count}_{i}.log')
             for i, command in enumerate(commands)]
    try:
        started = time.monotonic()

        def up():
            return measurer.nodes_ready(cameras) or any(n.poll() is not None for n in nodes)

        if not bench_common.wait_until(up, 300):
            raise RuntimeError(f'{design} with {count} cameras did not come up')
        if any(n.poll() is not None for n in nodes):
            raise RuntimeError(f'a {design} node exited (see {bench_common.WORK}/multi_camera_'
                               f'{model_label}_{design}_{count}_*.log)')
        ready_s = time.monotonic() - started
        time.sleep(2.0)  # let the nodes discover this process's subscriptions too
        rss_ready, _ = process_figures(nodes)
        measurer.clear()
        camera = bench_common.start(
            [sys.executable, __file__, '--camera-process', *cameras,
             '--rate', str(args.rate), '--duration', str(args.seconds + args.warm),
             '--width', str(args.width), '--height', str(args.height)],
            f'multi_camera_cameras_{model_label}_{design}_{count}.log')
        samples = []  # (time ns, nodes' RSS MiB, nodes' CPU s, benchmark CPU s, machine CPU s)
        while camera.poll() is None:
            rss, cpu = process_figures(nodes)
            samples.append((time.time_ns(), rss, cpu, cpu + own_cpu_seconds(camera),
                            machine_busy_seconds()))
            time.sleep(1.0)
        camera.log.close()
        camera_summary = json.loads(
            Path(camera.log.name).read_text().strip().splitlines()[-1])
        if 'end_ns' not in camera_summary:
            raise RuntimeError(f'the camera process failed: see {camera.log.name}')
        time.sleep(2.0 + count * args.model_seconds)  # results of the last frames
        rss_end, _ = process_figures(nodes)
        per_node_rss = [process_figures([n])[0] for n in nodes]
    finally:
        codes = []
        for node in nodes:  # all at once: N models need not stop one after the other
            if node.poll() is None:
                node.send_signal(2)
        for node in nodes:
            codes.append(bench_common.stop(node))
    with measurer.lock:
        records = {name: list(measurer.json[name]) for name in cameras}
        diagnostics = list(measurer.diagnostics)
    result = summarise(model_label, design, count, records, diagnostics, camera_summary,
                       samples, rss_ready, rss_end, per_node_rss, ready_s, codes, args)
    result['load_at_start'] = load_at_start
    return result


def summarise(model_label, design, count, records, diagnostics, camera, samples, rss_ready,
              rss_end, per_node_rss, ready_s, codes, args) -> dict:
    start_ns = camera['start_ns'] + int(args.warm * 1e9)
    end_ns = camera['end_ns']
    window_s = (end_ns - start_ns) / 1e9
    period_ms = 1000.0 / args.rate
    per_camera = {}
    all_latencies, all_intervals, all_stamp_gaps, calls = [], [], [], []
    wrong_frame = 0
    for name, results in records.items():
        wrong_frame += sum(1 for r in results if r[2] != name)
        # Results arriving in the window, while the cameras publish: after they stop, each
        # camera's last frame ages in its slot until its turn, which no live camera sees.
        steady = sorted((r for r in results if start_ns <= r[0] <= end_ns), key=lambda r: r[0])
        intervals = [(b[0] - a[0]) / 1e6 for a, b in pairwise(steady)]
        stamp_gaps = [(b[1] - a[1]) / 1e6 for a, b in pairwise(steady)]
        latencies = [(r[0] - r[1]) / 1e6 for r in steady]
        per_camera[name] = {
            'results': len(steady),
            'interval_p50_ms': percentile(intervals, 50),
            'interval_p95_ms': percentile(intervals, 95),
            'interval_max_ms': max(intervals, default=float('nan')),
            'stamp_gap_p95_ms': percentile(stamp_gaps, 95),
            'latency_p50_ms': percentile(latencies, 50),
            'latency_p95_ms': percentile(latencies, 95),
        }
        all_latencies += latencies
        all_intervals += intervals
        all_stamp_gaps += stamp_gaps
        calls += [r[3] for r in steady]
    total = sum(c['results'] for c in per_camera.values())
    for figures in per_camera.values():
        figures['share'] = figures['results'] / total if total else float('nan')
    rate = total / window_s
    call_ms = median(calls)
    fixed_time = model_label == 'tiny'
    t_ms = 1000 * args.model_seconds if fixed_time else call_ms
    bound_ms = count * t_ms + period_ms
    # The nodes' own counts, from the last status of each (node, camera).
    last_status = {}
    for _, hardware_id, status_name, values in diagnostics:
        last_status[(hardware_id, status_name)] = values
    in_window = [s for s in samples if s[0] >= start_ns]

    def per_second(column):
        if len(in_window) < 2:
            return float('nan')
        first, last = in_window[0], in_window[-1]
        return (last[column] - first[column]) / ((last[0] - first[0]) / 1e9)

    cpu_s_per_s = per_second(2)
    # What other work on the machine used meanwhile: all busy core time less the benchmark's.
    other_s_per_s = per_second(4) - per_second(3)
    return {
        'model': model_label, 'design': design, 'cameras': count, 'T_ms': t_ms,
        'fixed_time': fixed_time, 'window_s': window_s, 'camera': camera,
        'results': total, 'rate_hz': rate, 'throughput_x_T': rate * t_ms / 1000,
        'call_ms_median': call_ms, 'rate_x_call': rate * call_ms / 1000,
        'bound_ms': bound_ms,
        'interval_p50_ms': percentile(all_intervals, 50),
        'interval_p95_ms': percentile(all_intervals, 95),
        'interval_worst_camera_p95_ms': max((c['interval_p95_ms'] for c in per_camera.values()),
                                            default=float('nan')),
        'interval_max_ms': max(all_intervals, default=float('nan')),
        'stamp_gap_p95_ms': percentile(all_stamp_gaps, 95),
        'share_min': min(c['share'] for c in per_camera.values()),
        'share_max': max(c['share'] for c in per_camera.values()),
        'latency_p50_ms': percentile(all_latencies, 50),
        'latency_p95_ms': percentile(all_latencies, 95),
        'wrong_frame_id': wrong_frame, 'per_camera': per_camera,
        'statuses': {f'{h} | {n}': v for (h, n), v in sorted(last_status.items())},
        'rss_ready_mb': rss_ready, 'rss_end_mb': rss_end,
        'rss_max_mb': max((s[1] for s in samples), default=float('nan')),
        'rss_per_node_mb': per_node_rss, 'ready_s': ready_s,
        'node_cpu_s_per_s': cpu_s_per_s, 'other_cpu_s_per_s': other_s_per_s,
        'exit_codes': codes,
        'load_average': bench_common.load_average(),
        'records': {name: [r[:2] for r in results] for name, results in records.items()},
        'rss_samples': samples,
    }


# --- report --------------------------------------------------------------------------------

def node_counts(result) -> str:
    """The nodes' own counts from their last /diagnostics: statuses, received Hz, dropped."""
    statuses = result['statuses'].values()
    elapsed = result['camera']['elapsed_s']
    received = [int(v.get('frames_received', 0)) / elapsed for v in statuses]
    processed = sum(int(v.get('frames_processed', 0)) for v in statuses)
    dropped = sum(int(v.get('frames_dropped', 0)) for v in statuses)
    if not received:
        return 'no status'
    return (f'{len(received)}; {min(received):.1f}-{max(received):.1f} Hz; '
            f'{processed} / {dropped}')


def report(results, args_seconds):
    print()
    rows = []
    for r in results:
        rows.append([
            r['model'], r['design'], r['cameras'], f'{r["call_ms_median"]:.0f}',
            f'{r["rate_hz"]:.2f}',
            f'{r["throughput_x_T"]:.2f}' if r['fixed_time'] else '-',
            f'{r["rate_x_call"]:.2f}',
            f'{r["share_min"]:.2f}-{r["share_max"]:.2f}',
            f'{r["interval_p50_ms"]:.0f} / {r["interval_p95_ms"]:.0f} '
            f'({r["interval_worst_camera_p95_ms"]:.0f}) / {r["interval_max_ms"]:.0f}',
            f'{r["bound_ms"]:.0f}' if r['design'] == 'one_node' else '-',
            f'{r["stamp_gap_p95_ms"]:.0f}',
            f'{r["latency_p50_ms"]:.0f} / {r["latency_p95_ms"]:.0f}',
            node_counts(r), f'{r["node_cpu_s_per_s"]:.2f}',
            f'{r["rss_end_mb"]:.0f}',
            f'{r.get("load_at_start", "?").split()[0]} / {r["load_average"].split()[0]}',
            f'{r.get("other_cpu_s_per_s", float("nan")):.2f}'])
    print(markdown_table(
        ['model', 'design', 'N', 'model call ms (median)', 'results/s (all cameras)',
         'x 1/T', 'x 1/call', 'share per camera min-max',
         'service interval p50 / p95 (worst camera p95) / max ms',
         'bound N x T + period ms', 'stamp gap p95 ms', 'latency p50 / p95 ms',
         '/diagnostics statuses; received Hz per camera; processed / dropped',
         'node CPU s/s', 'RSS MiB (all nodes)', 'load (1 min) at start / end',
         'other work CPU s/s'], rows))
    print()
    memory_rows = []
    by_key = {(r['model'], r['design'], r['cameras']): r for r in results}
    for (model, design, count), r in by_key.items():
        if design != 'one_node':
            continue
        other = by_key.get((model, 'separate_nodes', count))
        one = r['rss_end_mb']
        if other is None:
            memory_rows.append([model, count, f'{one:.0f}', '-', '-', '-'])
            continue
        many = other['rss_end_mb']
        memory_rows.append([
            model, count, f'{one:.0f} (ready {r["rss_ready_mb"]:.0f})',
            f'{many:.0f} (ready {other["rss_ready_mb"]:.0f}; each '
            + ', '.join(f'{v:.0f}' for v in other['rss_per_node_mb']) + ')',
            f'{many / one:.2f}', f'{many - one:.0f}'])
    if memory_rows:
        print(markdown_table(
            ['model', 'N', 'one node, N cameras: RSS MiB', 'N nodes: RSS MiB (all)',
             'N nodes / one node', 'saved MiB'], memory_rows))
        print()
    print(f'{args_seconds:g} s measured per run after the warm-up; results/s counts results '
          'of all cameras arriving in the window; service interval = time between arrivals '
          "of one camera's consecutive results (pooled over cameras; worst camera's p95 in "
          'brackets); stamp gap = the same between their image stamps; latency = arrival - '
          'image stamp; RSS at the end of the run, children included; other work = busy core '
          "time of the machine less the nodes', the camera process's and this one's.")
    for r in results:
        if r['design'] != 'one_node':
            continue
        verdicts = []
        if r['fixed_time']:
            verdicts.append(f'throughput {r["throughput_x_T"]:.2f} x 1/T '
                            f'({"met" if r["throughput_x_T"] >= 0.9 else "NOT met"})')
        verdicts.append(
            f'service interval p95 {r["interval_p95_ms"]:.0f} ms, worst camera '
            f'{r["interval_worst_camera_p95_ms"]:.0f} ms vs {r["bound_ms"]:.0f} ms '
            f'({"met" if r["interval_worst_camera_p95_ms"] <= r["bound_ms"] else "NOT met"})')
        verdicts.append(f'outputs with a wrong frame_id: {r["wrong_frame_id"]}')
        print(f'target {r["model"]} N={r["cameras"]}: ' + '; '.join(verdicts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: 10 s per run, 1 and 2 cameras, the tiny model')
    parser.add_argument('--cameras', type=int, nargs='+', default=[1, 2, 4],
                        help='numbers of cameras N')
    parser.add_argument('--seconds', type=float, help='measured seconds per run (default 30)')
    parser.add_argument('--warm', type=float, default=3.0,
                        help='seconds left out at the start of each run')
    parser.add_argument('--model-seconds', type=float, default=0.2,
                        help='T: seconds of compute per call of the fixed-time model')
    parser.add_argument('--models', nargs='+', choices=MODELS, default=list(MODELS))
    parser.add_argument('--designs', nargs='+', choices=DESIGNS, default=list(DESIGNS))
    parser.add_argument('--rate', type=float, default=30.0, help='camera rate (Hz)')
    parser.add_argument('--width', type=int, default=1280)
    parser.add_argument('--height', type=int, default=720)
    parser.add_argument('--parameter', '-p', action='append', default=[], metavar='NAME:=VALUE',
                        help='a further parameter for every node, e.g. output_wait_fraction:=0.0')
    parser.add_argument('--output', default='multi_camera.json',
                        help='raw results file name in the scratch folder')
    parser.add_argument('--report', metavar='JSON',
                        help="only print the tables of an earlier run's raw results")
    parser.add_argument('--camera-process', nargs='+', metavar='CAMERA', help=argparse.SUPPRESS)
    parser.add_argument('--duration', type=float, help=argparse.SUPPRESS)
    parser.add_argument('--wait', type=float, default=60.0, help=argparse.SUPPRESS)
    bench_common.add_dds_arguments(parser)
    args = parser.parse_args(argv)
    if args.camera_process:
        return camera_process(args)
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        print('\n'.join(f'- {line}' for line in saved['header']) + f'\n- {saved["dds"]}')
        report(saved['results'], saved['seconds'])
        return 0
    if args.quick:
        args.cameras, args.models = [1, 2], ['tiny']
    args.seconds = args.seconds or (10.0 if args.quick else 30.0)
    dds = bench_common.apply_dds_profile(args.dds_profile)
    # The node processes run this checkout's package, whatever is installed.
    os.environ['PYTHONPATH'] = os.pathsep.join(
        p for p in (str(bench_common.ROOT), os.environ.get('PYTHONPATH')) if p)
    header = bench_common.machine_lines()
    bench_common.print_header(f'Several cameras, one model ({dds}): one node serving N cameras '
                              'against N nodes')
    models = {'tiny': bench_common.model_path('tf2_od_api', args.model_seconds),
              'builtin': ''}
    measurer = Measurer(camera_names(max(args.cameras)))
    results, path = [], None
    try:
        for label in args.models:
            for count in args.cameras:
                for design in args.designs:
                    if not measurer.rclpy.ok(context=measurer.context):  # Ctrl+C
                        raise KeyboardInterrupt
                    result = run_one(measurer, label, models[label], design, count, args)
                    results.append(result)
                    bound = (f' (bound {result["bound_ms"]:.0f})' if design == 'one_node'
                             else '')
                    print(f'{label} {design} N={count}: {result["rate_hz"]:.2f} results/s, '
                          f'service interval p95 {result["interval_p95_ms"]:.0f} ms{bound}, '
                          f'RSS {result["rss_end_mb"]:.0f} MiB, '
                          f'load {result["load_average"]}', flush=True)
    finally:
        measurer.close()
        if results:
            path = bench_common.save_json(args.output, {
                'seconds': args.seconds, 'dds': dds, 'header': header,
                'load_at_end': bench_common.load_average(), 'results': results})
    report(results, args.seconds)
    print(f'\nraw results: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
