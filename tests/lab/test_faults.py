"""Faults during real calls, and the per-second bitrate: real kernel NATs, real coturn,
real aiortc, each outcome asserted as it really happens.

What aiortc 1.16 does when a path dies (``nattest.peers.aiortc.health``): no
`disconnected` and no `failed` of its own; ``iceConnection completed`` lasts until aioice
gives up on consent (6 checks in a row unanswered, one every 4-6 s), then aiortc closes
the connection. nattest records `disconnected` at the first unanswered consent check and
`failed` at the one after which aioice gives up (``source="nattest"``). Times are on the
call's clock: faults and peers' timelines read together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from nattest.backends.base import Lab
from nattest.call.result import CallResult, PeerResult
from nattest.call.run import run_call
from nattest.call.spec import CallSpec
from nattest.model.load import load_topology, parse_topology
from nattest.model.topology import Topology
from nattest.pytest_plugin import describe

from .conftest import TOPOLOGIES

Call = Callable[..., CallResult]

CONSENT_BOUND = 6 * (5 * 1.2 + 0.5)
"""Seconds from the last answered consent check to aioice giving up, at most: 6 checks,
each at most 1.2 × 5 s after the previous one, each waiting 0.5 s for its answer."""
WIND_DOWN = 15.0
"""Seconds a peer may take, once it knows the call is lost, to report and exit (reason,
stats, `leave` and close, each bounded)."""


def topology(name: str, **nat_a: Any) -> Topology:
    """A topology of topologies/ with nat-a's behaviour replaced by `nat_a`."""
    data = yaml.safe_load((TOPOLOGIES / f"{name}.yaml").read_text())
    if nat_a:
        data["nats"]["nat-a"]["behavior"] = nat_a
    return parse_topology(data, name)


def states(peer: PeerResult, machine: str = "iceConnection") -> list[tuple[str, str]]:
    """(state, source) of one machine, in order."""
    return [(e.state, e.source) for e in peer.timeline if e.machine == machine]


def event_t(peer: PeerResult, state: str, source: str = "nattest") -> float:
    return next(
        e.t
        for e in peer.timeline
        if e.machine == "iceConnection" and e.state == state and e.source == source
    )


def media_flowing(peer: PeerResult, after: float) -> bool:
    """Audio and video packets arrived in every second sampled after `after`."""
    later = [s for s in peer.stats.bitrate if s.t > after + 1.0]
    return bool(later) and all(s.packets_received_per_s > 0 for s in later)


def assert_lost(call: CallResult, fault_t: float, words: str) -> None:
    """Both peers lost the call, in time, and said so (`words` in each reason). The first
    to give up on consent fails with the full sequence; if its `leave` still reaches the
    other (signaling unharmed), that one may hear it before its own consent runs out and
    say "the peer left (signaling) after the call was lost"."""
    expired = []
    for peer in (call.caller, call.callee):
        assert peer.outcome == "failed" and peer.time_to_connected is not None, describe(call)
        reason = peer.reason or ""
        assert words in reason and "ICE consent checks in a row got no answer" in reason
        seq = states(peer)
        assert seq[:2] == [("checking", "stack"), ("completed", "stack")], describe(call)
        assert ("failed", "stack") not in seq, describe(call)  # aiortc never says failed
        assert seq[2] == ("disconnected", "nattest") and seq[-1] == ("closed", "stack")
        assert fault_t < event_t(peer, "disconnected"), describe(call)
        if ("failed", "nattest") in seq:
            assert reason.startswith(("consent freshness lost", "the relay went away"))
            assert event_t(peer, "failed") - fault_t <= CONSENT_BOUND, describe(call)
            expired.append(peer)
        else:
            assert reason.startswith("the peer left (signaling) after the call was lost")
        assert peer.timeline[-1].t - fault_t <= CONSENT_BOUND + WIND_DOWN, describe(call)
        assert not media_flowing(peer, fault_t), describe(call)
    assert expired, describe(call)


