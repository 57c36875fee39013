"""Draw latency_vs_model_time.png from the raw results of pipeline_latency.py.

Left: latency against model time T (log-log); right: the same latency minus T, where the
designs' differences of tens of milliseconds show. Run with an interpreter that has matplotlib
(the benchmark venv), naming one or more results files (default: the run README.md reports):
/tmp/bench_work/venv/bin/python benchmarks/plot_latency.py [RESULTS.json ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_INPUTS = [Path('/tmp/bench_work/pipeline_latency.json')]
OUTPUT = HERE / 'latency_vs_model_time.png'
LABELS = {'pipelined': 'node (default)',
          'pipelined_overlap': 'node, output_wait_fraction 0',
          'pipelined_no_wait': 'node, frame_wait_fraction 0',
          'pipelined_reliable': 'node (reliable in)',
          'naive': 'naive (callback, depth 10)'}
COLOURS = ['tab:red', 'tab:blue', 'tab:green', 'tab:purple', 'tab:orange', 'tab:brown']


def plot(*paths, output=OUTPUT) -> Path:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    runs = [json.loads(Path(path).read_text()) for path in paths or DEFAULT_INPUTS
            if Path(path).exists()]
    fig, (ax, over) = plt.subplots(1, 2, figsize=(11.0, 4.6), dpi=90)
    times = sorted({r['T_s'] for run in runs for r in run['results']})
    ideal = [1000 * t for t in times]
    ax.plot(ideal, ideal, color='grey', linestyle=':', label='T (model time)')
    ax.plot(ideal, [t + 30 for t in ideal], color='black', linestyle=':', linewidth=0.8,
            label='target p95: T + 30 ms')
    over.axhline(30, color='black', linestyle=':', linewidth=0.8, label='target p95: T + 30 ms')
    colours = iter(COLOURS)
    for run in runs:
        dds = '' if run.get('dds', 'Fast DDS defaults') != 'Fast DDS defaults' else \
            ', Fast DDS defaults'
        for design in LABELS:
            rows = sorted((r for r in run['results'] if r['design'] == design),
                          key=lambda r: r['T_s'])
            if not rows:
                continue
            colour = next(colours)
            x = [1000 * r['T_s'] for r in rows]
            label = LABELS[design] + dds
            for axis, minus in ((ax, [0.0] * len(x)), (over, x)):
                axis.plot(x, [r['latency_p50_ms'] - m for r, m in zip(rows, minus, strict=True)],
                          marker='o', color=colour, label=f'{label}: p50')
                axis.plot(x, [r['latency_p95_ms'] - m for r, m in zip(rows, minus, strict=True)],
                          marker='^', color=colour, linestyle='--', label=f'{label}: p95')
    duration = runs[0]['duration_s'] if runs else 0
    fig.suptitle(f'1280x720 bgr8 camera at 30 Hz, {duration:g} s per point', fontsize=10)
    for axis in (ax, over):
        axis.set_xscale('log')
        axis.set_xlabel('model time T per frame (ms)')
        axis.set_xticks(ideal, [f'{t:g}' for t in ideal])
        axis.grid(True, which='both', alpha=0.3)
    ax.set_yscale('log')
    ax.set_ylabel('end-to-end latency, image stamp -> result (ms)')
    over.set_yscale('symlog', linthresh=100)
    over.set_ylim(bottom=0)
    over.set_ylabel('latency - T (ms)')
    ax.legend(fontsize=6.5, loc='upper left', ncol=2)
    fig.tight_layout()
    fig.savefig(output)
    plt.close(fig)
    return Path(output)


if __name__ == '__main__':
    print(plot(*sys.argv[1:]))
