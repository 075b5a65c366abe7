"""`--impair` and `nattest impair` from the shell: a running lab changed by another
process, what `status` shows, exit codes of bad values, nothing left after `down`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from nattest.call.result import CallResult
from nattest.model.load import load_topology
from nattest.pytest_plugin import describe

from .conftest import TOPOLOGIES

NATTEST = [sys.executable, "-m", "nattest.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NATTEST, *args], capture_output=True, text=True, timeout=60)


def test_impair_a_running_lab_from_the_shell(lab_name: str) -> None:
    r = run("up", str(TOPOLOGIES / "symmetric.yaml"), "--name", lab_name, "--no-services",
            "--impair", "nat-a:wan=delay:20ms")  # fmt: skip
    assert r.returncode == 0, r.stderr
    try:
        r = run("impair", lab_name, "alice", "egress.loss:10%,rate:2mbit")
        assert r.returncode == 0, r.stderr
        assert "alice:eth0: egress: loss 10%, rate 2mbit; ingress: rate 2mbit" in r.stdout
        status = json.loads(run("status", lab_name, "--json").stdout)[0]
        impaired = {n["node"]: n.get("impair") for n in status["nodes"]}
        assert impaired["nat-a"] == {"wan": "delay 20ms"}
        assert impaired["alice"] == {"eth0": "egress: loss 10%, rate 2mbit; ingress: rate 2mbit"}
        ping = run("exec", lab_name, "nat-a", "--", "ping", "-c", "2", "-i", "0.2", "203.0.113.2")
        times = [float(w[5:]) for w in ping.stdout.split() if w.startswith("time=")]
        assert ping.returncode == 0 and times and all(39 < t < 60 for t in times), ping.stdout
        r = run("impair", lab_name, "nat-a:wan", "--clear")
        assert r.returncode == 0 and "nat-a:wan: none" in r.stdout, r.stderr
        for args, message in [
            (("impair", lab_name, "nat-a:wan", "delay:20"), "'20' is not a time"),
            (("impair", lab_name, "nat-z:wan", "delay:20ms"), "no link 'nat-z:wan' (links: "),
            (("impair", lab_name, "nat-a:wan"), "give the link's OPTIONS"),
        ]:
            r = run(*args)
            assert r.returncode == 2 and message in r.stderr, (args, r.stderr)
        r = run("impair", "no-such-lab", "nat-a:wan", "delay:1ms")  # as `status`, `exec`
        assert r.returncode == 1 and "no lab named 'no-such-lab'" in r.stderr, r.stderr
    finally:
        assert run("down", lab_name).returncode == 0


def test_bad_impair_and_at_values_are_usage_errors() -> None:
    for args, message in [
        (("call", "--pair", "open:open", "--impair", "alice=loss:5"), "'5' is not a percentage"),
        (("call", "--pair", "open:open", "--impair", "loss:5%"), "expected LINK=OPTIONS"),
        (("call", "--pair", "open:open", "--impair", "carol=loss:5%"), "no link 'carol'"),
        (("up", str(TOPOLOGIES / "open.yaml"), "--impair", "nat-a=delay:1ms"), "no link 'nat-a'"),
    ]:
        r = run(*args)
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)


def test_a_call_over_the_lossy_uplink_topology(nattest_call: Callable[..., CallResult]) -> None:
    topo = load_topology(TOPOLOGIES / "lossy-uplink.yaml")
    call = nattest_call(topo, duration=3.0)
    assert call.connected and call.media_ok, describe(call)
    for peer in (call.caller, call.callee):  # 30 ms ± 5 ms each way (a clean lab: < 5 ms)
        rtt = peer.stats.current_round_trip_time
        assert rtt is not None and rtt >= 0.040, describe(call)


def test_matrix_on_impaired_links(tmp_path: Path) -> None:
    """Four cells with 40 ms each way on alice's link: same verdicts as on clean links, and
    the report says the links were impaired."""
    out = tmp_path / "m.json"
    r = run("matrix", "--configs", "open,port-restricted-cone", "--policies", "all",
            "--impair", "alice=delay:40ms", "--json", str(out))  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "impaired links: alice delay 40ms" in r.stdout
    report = json.loads(out.read_text())
    assert report["impairments"] == {"alice": "delay 40ms"}
    assert len(report["cells"]) == 4
    assert all(c["verdict"] != "differs" for c in report["cells"]), r.stdout
