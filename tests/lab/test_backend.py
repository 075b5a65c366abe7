"""The netns backend on the real kernel: isolation, teardown on every path, two labs at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nattest.backends import records
from nattest.backends.netns import NetnsLab, namespaces
from nattest.errors import CommandError
from nattest.model.load import load_topology

from .conftest import TOPOLOGIES, host_state

NATTEST = [sys.executable, "-m", "nattest.cli"]


def _our_pids(lab_prefix: str) -> list[int]:
    return namespaces.pids_in(namespaces.list_namespaces(lab_prefix))


def test_up_down_leaves_host_untouched_and_nothing_behind(lab_name: str) -> None:
    before = host_state()
    lab = NetnsLab.up(load_topology(TOPOLOGIES / "double-nat.yaml"), lab_name)
    try:
        assert len(namespaces.list_namespaces(f"nt-{lab_name}-")) == 10
        ping = lab.exec("alice", ["ping", "-c1", "-W2", "203.0.113.2"], check=False)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        # private LANs are not reachable from the internet
        assert lab.exec("turn", ["ping", "-c1", "-W1", "192.168.1.10"], check=False).returncode != 0
        assert host_state() == before, "a lab changed the host namespace"
        assert (lab.workdir / "repro.sh").read_text().count("netns add") == 10
    finally:
        lab.down()
    assert namespaces.list_namespaces(f"nt-{lab_name}-") == []
    assert not records.lab_dir(lab_name).exists()
    assert host_state() == before


def test_two_labs_at_once_are_isolated(lab_name: str) -> None:
    topo = load_topology(TOPOLOGIES / "symmetric.yaml")
    with NetnsLab.up(topo, lab_name) as one, NetnsLab.up(topo, f"{lab_name}b") as two:
        # same addresses in both labs, yet independent: conntrack of one is not the other's
        one.exec("alice", ["ping", "-c1", "-W2", "203.0.113.2"])
        ct_one = one.exec("nat-a", ["conntrack", "-L"], check=False).stdout
        ct_two = two.exec("nat-a", ["conntrack", "-L"], check=False).stdout
        assert "10.0.1.10" in ct_one and "10.0.1.10" not in ct_two
    assert namespaces.list_namespaces(f"nt-{lab_name}b-") == []


def test_down_of_a_lab_leaves_a_lab_whose_name_extends_it(lab_name: str) -> None:
    """Labs `x` and `x-2`: nt-x-2-alice is named like a namespace of `x` too (nt-x-*), but
    it is x-2's; `nattest down x` must not touch it (also for a record-less collection)."""
    topo = load_topology(TOPOLOGIES / "symmetric.yaml")
    longer = f"{lab_name}-2"
    with NetnsLab.up(topo, longer) as two:
        theirs = namespaces.list_namespaces(f"nt-{longer}-")
        one = NetnsLab.up(topo, lab_name)
        down = subprocess.run([*NATTEST, "down", lab_name], capture_output=True, text=True)
        assert down.returncode == 0, down.stdout + down.stderr
        one.down()
        assert namespaces.list_namespaces(f"nt-{longer}-") == theirs
        assert two.exec("alice", ["ping", "-c1", "-W2", "203.0.113.2"]).returncode == 0
    assert namespaces.list_namespaces(f"nt-{lab_name}-") == []


def test_failed_build_leaves_nothing(monkeypatch: pytest.MonkeyPatch, lab_name: str) -> None:
    from nattest.backends import plan as plan_mod

    real = plan_mod.plan_lab

    def broken(t, lab):  # type: ignore[no-untyped-def]
        p = real(t, lab)
        p.rulesets[f"nt-{lab}-nat-a"] = "table ip broken { chain c { nonsense } }\n"
        return p

    monkeypatch.setattr("nattest.backends.netns.lab.plan_lab", broken)
    with pytest.raises(CommandError, match=r"nat-a.*nft"):
        NetnsLab.up(load_topology(TOPOLOGIES / "symmetric.yaml"), lab_name)
    assert namespaces.list_namespaces(f"nt-{lab_name}-") == []
    assert not records.lab_dir(lab_name).exists()


