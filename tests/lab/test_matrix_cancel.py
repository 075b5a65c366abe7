"""Ctrl-C or SIGTERM during `nattest matrix`: queued cells are dropped, running ones stopped,
every lab torn down, within 10 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nattest.backends.netns import namespaces

from .conftest import assert_nothing_left

MATRIX = [sys.executable, "-m", "nattest.cli", "matrix"]
STOP_WITHIN = 10.0
"""Seconds the interrupted run may take to stop and clean up."""


def _labs(rundir: Path) -> set[str]:
    return {p.parent.name for p in rundir.glob("*/lab.json")}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_matrix_stops_and_leaves_nothing(sig: signal.Signals, tmp_path: Path) -> None:
    rundir = tmp_path / "run"  # a private registry: these labs only
    links = namespaces.host_links()
    # 4 cells, 2 at a time; a udp-blocked cell takes ≈10 s (aioice's STUN timeouts), so
    # all of them together would take far longer than STOP_WITHIN
    proc = subprocess.Popen(
        [*MATRIX, "--configs", "udp-blocked,symmetric", "--policies", "all", "--jobs", "2"],
        env={**os.environ, "NATTEST_RUNDIR": str(rundir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline and proc.poll() is None:
            seen |= _labs(rundir)
            time.sleep(0.05)
        assert len(seen) == 2, f"two cells should be running, saw labs {seen}"
        time.sleep(1.0)  # peers started, calls under way
        seen |= _labs(rundir)
        assert any(namespaces.pids_of_lab(name) for name in seen), "no peer was running"
        t0 = time.monotonic()
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=STOP_WITHIN)
        stopped = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert stopped < STOP_WITHIN
    assert len(seen) == 2, f"queued cells started after the interrupt: {seen}"
    assert _labs(rundir) == set()
    for name in seen:
        assert_nothing_left(name, links)
