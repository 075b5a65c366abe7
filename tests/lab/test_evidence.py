"""Evidence on real labs: tcpdump in every namespace records the call (STUN, TURN, DTLS,
SRTP) and nothing of the host; a failing matrix cell, scenario or call keeps its pcaps,
peer logs, CallResult and repro.sh; a passing one keeps nothing; no tcpdump outlives its lab.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nattest.backends.netns import namespaces
from nattest.call.run import run_call
from nattest.call.spec import CallSpec
from nattest.errors import LabError
from nattest.evidence.capture import start_capture
from nattest.evidence.keep import MARKER, EvidenceOptions
from nattest.evidence.pcap import Packet, read_pcap
from nattest.lab import build_lab
from nattest.matrix.expectations import Expectation, load_expectations
from nattest.matrix.run import MatrixOptions, run_cell
from nattest.matrix.verdict import MatrixCell
from nattest.model.configs import pair_topology
from nattest.model.load import load_topology
from nattest.pytest_plugin import describe

from .conftest import TOPOLOGIES, assert_nothing_left

pytest_plugins = ["pytester"]
NATTEST = [sys.executable, "-m", "nattest.cli"]
NODES = {"alice", "bob", "nat-a", "nat-b", "turn"}


def kinds(packets: list[Packet]) -> set[str]:
    """Every kind seen, TURN ChannelData counted as what it carries too."""
    return {p.kind for p in packets} | {p.inner for p in packets if p.inner}


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def test_capture_records_the_call_in_every_node(lab_name: str) -> None:
    lab = build_lab(load_topology(TOPOLOGIES / "symmetric.yaml"), lab_name)
    try:
        capture = start_capture(lab)
        host_ns = os.readlink("/proc/self/ns/net")
        for n in capture.nodes:  # each tcpdump lives in its node, none in the host
            ns = os.readlink(f"/proc/{n.proc.pid}/ns/net")
            assert ns != host_ns and ns == f"net:[{namespaces.inode(lab.node_ref(n.node))}]"
        call = run_call(lab, CallSpec(duration=0.5))
        assert call.connected and call.media_ok, describe(call)
        pcaps = {p.stem: read_pcap(p.read_bytes()) for p in capture.stop()}
        pids = [n.proc.pid for n in capture.nodes]
    finally:
        lab.down()
    assert set(pcaps) == NODES
    assert all(gone(pid) for pid in pids)
    alice = pcaps["alice"]
    # gathering: STUN binding and TURN allocate from alice's private address to the server
    assert any(p.kind == "stun" and p.src.startswith("10.0.1.10:") for p in alice)
    assert any(p.kind == "stun" and p.dst == "203.0.113.2:3478" for p in alice)
    # symmetric NATs on both ends: the call is relayed, DTLS and SRTP inside ChannelData
    for node in ("alice", "bob", "turn"):
        seen = kinds(pcaps[node])
        assert {"stun", "dtls", "rtp", "rtcp"} <= seen, f"{node}: {sorted(seen)}"
    # the router's capture shows both sides of the translation
    nat = pcaps["nat-a"]
    assert any(p.src.startswith("10.0.1.10:") and p.kind == "stun" for p in nat)
    assert any(p.src.startswith("203.0.113.11:") and p.kind == "stun" for p in nat)
    assert not any(p.src.startswith("10.0.1.10:") for p in pcaps["turn"])  # translated


def test_teardown_stops_a_capture_nobody_stopped(lab_name: str, tmp_path: Path) -> None:
    """`nattest up --capture` leaves its tcpdumps to `nattest down`: teardown stops them by
    PID (SIGTERM: each flushes) and the pcaps, written outside the lab folder, stay whole."""
    lab = build_lab(load_topology(TOPOLOGIES / "open.yaml"), lab_name, services=False)
    try:
        capture = start_capture(lab, tmp_path)
        lab.exec("alice", ["ping", "-c", "2", "-i", "0.05", "-W", "1", lab.address("bob")])
    finally:
        lab.down()
    assert all(gone(n.proc.pid) for n in capture.nodes)
    alice = read_pcap((tmp_path / "alice.pcap").read_bytes())
    assert sum(p.kind == "other" and p.dst == lab.address("bob") for p in alice) == 2  # ICMP
    assert "packets captured" in (tmp_path / "alice.tcpdump.log").read_text()


def test_a_capture_that_cannot_start_names_the_node(lab_name: str, tmp_path: Path) -> None:
    lab = build_lab(load_topology(TOPOLOGIES / "open.yaml"), lab_name, services=False)
    try:
        (tmp_path / "bob.pcap").mkdir()  # tcpdump cannot write its pcap there
        with pytest.raises(LabError, match=r"\[bob\] tcpdump exited"):
            start_capture(lab, tmp_path)
        left = namespaces.pids_in(list(lab.plan.namespaces.values()))  # type: ignore[attr-defined]
        assert not [p for p in left if "tcpdump" in namespaces.cmdline(p)]
    finally:
        lab.down()


def test_a_failing_matrix_cell_keeps_its_evidence(tmp_path: Path) -> None:
    table = load_expectations()
    real = table.get("full-cone", "port-restricted-cone")
    wrong = Expectation.model_validate(  # a cell that "must not connect": it will differ
        real.model_dump()
        | {"connect": False, "path": None, "pair": [], "protocol": None, "rfc_pair": None}
        | {"deviation_rule": None}
    )
    opts = MatrixOptions(duration=0.5, evidence=EvidenceOptions(results=tmp_path, capture=True))
    links = namespaces.host_links()
    cell = run_cell(wrong, opts)
    assert cell.lab is not None
    assert_nothing_left(cell.lab, links)
    assert cell.verdict == "differs" and "expected no connection" in cell.why
    assert cell.evidence is not None and Path(cell.evidence.folder) == tmp_path / real.id
    folder = Path(cell.evidence.folder)
    files = set(cell.evidence.files)
    assert {"cell.json", "call.json", "repro.sh", "lab.json", "pcap/summary.txt"} <= files
    nodes = pair_topology(real.caller, real.callee).nodes()
    assert {f"pcap/{n}.pcap" for n in nodes} <= files
    assert {"alice.log", "bob.log", "alice.json", "bob.json"} <= {Path(f).name for f in files}
    assert any(f.endswith("nat-alice.nft") for f in files)
    assert not any(f.endswith(("services.json", "turnserver.conf", ".pem")) for f in files)
    assert all((folder / f).is_file() for f in files)
    assert MatrixCell.model_validate_json((folder / "cell.json").read_text()).why == cell.why
    alice = kinds(read_pcap((folder / "pcap" / "alice.pcap").read_bytes()))
    assert {"stun", "dtls"} <= alice

    stale = tmp_path / real.id  # the same cell, now judged right: its old evidence goes
    cell = run_cell(real, opts)
    assert cell.passed(), cell.why
    assert cell.evidence is None and not stale.exists()


def test_cli_call_and_up_capture(lab_name: str, tmp_path: Path) -> None:
    where = ["--results", str(tmp_path), "--name", lab_name]
    r = subprocess.run(
        [*NATTEST, "call", str(TOPOLOGIES / "open.yaml"), "--capture", "--duration=0.5", *where],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    kept = tmp_path / lab_name
    assert f"evidence kept in {kept}/" in r.stdout
    assert {"stun", "dtls"} <= kinds(read_pcap((kept / "pcap" / "bob.pcap").read_bytes()))
    assert (kept / "call.json").is_file() and (kept / MARKER).is_file()

    up = subprocess.run(
        [*NATTEST, "up", str(TOPOLOGIES / "open.yaml"), "--no-services", "--capture", *where],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"capturing in every node: {kept}/pcap/<node>.pcap" in up.stdout
    assert not (kept / "call.json").exists()  # the call's folder was replaced
    try:
        bob = load_topology(TOPOLOGIES / "open.yaml").node_address("bob")
        ping = [*NATTEST, "exec", lab_name, "alice", "--", "ping", "-c", "1", "-W", "1", bob]
        assert subprocess.run(ping, capture_output=True, timeout=30).returncode == 0
    finally:
        down = subprocess.run([*NATTEST, "down", lab_name], capture_output=True, timeout=60)
    assert down.returncode == 0
    alice = read_pcap((kept / "pcap" / "alice.pcap").read_bytes())
    assert any(p.kind == "other" and p.dst == bob for p in alice)
    assert "alice: 1 lo" in (kept / "pcap" / "interfaces.txt").read_text()


def test_a_failing_scenario_keeps_its_evidence(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Through the plugin: with --nattest-capture, the failing test keeps its folder (pcaps,
    CallResult, peer logs, the failure), the passing one keeps nothing."""
    open_yaml = TOPOLOGIES / "open.yaml"
    pytester.makepyfile(
        test_scenarios=f"""
        def test_fails(nattest_call):
            call = nattest_call({str(open_yaml)!r}, duration=0.5)
            assert not call.connected, "failing on purpose"

        def test_passes(nattest_call):
            assert nattest_call({str(open_yaml)!r}, duration=0.5).connected
        """
    )
    results = tmp_path / "kept"
    r = pytester.runpytest_subprocess(
        "--nattest-capture", "--nattest-results", str(results), "-p", "no:cacheprovider"
    )
    r.assert_outcomes(passed=1, failed=1)
    assert sorted(p.name for p in results.iterdir()) == ["test_scenarios.py--test_fails"]
    folder = results / "test_scenarios.py--test_fails"
    assert "failing on purpose" in (folder / "failure.txt").read_text()
    assert (folder / "call.json").is_file() and (folder / "repro.sh").is_file()
    assert {"stun", "dtls"} <= kinds(read_pcap((folder / "pcap" / "alice.pcap").read_bytes()))
    assert list(folder.glob("calls/*/alice.log"))


