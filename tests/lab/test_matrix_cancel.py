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
CELLS = ["--configs", "udp-blocked,symmetric", "--policies", "all", "--jobs", "2"]
"""4 cells, 2 at a time; a udp-blocked cell takes ≈10 s (aioice's STUN timeouts), so all of
them together take far longer than STOP_WITHIN."""
STOP_WITHIN = 10.0
"""Seconds the interrupted run may take to stop and clean up."""


def _labs(rundir: Path) -> set[str]:
    return {p.parent.name for p in rundir.glob("*/lab.json")}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_matrix_stops_and_leaves_nothing(sig: signal.Signals, tmp_path: Path) -> None:
    rundir = tmp_path / "run"  # a private registry: these labs only
    links = namespaces.host_links()
    proc = subprocess.Popen(
        [*MATRIX, *CELLS],
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
        # calls under way: a peer runs in one of the labs (a loaded machine may take a
        # few seconds to get there)
        while not any(namespaces.pids_of_lab(n) for n in _labs(rundir)):
            assert time.monotonic() < deadline, f"no peer was running in {_labs(rundir)}"
            time.sleep(0.05)
        before = _labs(rundir)  # what runs when the signal goes
        t0 = time.monotonic()
        proc.send_signal(sig)
        after: set[str] = set()
        while proc.poll() is None and time.monotonic() - t0 < STOP_WITHIN:
            after |= _labs(rundir)
            time.sleep(0.01)
        _, stderr = proc.communicate(timeout=1.0)
        stopped = time.monotonic() - t0
        seen |= before | after
    finally:
        if proc.poll() is None:  # it did not stop: kill it, and collect what it left
            proc.kill()
            proc.communicate()
            _down_all(rundir)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert stopped < STOP_WITHIN
    # Queued cells are dropped: of the 4 cells, not all ran. (A lab may still appear after
    # the signal: a cell that took its worker just before the interrupt was handled builds
    # its lab after it; that is one cell at most, never the whole queue.)
    assert len(seen) < 4, f"queued cells ran after the interrupt: every cell's lab {seen}"
    assert _labs(rundir) == set(), stderr
    for name in seen:
        assert_nothing_left(name, links)


def _down_all(rundir: Path) -> subprocess.CompletedProcess[str]:
    """`nattest down --all` of this test's private registry."""
    return subprocess.run(
        [*MATRIX[:-1], "down", "--all"],
        env={**os.environ, "NATTEST_RUNDIR": str(rundir)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _zygotes_of(parent: int) -> list[int]:
    """Fork servers whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if "nattest.backends.netns.zygote" in cmd and ppid == parent:
            found.append(int(entry.name))
    return found


def test_killed_matrix_is_collected_by_down_all(tmp_path: Path) -> None:
    """SIGKILL (no handler runs) while cells run with warm-started peers: the fork servers
    go with their client (end of file), and `nattest down --all` removes the labs, their
    peers included (found in the labs' namespaces). The netns backend's fork servers: a
    docker lab's SIGKILL is tests/docker's."""
    rundir = tmp_path / "run"
    links = namespaces.host_links()
    proc = subprocess.Popen(
        [*MATRIX, *CELLS, "--backend", "netns"],
        env={**os.environ, "NATTEST_RUNDIR": str(rundir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen: set[str] = set()
    try:
        try:
            deadline = time.monotonic() + 30
            while not any(namespaces.pids_of_lab(n) for n in seen):
                assert time.monotonic() < deadline, f"no peer was running in {seen}"
                seen |= _labs(rundir)
                time.sleep(0.05)
            seen |= _labs(rundir)
            servers = _zygotes_of(proc.pid)
            assert servers, "the matrix started no fork server"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert any(namespaces.pids_of_lab(n) for n in seen), "SIGKILL leaves the peers running"
        deadline = time.monotonic() + 5
        while any(Path(f"/proc/{pid}").exists() for pid in servers):
            assert time.monotonic() < deadline, f"fork servers {servers} outlived their client"
            time.sleep(0.02)
        down = _down_all(rundir)
        assert down.returncode == 0, down.stderr
        assert _labs(rundir) == set()
        for name in seen:
            assert_nothing_left(name, links)
    finally:
        if _labs(rundir):  # an assertion above failed: leave nothing behind all the same
            _down_all(rundir)
