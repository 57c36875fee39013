"""Benchmark 14: the camera on the robot, the model on a workstation, over a rate-limited link.

Two network namespaces on this machine stand for the two hosts (`test/support/two_hosts.py`:
a veth pair, robot 10.200.0.1, workstation 10.200.0.2, each with its own /dev/shm, both ends
limited by `tc tbf` to the link rate; root and iproute2 needed). On the robot `folder_player`
plays 1280x720 JPEG files (quality 80, camera-like noise: 150 KB each) at 30 Hz in a loop,
raw (`bgr8`, 2.76 MB a frame) or compressed (the files' own bytes on `image/compressed`),
and a listener subscribes the results `detections_json` and `masks/compressed`, as a robot's
own consumer would; on the workstation `segmentation_node` reads the matching transport
(`input_transport`), with the built-in demo model or a fixed-time model (T = `--model-seconds`),
and a second listener records its /diagnostics. Every process runs with the package's defaults
(the nodes' own Fast DDS profile, default discovery).

Per run, after the first result and `--warm` more seconds, for `--seconds`: results per second
at the robot, latency (arrival at the robot minus the input's stamp, which folder_player sets
when it publishes; one clock, one machine), the link's use in each direction (bytes the veth
ends sent), the frames the node received per second (its /diagnostics), its model call time,
and what the node and the player logged as warnings. A run whose first result does not come
within `--first-result` seconds is reported as such.

    python benchmarks/two_hosts.py [--quick] [--links 100 20] [--inputs raw compressed]
        [--models builtin fixed] [--seconds 25]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

import bench_common
from bench_common import markdown_table, median, percentile

WIDTH, HEIGHT, FRAMES = 1280, 720, 8
RESULTS = '/segmentation/detections_json'
MASKS = '/segmentation/masks/compressed'


def support():
    """The test bed, test/support/two_hosts.py (whose name this script shares)."""
    spec = importlib.util.spec_from_file_location('two_hosts_bed',
                                                  bench_common.TEST_DIR / 'two_hosts.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_frames(folder: Path, quality: int) -> int:
    """FRAMES camera-sized JPEG files of generated scenes; returns their mean size in bytes."""
    import cv2
    import tiny_models

    folder.mkdir(parents=True, exist_ok=True)
    sizes = []
    for seed in range(FRAMES):
        rgb, _ = tiny_models.draw_scene(HEIGHT, WIDTH, seed=seed)
        path = folder / f'frame_{seed:02d}.jpg'
        assert cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        sizes.append(path.stat().st_size)
    return int(sum(sizes) / len(sizes))


def wait_for_line(process, text: str, timeout: float) -> bool:
    return bench_common.wait_until(
        lambda: text in process.output() or process.returncode is not None, timeout) \
        and text in process.output()


def warnings_of(output: str) -> list[str]:
    lines = [line for line in output.splitlines() if '[WARN]' in line or '[ERROR]' in line]
    return sorted({line.split(']: ', 1)[-1][:160] for line in lines})


def run_case(args, frames: Path, model: str, transport: str, link_mbit: float) -> dict:
    bed = support()
    listener_command, received = bed.listener_command, bed.received
    work = Path(tempfile.mkdtemp(prefix='two_hosts_', dir=bench_common.WORK))
    case = {'model': model, 'input': transport, 'link_mbit': link_mbit,
            'camera_hz': args.camera_rate, 'jpeg_quality': args.jpeg_quality}
    with bed.TwoHosts(work, rate_mbit=link_mbit or None) as hosts:
        robot, workstation = hosts.robot, hosts.workstation
        parameters = ['-p', f'input_transport:={transport}', '-p', f'warmup_width:={WIDTH}',
                      '-p', f'warmup_height:={HEIGHT}']
        if model == 'fixed':
            parameters += ['-p', 'model_path:=' + bench_common.model_path(
                'tf2_od_api', args.model_seconds)]
        node = workstation.start(
            [bench_common.console_script('segmentation_node'), '--ros-args',
             '-r', '__ns:=/segmentation', '-r', 'image:=/camera/image_raw', *parameters],
            'node')
        if not wait_for_line(node, 'segmenting /camera/image_raw', 300.0):
            raise SystemExit(f'the node did not start:\n{node.output()}')
        diagnostics = workstation.start(listener_command(['/diagnostics:diagnostics']),
                                        'diagnostics')
        results = robot.start(listener_command([f'{RESULTS}:json', f'{MASKS}:compressed']),
                              'results')
        player = robot.start(
            [bench_common.console_script('folder_player'), '--ros-args',
             '-r', 'image:=/camera/image_raw', '-p', f'folder:={frames}',
             '-p', f'rate:={float(args.camera_rate)!r}', '-p', 'loop:=true',
             '-p', f'transport:={transport}', '-p', 'wait_for_subscriber:=60.0'], 'player')
        started = time.time()

        def results_on(topic):
            return [line for line in received(results) if line['topic'] == topic]

        if not bench_common.wait_until(lambda: results_on(RESULTS), args.first_result):
            case['first_result_s'] = None
            window_start = time.time()
            before = hosts.byte_counts()
            time.sleep(args.seconds)
        else:
            case['first_result_s'] = round(results_on(RESULTS)[0]['arrival'] - started, 1)
            time.sleep(args.warm)
            window_start = time.time()
            before = hosts.byte_counts()
            time.sleep(args.seconds)
        after = hosts.byte_counts()
        window_end = time.time()
        seconds = window_end - window_start
        in_window = [line for line in results_on(RESULTS)
                     if window_start <= line['arrival'] < window_end]
        masks = [line for line in results_on(MASKS)
                 if window_start <= line['arrival'] < window_end]
        latencies = [(line['arrival'] - line['stamp']) * 1000 for line in in_window]
        statuses = [line['statuses'] for line in received(diagnostics)
                    if window_start <= line['arrival'] < window_end and line['statuses']]
        values = [next(iter(status.values())) for status in statuses]
        case.update({
            'results_per_s': len(in_window) / seconds,
            'latency_ms': [percentile(latencies, 50), percentile(latencies, 95),
                           max(latencies, default=float('nan'))],
            'stamps_increasing': all(a['stamp'] < b['stamp']
                                     for a, b in pairwise(in_window)),
            'camera_mbit_s': (after['robot'] - before['robot']) * 8 / seconds / 1e6,
            'results_mbit_s': (after['workstation'] - before['workstation']) * 8 / seconds / 1e6,
            'result_bytes': (median([line['bytes'] for line in in_window]),
                             median([line['bytes'] for line in masks])),
        })
        if len(values) >= 2:
            span = len(values) - 1  # statuses come once a second
            case['node_received_hz'] = (int(values[-1]['frames_received'])
                                        - int(values[0]['frames_received'])) / span
            case['inference_ms'] = median([float(v['inference_ms']) for v in values
                                           if float(v['rate_hz']) > 0])
            case['node_latency_ms'] = median([float(v['latency_ms']) for v in values
                                              if float(v['rate_hz']) > 0])
        case['load_average'] = bench_common.load_average()
        for process in (node, player, results, diagnostics):
            process.stop()
        case['node_warnings'] = warnings_of(node.output())
        case['player_warnings'] = warnings_of(player.output())
    return case


def row(case: dict) -> list:
    def ms(values):
        return ' / '.join('-' if v != v else f'{v:.0f}' for v in values)

    first = case['first_result_s']
    return [
        case['model'], case['input'], f"{case['link_mbit']:g}" if case['link_mbit'] else 'veth',
        'none' if first is None else f'{first:.1f}',
        f"{case['results_per_s']:.2f}", ms(case['latency_ms']),
        'yes' if case['stamps_increasing'] else 'NO',
        f"{case.get('node_received_hz', float('nan')):.1f}",
        f"{case.get('inference_ms', float('nan')):.0f}",
        f"{case['camera_mbit_s']:.1f}", f"{case['results_mbit_s']:.2f}",
        ' / '.join('-' if v != v else f'{v / 1000:.1f}' for v in case['result_bytes']),
        '; '.join(case['node_warnings'] + case['player_warnings']) or '-',
        case['load_average'],
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='one 10 s run per case')
    parser.add_argument('--links', type=float, nargs='+', default=[100.0, 20.0],
                        help='link rates in Mbit/s (0: no limit, the veth pair as it is)')
    parser.add_argument('--inputs', nargs='+', choices=('raw', 'compressed'),
                        default=['compressed', 'raw'])
    parser.add_argument('--models', nargs='+', choices=('builtin', 'fixed'),
                        default=['fixed', 'builtin'])
    parser.add_argument('--model-seconds', type=float, default=0.2,
                        help='T of the fixed-time model')
    parser.add_argument('--seconds', type=float, help='measured seconds per run (default 25)')
    parser.add_argument('--warm', type=float, default=3.0,
                        help='seconds left out after the first result')
    parser.add_argument('--first-result', type=float, default=60.0,
                        help='longest wait for the first result at the robot')
    parser.add_argument('--camera-rate', type=float, default=30.0, help='frames per second')
    parser.add_argument('--jpeg-quality', type=int, default=80,
                        help='of the camera files (80: about 150 KB each)')
    parser.add_argument('--output', default='two_hosts.json')
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (10.0 if args.quick else 25.0)
    reason = support().unavailable()
    if reason:
        raise SystemExit(f'cannot run: {reason}')
    bench_common.print_header('Camera on the robot, model on a workstation', argv)
    frames = bench_common.WORK / f'two_hosts_frames_q{args.jpeg_quality}'
    size = write_frames(frames, args.jpeg_quality)
    rate = args.camera_rate
    print(f'camera: {FRAMES} JPEG files {WIDTH}x{HEIGHT}, quality {args.jpeg_quality}, mean '
          f'{size} bytes, played at {rate:g} Hz: {size * 8 * rate / 1e6:.1f} Mbit/s compressed, '
          f'{WIDTH * HEIGHT * 3 * 8 * rate / 1e6:.0f} Mbit/s raw bgr8\n', flush=True)
    cases = []
    for model in args.models:
        for transport in args.inputs:
            for link in args.links:
                case = run_case(args, frames, model, transport, link)
                cases.append(case)
                print(json.dumps(case), file=sys.stderr, flush=True)
    headers = ['model', 'input', 'link Mbit/s', 'first result s', 'results/s',
               'latency p50 / p95 / max ms', 'stamps increasing', 'node received Hz',
               'model call ms', 'robot -> workstation Mbit/s', 'workstation -> robot Mbit/s',
               'result KB json / masks', 'warnings logged', 'load at end']
    print(markdown_table(headers, [row(case) for case in cases]))
    print(f'\nraw results: {bench_common.save_json(args.output, cases)}')


if __name__ == '__main__':
    main()
