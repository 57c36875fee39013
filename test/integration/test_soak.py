"""A short soak: a few hundred frames through folder_player -> segmentation_node, nothing lost.

`benchmarks/soak.py` runs the same code for 10,000 frames.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'benchmarks'))

from soak import run_soak  # noqa: E402

FRAMES = 250


def test_short_soak_loses_nothing_and_does_not_drift(tmp_path):
    result = run_soak(FRAMES, height=120, width=160, workdir=str(tmp_path), timeout=240)
    assert result.results >= FRAMES
    # Lock-step: every published image got its result (the last one may still be in flight).
    assert result.lost <= 1
    assert result.dropped_by_node == 0 and result.rejected_by_node == 0
    assert result.round_trip_last_ms < 3 * result.round_trip_first_ms + 20
    assert result.rss_growth_mb < 50
