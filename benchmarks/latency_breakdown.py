"""Where benchmark 2's end-to-end latency goes, stage by stage.

Benchmark 2's set-up (camera process, 1280x720 bgr8 at 30 Hz -> node process -> this process,
which subscribes masks, detections_json and /diagnostics) with the node replaced by
benchmarks/timed_node.py: segmentation_node with its default parameters, recording when each
frame crosses each stage boundary. For each model time T it prints p50 / p95 of

- transport in: image stamp (set by the camera just before publishing) -> the node's
  subscription callback;
- wait in the slot: callback -> model stage start (the frame's age when the model takes it,
  including any frame wait);
- model call: colour conversion + the model (T plus the model's own overhead);
- hand-off: model stage end -> output stage start;
- output stage: post-processing, RLE and publishing, wall time and the thread's CPU time (the
  difference is time spent waiting for a core or the GIL);
- transport out: output stage end -> detections_json received here;

and the end-to-end latency (detections_json received here - image stamp) of the same frames.
Percentiles of the parts do not add up to the percentile of the whole.

    python benchmarks/latency_breakdown.py [--times 0.05 0.2 1.0] [--duration 30]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import bench_common
import pipeline_latency
from bench_common import markdown_table, percentile

HERE = Path(__file__).resolve().parent
STAGES = (
    ('transport in', None, 'received'),
    ('wait in the slot', 'received', 'model_start'),
    ('model call', 'model_start', 'model_end'),
    ('hand-off', 'model_end', 'outputs_start'),
    ('output stage (wall)', 'outputs_start', 'outputs_end'),
    ('transport out', 'outputs_end', 'json_received'),
)


def stage_times(stages: dict, json_records: list, steady_from_ns: int) -> dict:
    """Per stage, the durations (ms) of every frame seen from end to end after warm-up."""
    received_here = {stamp: received for received, stamp, *_ in json_records}
    durations = {name: [] for name, _, _ in STAGES}
    durations['output stage (thread CPU)'] = []
    durations['end to end'] = []
    for stamp_text, times in stages.items():
        stamp = int(stamp_text)
        if stamp < steady_from_ns or stamp not in received_here:
            continue
        times = {**times, 'json_received': received_here[stamp]}
        for name, start, end in STAGES:
            durations[name].append((times[end] - (times[start] if start else stamp)) / 1e6)
        durations['output stage (thread CPU)'].append(times['outputs_cpu_ns'] / 1e6)
        durations['end to end'].append((received_here[stamp] - stamp) / 1e6)
    return durations


def run(measurer, seconds: float, duration: float, warm: float) -> dict:
    stages_file = bench_common.WORK / f'stages_T{seconds:g}.json'
    stages_file.unlink(missing_ok=True)
    program = [sys.executable, str(HERE / 'timed_node.py'), '--stages-file', str(stages_file)]
    summary = pipeline_latency.run_one(measurer, 'pipelined', seconds, duration, warm, program)
    with measurer.lock:
        records = list(measurer.json)
    if not stages_file.is_file():
        raise RuntimeError(f'the timed node wrote no {stages_file} (see its log in '
                           f'{bench_common.WORK})')
    steady_from = int(records[0][1] + warm * 1e9) if records else 0
    durations = stage_times(json.loads(stages_file.read_text()), records, steady_from)
    return {'T_s': seconds, 'frames': len(durations['end to end']),
            'throughput_x_T': summary['throughput_x_T'], 'stages': durations}


def report(results):
    names = list(results[0]['stages'])
    headers = ['stage'] + [f'T = {1000 * r["T_s"]:.0f} ms: p50 / p95' for r in results]
    rows = []
    for name in names:
        cells = []
        for r in results:
            values = r['stages'][name]
            cells.append(f'{percentile(values, 50):.1f} / {percentile(values, 95):.1f}')
        rows.append([name, *cells])
    rows.append(['end to end - T (p95)', *(
        f'{percentile(r["stages"]["end to end"], 95) - 1000 * r["T_s"]:+.1f}'
        for r in results)])
    rows.append(['frames / throughput x T', *(
        f'{r["frames"]} / {r["throughput_x_T"]:.2f}' for r in results)])
    print(markdown_table(headers, rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--times', type=float, nargs='+', default=[0.05, 0.2, 1.0],
                        help='model times T in seconds')
    parser.add_argument('--duration', type=float, default=30.0, help='seconds per run')
    bench_common.add_dds_arguments(parser)
    args = parser.parse_args(argv)
    dds = bench_common.apply_dds_profile(args.dds_profile)
    bench_common.print_header(f'Latency by stage over DDS ({dds})')
    for seconds in args.times:
        bench_common.model_path('tf2_od_api', seconds)
    measurer = pipeline_latency.Measurer()
    results = []
    try:
        for seconds in args.times:
            results.append(run(measurer, seconds, args.duration, warm=3.0))
            print(f'T={seconds:g}: {results[-1]["frames"]} frames', flush=True)
    finally:
        measurer.close()
    print()
    report(results)
    path = bench_common.save_json('latency_breakdown.json', {
        'header': bench_common.machine_lines(), 'dds': dds, 'results': results})
    print(f'\nraw results: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