@pytest.mark.timing
def test_bitrate_sampled_every_second(nattest_call: Call) -> None:
    call = nattest_call(TOPOLOGIES / "port-restricted-cone.yaml", turn=False, duration=3.0)
    assert call.connected and call.media_ok, describe(call)
    for peer in (call.caller, call.callee):
        connected = next(e.t for e in peer.timeline if e.state == "connected")
        for kind, low, high in (("audio", 20_000, 250_000), ("video", 10_000, 2_000_000)):
            samples = peer.stats.bitrates(kind)
            assert 2 <= len(samples) <= 5, describe(call)  # ≈ one a second of a 3 s call
            assert [s.t for s in samples] == sorted(s.t for s in samples)
            assert all(s.t > connected and 0.8 < s.interval < 1.5 for s in samples)
            assert all(low < s.bytes_sent_in_bits_per_s < high for s in samples), samples
            assert all(s.packets_received_per_s > 0 for s in samples), samples
        audio = peer.stats.bitrates("audio")
        assert all(40 <= s.packets_sent_per_s <= 65 for s in audio), audio  # 20 ms Opus: 50/s
    assert '"bytesSent_in_bits/s"' in call.to_json()


def test_flush_with_port_preservation_keeps_the_call(nattest_call: Call) -> None:
    """A NAT that forgets its mappings (conntrack flushed) but preserves ports maps the
    next packet of the flow to the very same port: the call goes on, media never stops,
    no consent check goes unanswered. The fault is on the peers' clock."""
    prc = TOPOLOGIES / "port-restricted-cone.yaml"
    call = nattest_call(prc, turn=False, duration=5.0, faults=["2s:flush nat-a"])
    assert call.connected and call.media_ok, describe(call)
    (fault,) = call.faults
    assert fault.outcome == "applied" and "conntrack table flushed" in fault.detail, fault
    assert fault.t is not None and 2.0 <= fault.t < 2.5, fault
    for peer in (call.caller, call.callee):
        connected = next(e.t for e in peer.timeline if e.state == "connected")
        assert connected < fault.t < peer.timeline[-1].t, describe(call)
        assert ("disconnected", "nattest") not in states(peer), describe(call)
        assert media_flowing(peer, connected), describe(call)


def test_mapping_timeout_shorter_than_consent_interval(nattest_lab: Callable[..., Lab]) -> None:
    """nat-a forgets an idle UDP mapping after 2 s, less than aioice's 4-6 s between
    consent checks. Media (RTP every 20 ms) keeps the call's own mapping alive, so the call
    survives with every consent check answered; the mapping to the STUN server, idle since
    gathering, is gone by the end."""
    topo = topology("port-restricted-cone", preset="port-restricted-cone", udp_timeout=2)
    lab = nattest_lab(topo)
    call = run_call(lab, CallSpec(turn=False, duration=8.0))
    assert call.connected and call.media_ok, describe(call)
    for peer in (call.caller, call.callee):
        assert ("disconnected", "nattest") not in states(peer), describe(call)
        assert media_flowing(peer, 0.0), describe(call)
    timeout = lab.exec("nat-a", ["sysctl", "-n", "net.netfilter.nf_conntrack_udp_timeout"])
    assert timeout.stdout.strip() == "2"
    entries = lab.exec("nat-a", ["conntrack", "-L", "-p", "udp"], check=False).stdout
    assert "dport=3478" not in entries, entries  # the STUN mapping timed out mid-call


@pytest.mark.slow
def test_cut_path_fails_within_the_consent_bound(nattest_call: Call) -> None:
    """nat-a drops every packet from 3 s on: both peers lose consent and fail with the
    reason, within the consent bound, and end without hanging."""
    call = nattest_call(
        TOPOLOGIES / "port-restricted-cone.yaml", duration=45.0, faults=["3s:cut nat-a"]
    )
    (fault,) = call.faults
    assert fault.outcome == "applied" and fault.t is not None, fault
    assert "nattest_cut" in fault.detail
    assert_lost(call, fault.t, "consent freshness lost")
    for peer in (call.caller, call.callee):  # the cut also cut alice's signaling
        assert ("failed", "nattest") in states(peer), describe(call)


@pytest.mark.slow
def test_kill_coturn_during_relay_only_call(nattest_call: Call) -> None:
    """SIGKILL to coturn 3 s into a relay-only call: consent checks through the relay go
    unanswered, both peers fail, and a fresh allocation shows that the relay went away."""
    call = nattest_call(
        TOPOLOGIES / "port-restricted-cone.yaml",
        policy="relay",
        duration=45.0,
        faults=["3s:kill turn"],
    )
    (fault,) = call.faults
    assert fault.outcome == "applied" and "SIGKILL" in fault.detail, fault
    assert fault.t is not None
    assert_lost(call, fault.t, "the relay went away")
    for peer in (call.caller, call.callee):
        assert peer.selected_pair is not None and peer.selected_pair.short() == "relay↔relay"
        assert "a new allocation fails too: TURN allocate failed" in (peer.reason or "")


