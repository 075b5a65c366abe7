#!/usr/bin/env python3
"""Lab up + down time of a two-NAT lab with coturn and signaling (target: median ≤ 0.5 s).

Usage: bench/lab_up.py [--runs 10] [--topology topologies/symmetric.yaml]
Prints the median and the range over the runs, and where the time goes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nattest.lab import build_lab
from nattest.model.load import load_topology


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument(
        "--topology", default=str(Path(__file__).parents[1] / "topologies/symmetric.yaml")
    )
    args = ap.parse_args()
    topo = load_topology(args.topology)
    totals, parts = [], {"network": [], "rulesets": [], "services": [], "down": []}
    for i in range(args.runs):
        t0 = time.perf_counter()
        lab = build_lab(topo, f"bench-{i}")
        lab.down()
        totals.append(time.perf_counter() - t0)
        for k in parts:
            parts[k].append(lab.timings.get(k, 0.0))  # type: ignore[attr-defined]
    ms = [t * 1000 for t in totals]
    print(
        f"lab up+down ({topo.name}: {len(topo.nodes())} nodes, {len(topo.networks)} networks, "
        f"coturn + signaling), {args.runs} runs"
    )
    print(
        f"  median {statistics.median(ms):.0f} ms   range {min(ms):.0f}–{max(ms):.0f} ms   "
        f"target ≤ 500 ms"
    )
    for k, v in parts.items():
        print(f"  {k:9} median {statistics.median(v) * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
