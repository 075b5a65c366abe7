"""Chromium (libwebrtc) as a peer behind the lab's NATs: against aiortc and against itself.

The same scenarios as aiortc's own (tests/lab/test_calls.py), for chromium↔aiortc both ways
and chromium↔chromium. A Chromium caller is judged the way libwebrtc behaves: regular
nomination, so the pair selected at the end of media is the direct one whenever a direct
path exists; every selection over time is in `pair_switches`. Then an ICE restart between
two Chromium peers after their NAT rebinds mid-call. These tests need Chromium
(`make deps-browser`, which `make test` runs): without it they fail saying so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nattest.backends.base import Lab
from nattest.backends.netns import namespaces
from nattest.call.result import CallResult, PeerResult
from nattest.call.run import run_call
from nattest.call.spec import CallSpec
from nattest.model.load import parse_topology
from nattest.model.topology import Topology
from nattest.peers.chromium.browser import find_binary
from nattest.pytest_plugin import describe

from .conftest import TOPOLOGIES, assert_nothing_left
from .test_calls import assert_media, assert_relay_only, types

Call = Callable[..., CallResult]
pytestmark = pytest.mark.alone  # two browsers per test: the CPU to themselves, and no load
# spike on the other lab tests' bounded waits (seen in make test on 2 cores)
KINDS = [("chromium", "aiortc"), ("aiortc", "chromium"), ("chromium", "chromium")]
"""Kind pairs of every scenario: Chromium against aiortc both ways, and against itself."""
IDS = [f"{a}-{b}" for a, b in KINDS]


@pytest.fixture(autouse=True)
def chromium_installed() -> None:
    """Fail loudly (never skip) when this machine has no Chromium."""
    assert find_binary() is not None, "no chromium on PATH: run `make deps-browser`"


def chromium_sides(call: CallResult) -> list[PeerResult]:
    return [p for p in (call.caller, call.callee) if p.kind == "chromium"]


def assert_switches_end_on_selected(call: CallResult) -> None:
    """A Chromium peer's last switch is the pair it reports as selected."""
    for peer in chromium_sides(call):
        assert peer.pair_switches, f"{peer.name}: no selected pair seen\n{describe(call)}"
        assert peer.pair_switches[-1].pair == peer.selected_pair, describe(call)
        assert peer.selected_pair in peer.valid_pairs, describe(call)


@pytest.mark.parametrize(("caller", "callee"), KINDS, ids=IDS)
def test_open_open_is_host_to_host(nattest_call: Call, caller: str, callee: str) -> None:
    call = nattest_call(
        TOPOLOGIES / "open.yaml", caller_kind=caller, callee_kind=callee, duration=1.0
    )
    assert_media(call)
    assert call.selected_pair is not None and call.selected_pair.short() == "host↔host"
    assert_switches_end_on_selected(call)


@pytest.mark.parametrize(("caller", "callee"), KINDS, ids=IDS)
def test_cone_cone_is_direct(nattest_call: Call, caller: str, callee: str) -> None:
    """Port-restricted cone on both sides, TURN available: the direct path exists, and a
    Chromium caller (regular nomination) ends on it; an aiortc caller may nominate a
    relayed pair that succeeded first (docs/matrix.md, `first-success`)."""
    call = nattest_call(
        TOPOLOGIES / "port-restricted-cone.yaml",
        caller_kind=caller,
        callee_kind=callee,
        duration=1.0,
    )
    assert_media(call)
    assert call.direct_path, describe(call)
    pair = call.selected_pair
    assert pair is not None, describe(call)
    if caller == "chromium":
        assert "relay" not in pair.short(), describe(call)
        assert pair.local.address == "203.0.113.11", describe(call)
    assert_switches_end_on_selected(call)


@pytest.mark.parametrize(("caller", "callee"), KINDS, ids=IDS)
def test_symmetric_symmetric_needs_relay(nattest_call: Call, caller: str, callee: str) -> None:
    call = nattest_call(
        TOPOLOGIES / "symmetric.yaml", caller_kind=caller, callee_kind=callee, duration=1.0
    )
    assert_media(call)
    assert not call.direct_path, describe(call)
    pair = call.selected_pair
    assert pair is not None and "relay" in pair.short(), describe(call)
    assert_switches_end_on_selected(call)


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
@pytest.mark.parametrize(("caller", "callee"), KINDS, ids=IDS)
def test_relay_only_policy(nattest_call: Call, caller: str, callee: str, transport: str) -> None:
    """iceTransportPolicy relay: only relay candidates, over the asked transport to coturn
    (TLS with the lab's own certificate, trusted by its key and nothing else)."""
    call = nattest_call(
        TOPOLOGIES / "port-restricted-cone.yaml",
        caller_kind=caller,
        callee_kind=callee,
        policy="relay",
        turn_transport=transport,
        duration=1.0,
    )
    assert_relay_only(call, transport)
    assert_switches_end_on_selected(call)