@pytest.mark.slow
def test_nat_rebinding_without_port_preservation(nattest_lab: Callable[..., Lab]) -> None:
    """nat-a (port-restricted, no port preservation) forgets its mappings 3 s into a direct
    call: alice's next packets leave from a new port, which bob's port-restricted NAT
    drops, and bob's go to the old one, which nat-a no longer knows. Media stops both ways
    at once, consent is lost, both fail. The flush also broke alice's signaling TCP
    connection: the server tells bob that alice left (its WebSocket ping, every 20 s), so
    bob may hear that before his consent runs out; either way bob reports the loss."""
    lab = nattest_lab(
        topology("port-restricted-cone", preset="port-restricted-cone", port_preservation=False)
    )
    call = run_call(lab, CallSpec(turn=False, duration=45.0, faults=["3s:flush nat-a"]))
    (fault,) = call.faults
    assert fault.outcome == "applied" and fault.t is not None, fault
    alice, bob = call.caller, call.callee
    assert alice.selected_pair is not None and bob.selected_pair is not None, describe(call)
    old_port = bob.selected_pair.remote.port  # alice's mapped port, as bob sends to it
    entries = lab.exec(
        "nat-a", ["conntrack", "-L", "-p", "udp", "-s", alice.selected_pair.local.address]
    ).stdout
    mapped = [line for line in entries.splitlines() if "203.0.113.12" in line]
    assert mapped and f"dport={old_port} " not in mapped[0], entries  # a new port
    for peer in (alice, bob):
        assert peer.outcome == "failed" and peer.reason, describe(call)
        assert not media_flowing(peer, fault.t), describe(call)
        assert ("disconnected", "nattest") in states(peer), describe(call)
        assert peer.timeline[-1].t - fault.t <= CONSENT_BOUND + WIND_DOWN, describe(call)
    assert alice.reason is not None and alice.reason.startswith("consent freshness lost")
    assert event_t(alice, "failed") - fault.t <= CONSENT_BOUND, describe(call)
    assert bob.reason is not None and "ICE consent checks in a row got no answer" in bob.reason
    assert bob.reason.startswith(
        ("consent freshness lost", "the peer left (signaling) after the call was lost")
    ), describe(call)


@pytest.mark.slow
def test_short_turn_allocation_lifetime_is_refreshed(
    nattest_lab: Callable[..., Lab], monkeypatch: pytest.MonkeyPatch
) -> None:
    """coturn grants allocations 8 s at most (the TURN server's `allocation_lifetime: 8`,
    coturn's max-allocate-lifetime); a 25 s relay-only call stays up because aioice
    refreshes at 5/6 of the lifetime granted (every ≈ 6.7 s): every second of the call
    carries media, and the peers' logs show the refreshes."""
    monkeypatch.setenv("NATTEST_DEBUG", "1")  # peers log aioice's TURN refreshes
    topo = load_topology(TOPOLOGIES / "port-restricted-cone.yaml")
    turn = topo.servers["turn"].model_copy(update={"allocation_lifetime": 8})
    lab = nattest_lab(topo.model_copy(update={"servers": {"turn": turn}}))
    conf = (lab.workdir / "coturn" / "turn" / "turnserver.conf").read_text()
    assert "max-allocate-lifetime=8" in conf
    call = run_call(lab, CallSpec(policy="relay", duration=25.0))
    assert call.connected and call.media_ok, describe(call)
    for peer in (call.caller, call.callee):
        assert media_flowing(peer, 0.0) and len(peer.stats.bitrates("audio")) >= 24
        assert ("disconnected", "nattest") not in states(peer), describe(call)
        (folder,) = (lab.workdir / "calls").iterdir()
        log = (folder / f"{peer.name}.log").read_text()
        assert "(expires in 8 seconds)" in log, log[-2000:]
        assert log.count("TURN allocation refreshed") >= 3, log[-2000:]
