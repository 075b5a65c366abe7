"""Real calls between aiortc peers behind real kernel NATs, asserting on what ICE did.

Every assertion message carries the call summary (candidates, pair, timings, stats).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nattest.call.result import CallResult
from nattest.pytest_plugin import describe

from .conftest import TOPOLOGIES

Call = Callable[..., CallResult]
PRESETS = ["open", "full-cone", "restricted-cone", "port-restricted-cone", "symmetric"]


def types(candidates: list) -> set[str]:  # type: ignore[type-arg]
    return {c.type for c in candidates}


def assert_media(call: CallResult) -> None:
    assert call.connected, describe(call)
    for peer in (call.caller, call.callee):
        m = peer.media
        assert m.audio_frames > 0 and m.video_frames > 0, f"{peer.name}: no media\n{describe(call)}"
        assert m.data_sent > 0 and m.data_echoed == m.data_sent, (
            f"{peer.name}: data\n{describe(call)}"
        )
        assert peer.sdp_check is not None and peer.sdp_check.ok, describe(call)


@pytest.mark.parametrize("preset", PRESETS)
def test_candidates_gathered_behind_each_preset(nattest_call: Call, preset: str) -> None:
    call = nattest_call(TOPOLOGIES / f"{preset}.yaml", duration=1.0)
    assert_media(call)
    for peer in (call.caller, call.callee):
        got = types(peer.local_candidates)
        assert "host" in got and "relay" in got, describe(call)
        if preset == "open":
            # no translation: STUN reflects the host address itself (aioice keeps that
            # redundant srflx, which RFC 8445 5.1.3 would eliminate; docs/matrix.md)
            hosts = {(c.address, c.port) for c in peer.local_candidates if c.type == "host"}
            srflx = {(c.address, c.port) for c in peer.local_candidates if c.type == "srflx"}
            assert srflx <= hosts, describe(call)
        else:
            assert "srflx" in got, describe(call)
            srflx = next(c for c in peer.local_candidates if c.type == "srflx")
            nat = "nat-a" if peer.name == "alice" else "nat-b"
            assert srflx.address == {"nat-a": "203.0.113.11", "nat-b": "203.0.113.12"}[nat]
        relay = next(c for c in peer.local_candidates if c.type == "relay")
        assert relay.address == "203.0.113.3" and relay.relay_protocol == "udp", describe(call)


def test_stun_only_gives_no_relay(nattest_call: Call) -> None:
    call = nattest_call(TOPOLOGIES / "port-restricted-cone.yaml", turn=False, duration=0.5)
    assert call.connected, describe(call)
    assert types(call.caller.local_candidates) == {"host", "srflx"}, describe(call)


def valid(call: CallResult) -> set[str]:
    """Every pair whose check succeeded, on either peer."""
    return {p.short() for peer in (call.caller, call.callee) for p in peer.valid_pairs}


def test_open_open_is_host_to_host(nattest_call: Call) -> None:
    """Without a relay candidate to race it, open↔open selects host↔host."""
    call = nattest_call(TOPOLOGIES / "open.yaml", turn=False, duration=1.0)
    assert_media(call)
    pair = call.selected_pair
    assert pair is not None and pair.short() == "host↔host", describe(call)


def test_open_open_with_turn_validates_host_pair(nattest_call: Call) -> None:
    """With TURN too, host↔host always succeeds; aioice may still nominate the relayed
    pair whose nominating check completed last (docs/matrix.md, `first-success`)."""
    call = nattest_call(TOPOLOGIES / "open.yaml", duration=0.5)
    assert_media(call)
    assert "host↔host" in valid(call), describe(call)
    pair = call.selected_pair
    assert pair is not None, describe(call)
    assert pair.short() in ("host↔host", "host↔relay", "relay↔host"), describe(call)


@pytest.mark.parametrize("preset", ["full-cone", "restricted-cone", "port-restricted-cone"])
def test_cone_cone_is_direct(nattest_call: Call, preset: str) -> None:
    """Cone NATs let ICE punch a direct path: with STUN alone the pair is srflx/prflx."""
    call = nattest_call(TOPOLOGIES / f"{preset}.yaml", turn=False, duration=1.0)
    assert_media(call)
    pair = call.selected_pair
    assert pair is not None, describe(call)
    assert pair.local.type in ("srflx", "prflx") and pair.remote.type in ("srflx", "prflx"), (
        describe(call)
    )
    assert pair.local.address == "203.0.113.11" and pair.remote.address == "203.0.113.12"


@pytest.mark.parametrize("preset", ["full-cone", "restricted-cone", "port-restricted-cone"])
def test_cone_cone_with_turn_available(nattest_call: Call, preset: str) -> None:
    """With TURN too, the direct pair always succeeds; which pair aioice nominates is
    timing: aggressive nomination, the last nominating check to succeed wins, and no
    re-check of an In-Progress pair (docs/matrix.md, `first-success`)."""
    call = nattest_call(TOPOLOGIES / f"{preset}.yaml", duration=0.5)
    assert_media(call)
    assert call.direct_path, describe(call)  # a pair with no relay succeeded
    pair = call.selected_pair
    assert pair is not None, describe(call)
    assert pair.short() in ("srflx↔srflx", "relay↔srflx", "srflx↔relay"), describe(call)


def test_symmetric_symmetric_needs_relay(nattest_call: Call) -> None:
    call = nattest_call(TOPOLOGIES / "symmetric.yaml", duration=1.0)
    assert_media(call)
    pair = call.selected_pair
    assert pair is not None and "relay" in (pair.local.type, pair.remote.type), describe(call)
    # the symmetric NAT maps the TURN-facing and peer-facing flows to different ports:
    assert "prflx" in pair.short() or pair.short() == "relay↔relay", describe(call)


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_relay_only_policy(nattest_call: Call, transport: str) -> None:
    call = nattest_call(
        TOPOLOGIES / "port-restricted-cone.yaml",
        policy="relay",
        turn_transport=transport,
        duration=1.0,
    )
    assert_relay_only(call, transport)


def assert_relay_only(call: CallResult, transport: str) -> None:
    """Media flowed, both peers gathered only relay candidates over `transport`, and each
    side's selected pair is relay↔relay."""
    assert_media(call)
    for peer in (call.caller, call.callee):
        assert types(peer.local_candidates) == {"relay"}, describe(call)
        assert {c.relay_protocol for c in peer.local_candidates} == {transport}, describe(call)
        assert peer.selected_pair is not None, describe(call)
        assert peer.selected_pair.short() == "relay↔relay", describe(call)


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_udp_blocked_connects_only_through_turn_tcp(nattest_call: Call, transport: str) -> None:
    call = nattest_call(
        TOPOLOGIES / "udp-blocked.yaml", peer_transports={"alice": transport}, duration=1.0
    )
    assert_media(call)
    alice = call.caller
    assert types(alice.local_candidates) == {"host", "relay"}, describe(call)  # no STUN answer
    assert not any(p.local.type != "relay" for p in alice.valid_pairs), describe(call)
    assert alice.selected_pair is not None and alice.selected_pair.local.type == "relay"
    assert alice.selected_pair.local.relay_protocol == transport, describe(call)


