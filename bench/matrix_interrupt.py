#!/usr/bin/env python3
"""How fast an interrupted `nattest matrix` stops and cleans up (target: ≤ 10 s).

Usage: bench/matrix_interrupt.py [--runs 3] [--after 2.0] [--signal TERM|INT]
Starts the full matrix (8 cells at a time), waits `--after` seconds once the first labs
exist, sends the signal and prints the seconds until the process has exited, with how many
labs were running and whether anything was left (namespaces, lab folders).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one(after: float, sig: signal.Signals) -> tuple[float, int, int]:
    """(seconds to stop, labs running at the signal, namespaces left of those labs)."""
    with tempfile.TemporaryDirectory() as tmp:
        rundir = Path(tmp) / "run"
        proc = subprocess.Popen(
            [sys.executable, "-m", "nattest.cli", "matrix"],
            env={**os.environ, "NATTEST_RUNDIR": str(rundir)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while not list(rundir.glob("*/lab.json")):
            time.sleep(0.02)
        time.sleep(after)
        labs = {p.parent.name for p in rundir.glob("*/lab.json")}
        t0 = time.perf_counter()
        proc.send_signal(sig)
        proc.wait(60)
        stopped = time.perf_counter() - t0
        names = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
        left = [n for n in names if any(n.startswith(f"nt-{lab}-") for lab in labs)]
        return stopped, len(labs), len(left) + len(list(rundir.glob("*/lab.json")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--after", type=float, default=2.0)
    ap.add_argument("--signal", choices=["TERM", "INT"], default="TERM")
    args = ap.parse_args()
    sig = signal.Signals[f"SIG{args.signal}"]
    times = []
    for _ in range(args.runs):
        stopped, running, left = one(args.after, sig)
        times.append(stopped)
        print(
            f"  SIG{args.signal} with {running} cells running: stopped in {stopped:.2f} s, "
            f"{left} lab objects left"
        )
    print(
        f"interrupted matrix: median {statistics.median(times):.2f} s to stop "
        f"(max {max(times):.2f} s, target ≤ 10 s)"
    )


if __name__ == "__main__":
    main()