@pytest.mark.parametrize(("caller", "callee"), KINDS, ids=IDS)
def test_udp_blocked_connects_through_turn_tcp(
    nattest_call: Call, caller: str, callee: str
) -> None:
    call = nattest_call(
        TOPOLOGIES / "udp-blocked.yaml",
        caller_kind=caller,
        callee_kind=callee,
        peer_transports={"alice": "tcp"},
        duration=1.0,
    )
    assert_media(call)
    alice = call.caller
    assert "srflx" not in types(alice.local_candidates), describe(call)  # no STUN answer
    assert not any(p.local.type != "relay" for p in alice.valid_pairs), describe(call)
    assert alice.selected_pair is not None and alice.selected_pair.local.type == "relay"
    assert alice.selected_pair.local.relay_protocol == "tcp", describe(call)


def test_chromium_trickles_to_chromium(nattest_call: Call) -> None:
    """Between two Chromium peers the SDP goes before gathering ends and the candidates
    follow in `ice` messages: the caller's srflx and relay candidates reach the callee
    only that way (its offer carried none)."""
    call = nattest_call(
        TOPOLOGIES / "port-restricted-cone.yaml",
        caller_kind="chromium",
        callee_kind="chromium",
        duration=1.0,
    )
    assert_media(call)
    alice, bob = call.caller, call.callee
    assert {"host", "srflx", "relay"} <= types(alice.local_candidates), describe(call)
    relay = next(c for c in alice.local_candidates if c.type == "relay")
    assert relay.url == "turn:203.0.113.2:3478?transport=udp", describe(call)
    assert {"srflx", "relay"} <= types(bob.remote_candidates), describe(call)


def _rebinding_lab_topology() -> Topology:
    """port-restricted-cone.yaml with nat-a not preserving ports: after it forgets its
    UDP mappings, alice's packets leave from new ports, which bob's NAT drops."""
    data: dict[str, Any] = yaml.safe_load((TOPOLOGIES / "port-restricted-cone.yaml").read_text())
    data["nats"]["nat-a"]["behavior"] = {
        "preset": "port-restricted-cone",
        "port_preservation": False,
    }
    return parse_topology(data, "port-restricted-cone")


def test_ice_restart_after_nat_rebinding(nattest_lab: Callable[..., Lab]) -> None:
    """nat-a forgets its UDP mappings 4 s into a direct Chromium↔Chromium call (TCP
    signaling kept). The path is gone both ways, ICE goes disconnected, the caller
    restarts ICE (new ufrag/password over signaling), new checks find a new pair, and
    media flows again on it."""
    lab = nattest_lab(_rebinding_lab_topology())
    spec = CallSpec(
        caller_kind="chromium",
        callee_kind="chromium",
        turn=False,
        duration=14.0,
        faults=["4s:rebind nat-a"],
    )
    call = run_call(lab, spec)
    (fault,) = call.faults
    assert fault.outcome == "applied" and fault.t is not None, fault
    alice, bob = call.caller, call.callee
    assert alice.ice_restarts and alice.ice_restarts[0] > fault.t, describe(call)
    assert ("disconnected", "stack") in [
        (e.state, e.source) for e in alice.timeline if e.machine == "iceConnection"
    ], describe(call)
    assert call.connected and call.media_ok, describe(call)
    for peer in (alice, bob):
        before = [s for s in peer.pair_switches if s.t < fault.t]
        assert before, describe(call)
        assert peer.selected_pair is not None and peer.selected_pair != before[-1].pair, (
            f"{peer.name}: no new pair after the rebinding\n{describe(call)}"
        )
        restarted = alice.ice_restarts[0]
        later = [s for s in peer.stats.bitrate if s.t > restarted + 3.0]
        assert later and all(s.packets_received_per_s > 0 for s in later), describe(call)
    # the new pair is alice's new mapping: another port of nat-a
    assert alice.selected_pair is not None
    assert alice.selected_pair.local.port != before_port(alice, fault.t), describe(call)


def before_port(peer: PeerResult, t: float) -> int:
    return [s for s in peer.pair_switches if s.t < t][-1].pair.local.port


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(f"{entry.name}: {cmd[:120]}")
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_chromium_call_leaves_no_browser(sig: signal.Signals, tmp_path: Path) -> None:
    """Ctrl-C (or SIGTERM) in the middle of a Chromium call: `nattest call` exits 130 and
    no browser, renderer or zygote of it survives, nor anything else of the lab."""
    rundir = tmp_path / "run"  # a private registry: this lab only; profiles live under it
    links = namespaces.host_links()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "nattest.cli", "call"),
            *("--pair", "port-restricted-cone:port-restricted-cone"),
            *("--caller", "chromium", "--callee", "chromium", "--duration", "30"),
        ],
        env={**os.environ, "NATTEST_RUNDIR": str(rundir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        browsers: list[str] = []
        while len(browsers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            browsers = [c for c in _processes_mentioning(str(rundir)) if "chromium" in c]
            time.sleep(0.1)
        labs = [p.parent.name for p in rundir.glob("*/lab.json")]
        assert len(browsers) >= 2 and len(labs) == 1, f"no call under way: {browsers} {labs}"
        time.sleep(2.0)  # the call connected, media flowing
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert _processes_mentioning(str(rundir)) == []
    assert_nothing_left(labs[0], links)
