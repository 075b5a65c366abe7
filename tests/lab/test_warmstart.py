"""Warm starts (``Lab.spawn_python`` on the netns backend): a module forked from its fork
server runs inside the node's namespace with the given environment and files, reports its
exit status like a Popen, is stopped by teardown, and no fork server outlives its client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nattest.backends.base import Lab, Process
from nattest.backends.netns import namespaces, warmstart
from nattest.lab import build_lab
from nattest.model.load import load_topology

from .conftest import TOPOLOGIES

PROBE = "tests.fixtures.warm_probe"
ROOT = Path(__file__).parents[2]


@pytest.fixture
def lab(lab_name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the probe's fork server finds tests/
    monkeypatch.delenv(warmstart.COLD_ENV, raising=False)
    # the netns backend's own mechanism, whatever NATTEST_BACKEND says (a docker lab starts
    # Python cold, in its containers)
    topology = load_topology(TOPOLOGIES / "open.yaml")
    lab = build_lab(topology, lab_name, services=False, backend="netns")
    try:
        yield lab
    finally:
        lab.down()


def _spawn(lab: Lab, folder: Path, code: int, seconds: float) -> tuple[Process, Path, Path]:
    folder.mkdir(exist_ok=True)
    out, log = folder / "facts.json", folder / "probe.log"
    with log.open("wb") as f:
        proc = lab.spawn_python(
            "alice",
            PROBE,
            [str(out), str(code), str(seconds)],
            log=f,
            env={**os.environ, "PROBE": "yes"},
        )
    return proc, out, log


def test_runs_in_the_node_with_its_env_and_files(lab: Lab, tmp_path: Path) -> None:
    proc, out, log = _spawn(lab, tmp_path, code=3, seconds=0.0)
    assert isinstance(proc, warmstart.WarmProcess)  # forked, not a fresh interpreter
    assert proc.wait(10) == 3
    facts = json.loads(out.read_text())
    ns = f"net:[{namespaces.inode(lab.node_ref('alice'))}]"
    assert facts["netns"] == ns != os.readlink("/proc/self/ns/net")
    assert (facts["lab"], facts["probe"]) == (lab.name, "yes")
    assert facts["argv"][1:] == [str(out), "3", "0.0"]
    assert facts["session_leader"]  # its own session: Ctrl-C reaches nattest, not the peer
    assert "probe stdout" in log.read_text() and "probe stderr" in log.read_text()


def test_kill_and_teardown_stop_it(lab: Lab, tmp_path: Path) -> None:
    proc, out, _ = _spawn(lab, tmp_path, code=0, seconds=60.0)
    deadline = time.monotonic() + 10
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None
    proc.kill()
    assert proc.wait(5) == -signal.SIGKILL
    _, out2, _ = _spawn(lab, tmp_path / "second", 0, 60.0)
    while not out2.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    pid = json.loads(out2.read_text())["pid"]
    lab.down()  # teardown finds it in the node's namespace
    assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_cold_start_when_asked(lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(warmstart.COLD_ENV, "1")
    proc, out, _ = _spawn(lab, tmp_path, code=0, seconds=0.0)
    assert isinstance(proc, subprocess.Popen)
    assert proc.wait(30) == 0
    assert json.loads(out.read_text())["probe"] == "yes"


CLIENT = """
import sys, time
from nattest.backends.netns import warmstart
server = warmstart.server_for("tests.fixtures.warm_probe")
server.start()
print(server._proc.pid, flush=True)
time.sleep(60)
"""


def test_fork_server_ends_with_its_client() -> None:
    """A client killed with SIGKILL (no atexit) leaves no fork server: it sees end of file."""
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert client.stdout is not None
        server_pid = int(client.stdout.readline())
        assert Path(f"/proc/{server_pid}").exists()
    finally:
        client.kill()
        client.wait()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{server_pid}").exists() and not _zombie(server_pid):
        assert time.monotonic() < deadline, f"fork server {server_pid} outlived its client"
        time.sleep(0.02)


def test_falls_back_to_a_cold_start(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fork server that cannot start the module (it died, the socket broke) costs speed,
    not the start: the module runs cold, and the log says why."""

    class Broken:
        def spawn(self, *args: object, **kwargs: object) -> None:
            raise OSError("warm start of tests.fixtures.warm_probe failed: the fork server exited")

    monkeypatch.setattr(warmstart, "server_for", lambda module: Broken())
    proc, out, _ = _spawn(lab, tmp_path, code=4, seconds=0.0)
    assert isinstance(proc, subprocess.Popen)
    assert proc.wait(30) == 4
    assert json.loads(out.read_text())["lab"] == lab.name
    assert "starting it cold" in caplog.text and "the fork server exited" in caplog.text
