"""When the engine stops answering mid-teardown, and when a lab's record is lost: nattest
says what happened and how to recover, and ``down --all`` then collects everything
(containers found by their labels), while another run folder's labs are left alone.

The hang is injected on the way to the real engine: nattest talks to it through a unix
socket proxy that stops relaying at the first container listing (what a wedged dockerd
does: the connection stays open, no reply ever comes)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nattest.backends.docker import containers, engine
from nattest.backends.netns import namespaces
from nattest.model.load import load_topology
from tests.lab.conftest import TOPOLOGIES, lab_containers

NATTEST = [sys.executable, "-m", "nattest.cli"]
SYMMETRIC = TOPOLOGIES / "symmetric.yaml"


class FreezingProxy:
    """A unix socket relaying to the engine's until a request's bytes contain `trigger`;
    from then on it relays nothing more (connections stay open) until `thaw()`."""

    def __init__(self, path: Path, trigger: bytes) -> None:
        self.path = path
        self.trigger = trigger
        self.frozen = threading.Event()
        self.thawed = threading.Event()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def thaw(self) -> None:
        self.thawed.set()

    def close(self) -> None:
        self.thaw()
        self.server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(engine.socket_path())
            for a, b, check in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._relay, args=(a, b, check), daemon=True).start()

    def _relay(self, src: socket.socket, dst: socket.socket, check: bool) -> None:
        try:
            while data := src.recv(65536):
                if check and self.trigger in data and not self.thawed.is_set():
                    self.frozen.set()
                if self.frozen.is_set() and not self.thawed.is_set():
                    self.thawed.wait()
                    return  # the engine was restarted: what was in flight is lost
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                s.close()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[FreezingProxy]:
    p = FreezingProxy(tmp_path / "engine.sock", b"/containers/json")
    yield p
    p.close()


def nattest(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NATTEST, *args], env=env, capture_output=True, text=True, timeout=120)


def up(name: str, env: dict[str, str]) -> None:
    done = nattest(
        "up", str(SYMMETRIC), "--backend", "docker", "--name", name, "--no-services", env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_engine_that_stops_answering_mid_teardown_is_named_and_recoverable(
    lab_name: str, tmp_path: Path, proxy: FreezingProxy
) -> None:
    env = {**os.environ, "NATTEST_RUNDIR": str(tmp_path / "run")}
    try:
        up(lab_name, env)
        down = nattest("down", lab_name, env={**env, "DOCKER_HOST": f"unix://{proxy.path}"})
        assert proxy.frozen.is_set(), "the teardown never listed the lab's containers"
        out = down.stdout + down.stderr
        assert down.returncode == 2, out
        assert "stopped answering" in out and f"lab {lab_name}'s containers" in out, out
        assert "nattest down --all" in out, out
        assert "Traceback" not in out, out
        # the netns side went; the containers stay, and so does the record that finds them
        assert namespaces.list_namespaces(f"nt-{lab_name}-") == []
        assert lab_containers(lab_name), "the frozen engine removed the containers after all"
        assert (tmp_path / "run" / lab_name / "lab.json").exists()
        proxy.thaw()  # the engine is back (restarted)
        again = nattest("down", "--all", env=env)
        assert again.returncode == 0 and f"lab {lab_name} down" in again.stdout, again
    finally:
        proxy.thaw()
        nattest("down", "--all", env=env)
    assert lab_containers(lab_name) == []
    assert not (tmp_path / "run" / lab_name).exists()


def test_down_all_collects_containers_whose_record_is_gone_and_no_other_run_folders(
    lab_name: str, tmp_path: Path
) -> None:
    ours = {**os.environ, "NATTEST_RUNDIR": str(tmp_path / "ours")}
    theirs = {**os.environ, "NATTEST_RUNDIR": str(tmp_path / "theirs")}
    other = f"{lab_name}-o"
    try:
        up(lab_name, ours)
        up(other, theirs)
        shutil.rmtree(tmp_path / "ours" / lab_name)  # its record lost
        down = nattest("down", "--all", env=ours)
        assert down.returncode == 0, down.stdout + down.stderr
        assert f"lab {lab_name} down (it had no record" in down.stdout, down.stdout
        assert lab_containers(lab_name) == []
        mine = namespaces.list_namespaces(f"nt-{lab_name}-")
        assert [ns for ns in mine if not ns.startswith(f"nt-{other}-")] == []
        # the other run folder's lab (another pytest worker, another user), named so that
        # its namespaces are named like ours too (nt-<ours>-o-alice), is untouched
        assert other not in down.stdout
        assert len(lab_containers(other)) == len(load_topology(SYMMETRIC).nodes())
        assert all(b.status == "running" for b in containers.lab_containers(other))
        assert nattest("down", "--all", env=ours).stdout.strip() == "no labs"
    finally:
        nattest("down", "--all", env=ours)
        nattest("down", "--all", env=theirs)
    assert lab_containers(other) == []
    assert namespaces.list_namespaces(f"nt-{other}-") == []