def test_an_interrupted_captured_matrix_leaves_no_tcpdump(tmp_path: Path) -> None:
    """Ctrl-C while cells run with their tcpdumps: rc 130, every lab (tcpdumps included)
    torn down, and no evidence kept for the cells it stopped."""
    rundir, results = tmp_path / "run", tmp_path / "results"
    links = namespaces.host_links()
    options = ["--policies=all", "--capture", f"--results={results}"]
    proc = subprocess.Popen(
        [*NATTEST, "matrix", "--configs=udp-blocked,symmetric", "--jobs=2", *options],
        env={**os.environ, "NATTEST_RUNDIR": str(rundir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: set[str] = set()
    dumps: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while len(dumps) < 2 * len(NODES) and time.monotonic() < deadline:
            seen |= {p.parent.name for p in rundir.glob("*/lab.json")}
            pids = [pid for name in seen for pid in namespaces.pids_of_lab(name)]
            dumps = [pid for pid in pids if namespaces.cmdline(pid).startswith("tcpdump")]
            time.sleep(0.05)
        assert len(dumps) >= 2 * len(NODES), f"two captured cells should run: {dumps}"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert all(gone(pid) for pid in dumps)
    for name in seen:
        assert_nothing_left(name, links)
    assert not results.exists() or not list(results.iterdir())
