"""The docker backend on the real engine: nodes are containers, wired like namespaces, cut
off from every real network, and nothing of a lab survives (also a SIGKILLed nattest)."""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from nattest.backends.docker import engine
from nattest.backends.docker.lab import DockerLab, image
from nattest.backends.netns import namespaces
from nattest.model.load import load_topology
from tests.lab.conftest import TOPOLOGIES, host_state, lab_containers

NATTEST = [sys.executable, "-m", "nattest.cli"]


def test_nodes_are_containers_of_the_image_and_nothing_stays(lab_name: str) -> None:
    before = host_state()
    topo = load_topology(TOPOLOGIES / "port-restricted-cone.yaml")
    lab = DockerLab.up(topo, lab_name)
    try:
        names = [f"nt-{lab_name}-{n}" for n in topo.nodes()]
        assert lab_containers(lab_name) == sorted(names)
        for name in names:
            box = engine.client().containers.get(name)
            assert box.image.tags == [image()] and box.status == "running"
            assert box.attrs["HostConfig"]["NetworkMode"] == "none"
            assert not box.attrs["HostConfig"]["Privileged"]
        # the node runs the image's files, sees the lab folder at its path, and has only
        # the lab's interface
        out = lab.exec(
            "alice",
            ["sh", "-c", 'cat /etc/os-release; ls -d "$1"; ip -o link', "sh", str(lab.workdir)],
            check=False,
        )
        assert "bookworm" in out.stdout and str(lab.workdir) in out.stdout, out
        links = [ln.split(":")[1].strip() for ln in out.stdout.splitlines() if ": " in ln]
        assert [x.split("@")[0] for x in links if x != "lo"] == ["eth0"], out.stdout
        assert lab.exec("alice", ["ping", "-c1", "-W2", "203.0.113.2"]).returncode == 0
        assert host_state()["addresses"] == before["addresses"]
        assert host_state()["routes"] == before["routes"]
    finally:
        lab.down()
    assert lab_containers(lab_name) == []
    assert namespaces.list_namespaces(f"nt-{lab_name}-") == []
    assert lab.leftovers() == []


def test_no_node_reaches_the_engine_or_anything_outside_the_lab(lab_name: str) -> None:
    """Not the engine's bridge gateway, not the host's own addresses, not an address outside
    the lab (a documentation one, so nothing could leave even if a route did):
    from every node (hosts behind NATs, the NATs, the servers)."""
    subnet = engine.client().networks.get("bridge").attrs["IPAM"]["Config"][0]["Subnet"]
    gateway = str(next(ipaddress.ip_network(subnet).hosts()))  # docker0's own address
    host = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True
    ).stdout.split()
    own = [a.split("/")[0] for a in host if "/" in a and not a.startswith(gateway)][:2]
    targets = [gateway, "192.0.2.99", *own]
    topo = load_topology(TOPOLOGIES / "symmetric.yaml")
    with DockerLab.up(topo, lab_name) as lab:
        for node in topo.nodes():
            for target in targets:
                ping = lab.exec(node, ["ping", "-c1", "-W1", target], check=False)
                assert ping.returncode != 0, f"{node} reached {target}: {ping.stdout}"


def test_a_sigkilled_nattest_is_collected_by_down_all(lab_name: str, tmp_path: Path) -> None:
    env = {**os.environ, "NATTEST_RUNDIR": str(tmp_path / "run")}
    proc = subprocess.Popen(
        [
            *NATTEST,
            "up",
            str(TOPOLOGIES / "symmetric.yaml"),
            "--backend",
            "docker",
            "--name",
            lab_name,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    collected = False
    try:
        deadline = time.monotonic() + 60
        while not lab_containers(lab_name) and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # mid-build: containers made, maybe not wired yet
        proc.communicate(timeout=10)
        assert lab_containers(lab_name), "no container of the lab when nattest was killed"
        down = subprocess.run([*NATTEST, "down", "--all"], env=env, capture_output=True, text=True)
        collected = True
        assert down.returncode == 0, down.stdout + down.stderr
        assert lab_containers(lab_name) == []
        assert namespaces.list_namespaces(f"nt-{lab_name}-") == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if not collected:  # an assertion above failed: leave nothing behind all the same
            subprocess.run([*NATTEST, "down", "--all"], env=env, capture_output=True)


def test_engine_problems_are_usage_errors_that_leave_nothing(lab_name: str, tmp_path: Path) -> None:
    base = {**os.environ, "NATTEST_RUNDIR": str(tmp_path / "run")}
    cases = [
        ({"DOCKER_HOST": "tcp://127.0.0.1:1"}, "remote engine"),
        ({"DOCKER_HOST": "unix:///nonexistent.sock"}, "no Docker engine at /nonexistent.sock"),
        ({"NATTEST_DOCKER_IMAGE": "nattest-missing:0"}, "image nattest-missing:0 is not in"),
    ]
    for extra, message in cases:
        done = subprocess.run(
            [
                *NATTEST,
                "up",
                str(TOPOLOGIES / "open.yaml"),
                "--backend",
                "docker",
                "--name",
                lab_name,
            ],
            env={**base, **extra},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2 and message in done.stdout + done.stderr, (extra, done)
        assert lab_containers(lab_name) == []


def test_your_own_image_runs_behind_the_nat_and_reaches_the_lab_turn(lab_name: str) -> None:
    """topologies/own-image.yaml: alice is a plain image (not a nattest peer) running
    coturn's turnutils_uclient from the NATTEST_* variables it is given; its two relayed
    allocations exchange their messages (20 each way at least) without a loss, through
    nat-a (its conntrack holds the mapping)."""
    from nattest.lab import build_lab

    topo = load_topology(TOPOLOGIES / "own-image.yaml")
    lab = build_lab(topo, lab_name, backend="docker")
    try:
        app = engine.client().containers.get(f"nt-{lab_name}-alice-app")
        status = app.wait(timeout=60)
        logs = app.logs().decode(errors="replace")
        totals = re.findall(r"start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", logs)
        assert status["StatusCode"] == 0 and totals, logs[-2000:]
        sent, received = map(int, totals[-1])
        assert sent >= 20 and received == sent, logs[-2000:]  # every message came back
        assert "Total lost packets 0 " in logs, logs[-2000:]
        env = dict(e.split("=", 1) for e in app.attrs["Config"]["Env"])
        assert env["MY_SETTING"] == "from the topology"
        assert env["NATTEST_TURN_URL"] == "turn:203.0.113.2:3478?transport=udp"
        flows = lab.exec("nat-a", ["conntrack", "-L", "-p", "udp", "--dport", "3478"]).stdout
        assert "src=10.0.1.10" in flows and "dst=203.0.113.11" in flows, flows  # NATed
    finally:
        lab.down()
    assert lab_containers(lab_name) == []
