#!/usr/bin/env python3
"""Lab up + down time of a two-NAT lab with coturn and signaling, in-process and from the
shell (`nattest up` then `nattest down`, two fresh CLI processes, as a user runs them).

Usage: bench/lab_up.py [--runs 10] [--topology topologies/symmetric.yaml]
Prints the median and the range over the runs, where the in-process time goes, and the
shell figures (target: median ≤ 0.35 s for up + down).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
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
        "(in-process)"
    )
    for k, v in parts.items():
        print(f"  {k:9} median {statistics.median(v) * 1000:6.1f} ms")
    nattest = str(Path(__file__).parents[1] / ".venv/bin/nattest")
    ups, downs = [], []
    for i in range(args.runs):
        t0 = time.perf_counter()
        up = [nattest, "up", args.topology, "--name", f"bench-sh{i}"]
        subprocess.run(up, check=True, stdout=subprocess.DEVNULL)
        t1 = time.perf_counter()
        subprocess.run([nattest, "down", f"bench-sh{i}"], check=True, stdout=subprocess.DEVNULL)
        t2 = time.perf_counter()
        ups.append(t1 - t0)
        downs.append(t2 - t1)
    both = [u + d for u, d in zip(ups, downs, strict=True)]
    print(
        f"from the shell: nattest up + nattest down median {statistics.median(both) * 1000:.0f} ms"
        f" (up {statistics.median(ups) * 1000:.0f} ms, down {statistics.median(downs) * 1000:.0f}"
        f" ms), range {min(both) * 1000:.0f}–{max(both) * 1000:.0f} ms   target ≤ 350 ms"
    )


if __name__ == "__main__":
    main()