def test_udp_blocked_with_turn_udp_fails_with_reason(nattest_call: Call) -> None:
    call = nattest_call(
        TOPOLOGIES / "udp-blocked.yaml", peer_transports={}, duration=0.5, connect_timeout=3.0
    )
    assert not call.connected, describe(call)
    assert call.caller.outcome == "failed" and call.caller.reason, describe(call)


def test_turn_rest_credentials(nattest_call: Call) -> None:
    import yaml

    from nattest.model.load import parse_topology

    data = yaml.safe_load((TOPOLOGIES / "symmetric.yaml").read_text())
    data["servers"]["turn"]["auth"] = "rest"
    call = nattest_call(parse_topology(data, "rest"), duration=0.5)
    assert_media(call)
    assert call.selected_pair is not None and "relay" in call.selected_pair.short(), describe(call)
    assert call.caller.turn_preflight == "ok", describe(call)


def test_double_nat_and_same_nat(nattest_call: Call) -> None:
    for name in ("double-nat", "same-nat"):
        call = nattest_call(TOPOLOGIES / f"{name}.yaml", duration=0.5)
        assert_media(call)
        assert call.direct_path, describe(call)
    # two hosts on one LAN: their host candidates reach each other directly
    assert "host↔host" in valid(call), describe(call)


def test_secrets_never_in_results(nattest_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from nattest.call.run import run_call
    from nattest.services.credentials import LabServices

    lab = nattest_lab(TOPOLOGIES / "full-cone.yaml")
    password = LabServices.load(lab.workdir).turn_password
    assert len(password) >= 16
    call = run_call(lab)
    assert password not in call.to_json() and password not in describe(call)
    for f in (lab.workdir / "calls").rglob("*"):
        if f.is_file():
            assert password not in f.read_text(errors="replace"), f
