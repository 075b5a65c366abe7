#!/usr/bin/env python3
"""Time of `nattest check-turn` against a healthy coturn, udp + tcp + tls, call included.

Usage: bench/check_turn.py [--runs 5]
Builds the open lab (its coturn), then runs `python -m nattest.cli check-turn` from the
alice node as a user would: a fresh process each run. Prints the median wall time (target
≤ 2 s) and the report's own time, and the slowest stage.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nattest.lab import open_lab  # noqa: E402
from nattest.model.load import load_topology  # noqa: E402
from nattest.services.credentials import LabServices  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with open_lab(load_topology(ROOT / "topologies/open.yaml")) as lab:
        services = LabServices.load(lab.workdir)
        user, password = services.turn_credentials("bench")
        host = services.turn_address
        walls, inner, slow = [], [], []
        for i in range(args.runs):
            out = lab.workdir / f"check-{i}.json"
            argv = lab.python_argv(
                "alice", "nattest.cli", "check-turn", f"turn:{host}", f"turns:{host}",
                "--user", user, "--ca", services.turn_cert, "--json", str(out),
            )  # fmt: skip
            env = {"NATTEST_TURN_PASSWORD": password, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
            t0 = time.perf_counter()
            done = lab.exec("alice", argv, check=False, timeout=60, env=env)
            walls.append(time.perf_counter() - t0)
            report = json.loads(out.read_text())
            if done.returncode != 0:
                print(f"  run {i + 1}: check failed:\n{done.stdout[-800:]}")
            inner.append(report["wallTime"])
            steps = [
                (s["seconds"] or 0, c["transport"], s["step"])
                for c in report["checks"]
                for s in c["steps"]
            ]
            slow.append(max(steps))
    print(
        f"check-turn udp+tcp+tls with the call, {args.runs} runs: median "
        f"{statistics.median(walls):.2f} s wall from the shell (target ≤ 2 s), "
        f"{statistics.median(inner):.2f} s inside the check; "
        f"slowest stage {max(slow)[2]} over {max(slow)[1]} {max(slow)[0]:.2f} s"
    )


if __name__ == "__main__":
    main()