def test_duplicate_lab_name_is_a_usage_error(lab_name: str) -> None:
    topo = load_topology(TOPOLOGIES / "open.yaml")
    with NetnsLab.up(topo, lab_name):
        r = subprocess.run(
            [*NATTEST, "up", str(TOPOLOGIES / "open.yaml"), "--name", lab_name],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 2 and "already exists" in r.stderr


def test_cli_up_status_exec_down(lab_name: str) -> None:
    r = subprocess.run(
        [
            *NATTEST,
            "up",
            str(TOPOLOGIES / "port-restricted-cone.yaml"),
            "--name",
            lab_name,
            "--no-services",
        ],
        capture_output=True,
        text=True,
    )
    try:
        assert r.returncode == 0, r.stderr
        assert lab_name in r.stdout and "alice" in r.stdout
        st = subprocess.run(
            [*NATTEST, "status", lab_name, "--json"], capture_output=True, text=True
        )
        import json

        nodes = {n["node"]: n for n in json.loads(st.stdout)[0]["nodes"]}
        assert nodes["nat-a"]["behavior"] == "port-restricted-cone"
        assert nodes["alice"]["behind"] == ["nat-a"]
        ex = subprocess.run(
            [*NATTEST, "exec", lab_name, "alice", "--", "ip", "-br", "addr"],
            capture_output=True,
            text=True,
        )
        assert ex.returncode == 0 and "10.0.1.10/24" in ex.stdout
        code = subprocess.run([*NATTEST, "exec", lab_name, "alice", "--", "sh", "-c", "exit 7"])
        assert code.returncode == 7  # exit code passed through
        bad = subprocess.run(
            [*NATTEST, "exec", lab_name, "carol", "--", "true"], capture_output=True, text=True
        )
        assert bad.returncode == 1 and "no node 'carol'" in bad.stderr
    finally:
        down = subprocess.run([*NATTEST, "down", lab_name], capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert namespaces.list_namespaces(f"nt-{lab_name}-") == []


def test_bad_topology_exit_2_nothing_created(tmp_path: Path, lab_name: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (TOPOLOGIES / "symmetric.yaml").read_text().replace("symmetric\n", "semi-cone\n")
    )
    r = subprocess.run(
        [*NATTEST, "up", str(bad), "--name", lab_name], capture_output=True, text=True
    )
    assert r.returncode == 2
    assert f"{bad}: nats.nat-a.behavior: unknown NAT behaviour 'semi-cone'" in r.stderr
    assert "Traceback" not in r.stderr
    assert (
        namespaces.list_namespaces(f"nt-{lab_name}") == []
        and not records.lab_dir(lab_name).exists()
    )


SCRIPT = """
import sys, time
from nattest.lab import open_lab
from nattest.model.load import load_topology
with open_lab(load_topology(sys.argv[1]), sys.argv[2]) as lab:
    print("up", flush=True)
    time.sleep(60)
"""


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("sig", "started_ignoring_sigint"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["SIGINT", "SIGTERM", "SIGINT-of-a-background-job"],
)
def test_interrupted_run_tears_down(
    sig: signal.Signals, started_ignoring_sigint: bool, lab_name: str
) -> None:
    """`cmd &` in a non-interactive shell starts cmd with SIGINT ignored: still torn down."""
    name = lab_name
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(TOPOLOGIES / "symmetric.yaml"), name],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint if started_ignoring_sigint else None,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        assert namespaces.list_namespaces(f"nt-{name}-")
        assert _our_pids(f"nt-{name}-"), "coturn/signaling should be running"
        proc.send_signal(sig)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert namespaces.list_namespaces(f"nt-{name}-") == []
    assert not records.lab_dir(name).exists()


def _killed_run(name: str, env: dict[str, str] | None = None) -> list[int]:
    """Start a lab in a child, SIGKILL it (no teardown can run); the PIDs of its processes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(TOPOLOGIES / "symmetric.yaml"), name],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    pids = _our_pids(f"nt-{name}-")
    assert pids
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert namespaces.list_namespaces(f"nt-{name}-"), "SIGKILL leaves the lab: down is for that"
    return pids


def test_killed_run_is_collected_by_down_name(lab_name: str) -> None:
    pids = _killed_run(lab_name)
    r = subprocess.run([*NATTEST, "down", lab_name], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert namespaces.list_namespaces(f"nt-{lab_name}-") == []
    time.sleep(0.05)
    assert not any(os.path.exists(f"/proc/{p}") and _is_running(p) for p in pids)


def test_killed_run_is_collected_by_down_all(lab_name: str, tmp_path: Path) -> None:
    # a private run folder: `down --all` then sees this lab only, not other tests' labs
    env = {**os.environ, "NATTEST_RUNDIR": str(tmp_path / "run")}
    pids = _killed_run(lab_name, env)
    assert (tmp_path / "run" / lab_name / "lab.json").exists()
    r = subprocess.run([*NATTEST, "down", "--all"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert f"lab {lab_name} down" in r.stdout
    assert namespaces.list_namespaces(f"nt-{lab_name}-") == []
    assert not (tmp_path / "run" / lab_name).exists()
    time.sleep(0.05)
    assert not any(os.path.exists(f"/proc/{p}") and _is_running(p) for p in pids)


def _is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
