#!/usr/bin/env python3
"""Time to connected and whole-call time of lab calls, next to an in-process aiortc call,
and the wall time of `nattest call` from the shell.

Usage: bench/call.py [--runs 5] [--duration 1.0]

For open↔open (host↔host) and symmetric↔symmetric (through the relay) it runs real
calls and prints the median time to connected (offer → both peers' ICE completed, the
later of the two) and the median whole-call time (peers started → results read). The
baseline is two RTCPeerConnections in one process (bench/inprocess_call.py), run inside a
lab node in the same run, its offer and answer each delayed by the lab signaling server's
one-way delay: like with like. Target: lab time to connected ≤ 3× in-process. Then it
times `nattest call topologies/open.yaml --duration D` as a user runs it (a fresh CLI:
start-up, lab up, call, lab down); target ≤ 2.5 s for 1 s of media.

Last, peer kinds side by side (issue 11): in the same labs and the same run, interleaved,
the whole-call time of an aiortc↔aiortc and of a chromium↔chromium call (a cell of the
matrix: peers started → results read, Chromium's start-up included) and their time to
connected; and of real matrix cells (`nattest.matrix.run.run_cell`, one at a time: the
cell's own lab up, its call with the matrix's options, lab down, verdict). Target: a
chromium↔chromium cell ≤ 2× an aiortc↔aiortc cell. `--kinds-only` runs just that.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nattest.call.run import CallSpec, run_call  # noqa: E402
from nattest.lab import open_lab  # noqa: E402
from nattest.matrix.run import MatrixOptions, run_cell  # noqa: E402
from nattest.model.load import load_topology  # noqa: E402
from nattest.services.credentials import LabServices  # noqa: E402
from nattest.services.start import SIGNALING_DELAY  # noqa: E402


def connected_time(call) -> float | None:  # type: ignore[no-untyped-def]
    times = [call.caller.time_to_connected, call.callee.time_to_connected]
    return None if None in times else max(t for t in times if t is not None)


def inprocess(lab, runs: int, relay: bool) -> float:  # type: ignore[no-untyped-def]
    """Median in-process call time, run inside the lab's alice node."""
    argv = [sys.executable, str(ROOT / "bench/inprocess_call.py"), "--runs", str(runs)]
    argv += ["--delay", str(SIGNALING_DELAY)]
    env = None
    if relay:
        services = LabServices.load(lab.workdir)
        user, password = services.turn_credentials("bench")
        argv += ["--turn", services.turn_url("udp"), "--turn-username", user, "--relay"]
        env = {**os.environ, "NATTEST_TURN_CREDENTIAL": password}
    out = lab.exec("alice", argv, timeout=180, env=env).stdout
    m = re.search(r"median ([\d.]+) ms", out)
    assert m, out
    return float(m.group(1)) / 1000


KIND_PAIRS = (("aiortc", "aiortc"), ("chromium", "chromium"))
"""Caller and callee kinds compared."""


def kinds_side_by_side(runs: int, duration: float) -> None:
    """Whole-call and time-to-connected medians per kind pair, same labs, interleaved."""
    print(f"peer kinds, same lab, same run, interleaved ({runs} calls each, {duration:g} s media)")
    print(f"{'cell':30} {'kinds':20} {'whole call':>11} {'to connected':>13} {'ratio':>6}  pair")
    for name in ("open", "port-restricted-cone", "symmetric"):
        wall: dict[tuple[str, str], list[float]] = {k: [] for k in KIND_PAIRS}
        ttc: dict[tuple[str, str], list[float]] = {k: [] for k in KIND_PAIRS}
        pairs: dict[tuple[str, str], set[str]] = {k: set() for k in KIND_PAIRS}
        with open_lab(load_topology(ROOT / f"topologies/{name}.yaml")) as lab:
            for _ in range(runs):
                for caller, callee in KIND_PAIRS:
                    spec = CallSpec(duration=duration, caller_kind=caller, callee_kind=callee)
                    t0 = time.perf_counter()
                    call = run_call(lab, spec)
                    wall[(caller, callee)].append(time.perf_counter() - t0)
                    t = connected_time(call)
                    if not call.connected or t is None:
                        print(f"  {name} {caller}↔{callee}: failed: {call.caller.reason}")
                        continue
                    ttc[(caller, callee)].append(t)
                    pairs[(caller, callee)].add(
                        call.selected_pair.short() if call.selected_pair else "none"
                    )
        base = statistics.median(wall[KIND_PAIRS[0]])
        for key in KIND_PAIRS:
            w = statistics.median(wall[key])
            c = statistics.median(ttc[key]) * 1000 if ttc[key] else float("nan")
            print(
                f"{name + '↔' + name:30} {key[0] + '↔' + key[1]:20} {w:9.2f} s {c:10.1f} ms "
                f"{w / base:5.2f}×  {', '.join(sorted(pairs[key]))}"
            )
    print("(whole call in a lab that stays up; a cell of the matrix also builds its lab)")


