#!/usr/bin/env bash
# Create the benchmark virtualenv (default /tmp/bench_work/venv) with the TF Object Detection
# API of the original scripts, for postprocess_vs_od_api.py and plot_latency.py.
# Usage: bash benchmarks/setup_venv.sh [VENV_DIR] [PYTHON]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-/tmp/bench_work/venv}"
python="${2:-python3}"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q -r "$here/requirements.txt"
"$venv/bin/pip" install -q --no-deps tensorflow-object-detection-api==0.1.1
"$venv/bin/python" -c 'import object_detection.utils.ops, object_detection.utils.visualization_utils' \
  && echo "benchmark venv ready: $venv"
