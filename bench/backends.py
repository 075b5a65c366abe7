#!/usr/bin/env python3
"""Lab up+down and one call on each backend, side by side.

Usage: bench/backends.py [--runs 10]

For topologies/port-restricted-cone.yaml (two NATs, a TURN/STUN/signaling server) it
builds the lab with its services and tears it down, `--runs` times per backend
(interleaved), and prints the median and range of up+down with the up phases; then one
aiortc call (1 s of media) per backend in a lab that stays up. Target (issue 8): docker
up+down ≤ 3 s median with the images built.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nattest.call.run import CallSpec, run_call  # noqa: E402
from nattest.lab import build_lab  # noqa: E402
from nattest.model.load import load_topology  # noqa: E402

BACKENDS = ("netns", "docker")
PHASES = ("containers", "network", "rulesets", "services", "down")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    topo = load_topology(ROOT / "topologies/port-restricted-cone.yaml")
    walls: dict[str, list[float]] = {b: [] for b in BACKENDS}
    phases: dict[str, dict[str, list[float]]] = {b: {p: [] for p in PHASES} for b in BACKENDS}
    for _ in range(args.runs):
        for backend in BACKENDS:
            t0 = time.perf_counter()
            lab = build_lab(topo, backend=backend, stem="bench")
            lab.down()
            walls[backend].append(time.perf_counter() - t0)
            for p in PHASES:
                if p in lab.timings:
                    phases[backend][p].append(lab.timings[p])
    print(f"lab up+down, {topo.name} with services ({args.runs} runs each, interleaved)")
    for backend in BACKENDS:
        w = walls[backend]
        parts = ", ".join(
            f"{p} {statistics.median(v):.2f}" for p, v in phases[backend].items() if v
        )
        print(
            f"  {backend:7} median {statistics.median(w):.2f} s, range {min(w):.2f}–"
            f"{max(w):.2f} s  ({parts})"
        )
    print("target: docker up+down ≤ 3 s median")
    print("one call, 1 s of media, lab already up")
    for backend in BACKENDS:
        lab = build_lab(topo, backend=backend, stem="bench")
        try:
            t0 = time.perf_counter()
            call = run_call(lab, CallSpec(duration=1.0))
            wall = time.perf_counter() - t0
        finally:
            lab.down()
        pair = call.selected_pair.short() if call.selected_pair else "none"
        state = "connected" if call.connected else f"failed: {call.caller.reason}"
        print(f"  {backend:7} {wall:.2f} s  {state}, {pair}")


if __name__ == "__main__":
    main()
