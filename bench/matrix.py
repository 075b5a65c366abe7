#!/usr/bin/env python3
"""Wall time of the whole matrix (8 × 8 with policy all, plus the relay-only row).

Usage: bench/matrix.py [--jobs 8] [--runs 1]
Prints the wall time (target ≤ 60 s on a 2-core machine), the per-cell median, and the
share of cell time spent on lab setup, gathering, connecting and media.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nattest.matrix.expectations import load_expectations
from nattest.matrix.run import MatrixOptions, plan_cells, run_matrix

PHASES = ("lab_setup", "gathering", "connecting", "media")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    table = load_expectations()
    cells = plan_cells(table)
    for run in range(args.runs):
        result = run_matrix(cells, MatrixOptions(jobs=args.jobs), table)
        totals = [c.timings.get("total", 0.0) for c in result.cells]
        phase = {k: sum(c.timings.get(k, 0.0) for c in result.cells) for k in PHASES}
        spent = sum(totals) or 1.0
        ok = result.counts().get("ok", 0)
        print(
            f"run {run + 1}: {len(cells)} cells, {args.jobs} at a time: "
            f"wall {result.wall_time:.1f} s (target ≤ 60 s), {ok}/{len(cells)} as expected"
        )
        print(
            f"  per cell: median {statistics.median(totals):.2f} s, "
            f"range {min(totals):.2f}–{max(totals):.2f} s"
        )
        other = spent - sum(phase.values())
        shares = "  ".join(f"{k} {100 * v / spent:.0f}%" for k, v in phase.items())
        print(
            f"  share of cell time: {shares}  other (peer start-up, teardown) "
            f"{100 * other / spent:.0f}%"
        )
        slow = sorted(result.cells, key=lambda c: -c.timings.get("total", 0.0))[:3]
        print("  slowest: " + ", ".join(f"{c.id} {c.timings.get('total', 0):.1f} s" for c in slow))


if __name__ == "__main__":
    main()
