#!/usr/bin/env python3
"""Wall time of the whole matrix (8 × 8 with policy all, plus the relay-only row).

Usage: bench/matrix.py [--jobs 12] [--runs 1]
Prints, per run: the wall time (target ≤ 40 s on a 2-core machine), the three verdicts,
the per-cell median, and where cell time goes: lab setup; the call's peers (gathering and
connecting from the offer, media, the rest of the peers' run: signaling waits, the done
exchange, closing); peer start-up and exit (call wall time beyond the longer peer run);
teardown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nattest.matrix.expectations import load_expectations
from nattest.matrix.run import MatrixOptions, plan_cells, run_matrix
from nattest.matrix.verdict import MatrixCell


def phases(cell: MatrixCell) -> dict[str, float]:
    """Seconds of one cell per phase; they add up to its total."""
    t, call = cell.timings, cell.result
    runs = [p.call_duration or 0.0 for p in (call.caller, call.callee)] if call else [0.0]
    peer_run = max(runs)
    connecting, media = t.get("connecting", 0.0), t.get("media", 0.0)
    return {
        "lab setup": t.get("lab_setup", 0.0),
        "connecting": connecting,
        "media": media,
        "signaling/done/close": max(peer_run - connecting - media, 0.0),
        "peer start+exit": max(t.get("call", 0.0) - peer_run, 0.0),
        "teardown": t.get("teardown", 0.0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=MatrixOptions().cells_at_once())
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    table = load_expectations()
    cells = plan_cells(table)
    for run in range(args.runs):
        result = run_matrix(cells, MatrixOptions(jobs=args.jobs), table)
        totals = [c.timings.get("total", 0.0) for c in result.cells]
        v = result.verdict_counts()
        print(
            f"run {run + 1}: {len(cells)} cells, {args.jobs} at a time: wall "
            f"{result.wall_time:.1f} s (target ≤ 40 s); {v['as expected']} as expected, "
            f"{v['deviation']} deviations, {v['differs']} differ"
        )
        print(
            f"  per cell: median {statistics.median(totals):.2f} s, "
            f"range {min(totals):.2f}–{max(totals):.2f} s"
        )
        spent: dict[str, float] = {}
        for c in result.cells:
            for k, s in phases(c).items():
                spent[k] = spent.get(k, 0.0) + s
        whole = sum(spent.values()) or 1.0
        print(
            "  share of cell time: "
            + "  ".join(f"{k} {100 * s / whole:.0f}%" for k, s in spent.items())
        )
        gathering = sum(c.timings.get("gathering", 0.0) for c in result.cells)
        print(f"  (gathering, within the peers' run: {100 * gathering / whole:.0f}%)")
        slow = sorted(result.cells, key=lambda c: -c.timings.get("total", 0.0))[:3]
        print("  slowest: " + ", ".join(f"{c.id} {c.timings.get('total', 0):.1f} s" for c in slow))
        for c in result.failures():
            print(f"  ✘ {c.id}: {c.why}")


if __name__ == "__main__":
    main()