def cells_side_by_side(runs: int) -> None:
    """Matrix cells as `nattest matrix` runs them, per kind pair, interleaved, one at a
    time: wall time (lab up + call + lab down + verdict) and the lab-up share."""
    print(f"matrix cells, one at a time, interleaved ({runs} each, the matrix's own options)")
    print(f"{'cell':40} {'kinds':20} {'cell time':>10} {'lab up':>8} {'ratio':>6}  verdicts")
    for cell in (
        "open--open--all",
        "port-restricted-cone--port-restricted-cone--all",
        "symmetric--symmetric--all",
        "port-restricted-cone--port-restricted-cone--relay-udp",
    ):
        wall: dict[tuple[str, str], list[float]] = {k: [] for k in KIND_PAIRS}
        setup: dict[tuple[str, str], list[float]] = {k: [] for k in KIND_PAIRS}
        verdicts: dict[tuple[str, str], list[str]] = {k: [] for k in KIND_PAIRS}
        for _ in range(runs):
            for caller, callee in KIND_PAIRS:
                opts = MatrixOptions(jobs=1, caller_kind=caller, callee_kind=callee)
                exp = next(e for e in opts.table().cells if e.id == cell)
                t0 = time.perf_counter()
                result = run_cell(exp, opts)
                wall[(caller, callee)].append(time.perf_counter() - t0)
                setup[(caller, callee)].append(result.timings.get("lab_setup", float("nan")))
                verdicts[(caller, callee)].append(result.verdict)
        base = statistics.median(wall[KIND_PAIRS[0]])
        for key in KIND_PAIRS:
            w = statistics.median(wall[key])
            counts = {v: verdicts[key].count(v) for v in dict.fromkeys(verdicts[key])}
            print(
                f"{cell:40} {key[0] + '↔' + key[1]:20} {w:8.2f} s "
                f"{statistics.median(setup[key]):6.2f} s {w / base:5.2f}×  "
                + ", ".join(f"{n} {v}" for v, n in counts.items())
            )
    print("target: a chromium↔chromium cell ≤ 2× an aiortc↔aiortc cell")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--kinds-only", action="store_true", help="only the peer kinds comparison")
    args = ap.parse_args()
    if args.kinds_only:
        kinds_side_by_side(args.runs, args.duration)
        cells_side_by_side(args.runs)
        return
    rows = []
    for name, relay in (("open", False), ("symmetric", True)):
        with open_lab(load_topology(ROOT / f"topologies/{name}.yaml")) as lab:
            baseline = inprocess(lab, args.runs, relay)
            ttc, wall, pairs = [], [], set()
            for _ in range(args.runs):
                t0 = time.perf_counter()
                call = run_call(lab, CallSpec(duration=args.duration))
                wall.append(time.perf_counter() - t0)
                if not call.connected:
                    print(f"  {name}: call failed: {call.caller.reason or call.callee.reason}")
                    continue
                t = connected_time(call)
                if t is not None:
                    ttc.append(t)
                pairs.add(call.selected_pair.short() if call.selected_pair else "none")
            rows.append((name, relay, baseline, ttc, wall, pairs))
    print("baseline: two aiortc peers in one process inside the lab's alice node, offer → both ICE")
    print("completed; for the relay row both use the lab's TURN with policy relay (same path kind)")
    print(
        f"{'lab call':22} {'in-process':>11} {'lab time to connected':>22} {'ratio':>6} "
        f"{'whole call':>11}  pair"
    )
    for name, relay, baseline, ttc, wall, pairs in rows:
        med = statistics.median(ttc) if ttc else float("nan")
        kind = " (relay)" if relay else " (host)"
        print(
            f"{name + '↔' + name:22} {baseline * 1000:8.1f} ms{kind:8} {med * 1000:10.1f} ms "
            f"{med / baseline:5.1f}× {statistics.median(wall):9.2f} s  {', '.join(sorted(pairs))}"
        )
    print(
        f"target: lab time to connected ≤ 3× in-process (both with {SIGNALING_DELAY * 1000:.0f} ms"
        f" signaling each way); whole call includes {args.duration} s of media"
    )
    cli = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        argv = [str(ROOT / ".venv/bin/nattest"), "call", str(ROOT / "topologies/open.yaml")]
        done = subprocess.run([*argv, "--duration", str(args.duration)], capture_output=True)
        cli.append(time.perf_counter() - t0)
        if done.returncode != 0:
            print(f"  nattest call failed: {done.stdout.decode()[-300:]}")
    print(
        f"nattest call topologies/open.yaml --duration {args.duration:g} from the shell: median "
        f"{statistics.median(cli):.2f} s, range {min(cli):.2f}–{max(cli):.2f} s (target ≤ 2.5 s "
        "for 1 s of media)"
    )
    kinds_side_by_side(args.runs, args.duration)
    cells_side_by_side(args.runs)


if __name__ == "__main__":
    main()
