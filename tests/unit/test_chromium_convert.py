"""Chromium's getStats dicts and candidate lines as nattest result models (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from nattest.call.result import Candidate, CandidatePair, PeerResult
from nattest.errors import UsageError
from nattest.peers.chromium import ChromiumPeer, convert
from nattest.peers.chromium.browser import chromium_argv, server_host

HOST_LINE = "candidate:1 1 udp 2122260223 10.0.1.10 40000 typ host generation 0 network-id 1"
SRFLX_LINE = "candidate:2 1 udp 1686052607 203.0.113.11 40000 typ srflx raddr 10.0.1.10 rport 40000"


def _cand(id_: str, kind: str, ctype: str, address: str | None, port: int, **kw: Any) -> dict:
    stat = {"id": id_, "type": kind, "candidateType": ctype, "protocol": "udp", "port": port}
    if address is not None:
        stat["address"] = address
    return {**stat, **kw}


def _report(pair_state: str = "succeeded", responses: int = 3) -> list[dict[str, Any]]:
    return [
        _cand("L1", "local-candidate", "srflx", "203.0.113.11", 40000,
              url="stun:203.0.113.2:3478", priority=1686052607),
        _cand("L2", "local-candidate", "prflx", "203.0.113.11", 40001),
        _cand("L3", "local-candidate", "relay", "203.0.113.3", 50000,
              relayProtocol="tls", url="turns:203.0.113.2:5349?transport=tcp"),
        _cand("R1", "remote-candidate", "prflx", None, 41000),
        _cand("R2", "remote-candidate", "relay", "203.0.113.3", 50001),
        {"id": "P1", "type": "candidate-pair", "localCandidateId": "L1",
         "remoteCandidateId": "R1", "state": pair_state, "responsesReceived": responses,
         "currentRoundTripTime": 0.021},
        {"id": "P2", "type": "candidate-pair", "localCandidateId": "L3",
         "remoteCandidateId": "R2", "state": "failed", "responsesReceived": 0},
        {"id": "T01", "type": "transport", "selectedCandidatePairId": "P1"},
        {"id": "IA", "type": "inbound-rtp", "kind": "audio", "packetsReceived": 100,
         "packetsLost": 2, "jitter": 0.004, "bytesReceived": 5000,
         "totalSamplesReceived": 96000, "concealedSamples": 9600},
        {"id": "IV", "type": "inbound-rtp", "kind": "video", "packetsReceived": 300,
         "framesDecoded": 57, "jitter": 0.01},
        {"id": "OA", "type": "outbound-rtp", "kind": "audio", "packetsSent": 99, "bytesSent": 4000},
    ]  # fmt: skip


def test_local_candidates_are_the_gathered_ones_completed_from_stats() -> None:
    local = convert.local_candidates([HOST_LINE, SRFLX_LINE], _report())
    assert [(c.type, c.address, c.port) for c in local] == [
        ("host", "10.0.1.10", 40000),
        ("srflx", "203.0.113.11", 40000),
        ("relay", "203.0.113.3", 50000),  # only in the stats: still gathered
    ]  # the local prflx is learned, not gathered: not listed
    assert local[1].url == "stun:203.0.113.2:3478" and local[1].related_port == 40000
    assert local[2].relay_protocol == "tls"


def test_selected_pair_follows_the_transport_and_keeps_the_hidden_address_empty() -> None:
    stats = _report()
    local = convert.local_candidates([SRFLX_LINE], stats)
    pair = convert.selected_pair(stats, local)
    assert pair is not None and pair.short() == "srflx↔prflx"
    assert pair.local.url == "stun:203.0.113.2:3478"
    assert (pair.remote.address, pair.remote.port) == ("", 41000)


def test_valid_pairs_count_a_pair_rechecked_for_consent() -> None:
    """libwebrtc shows a succeeded pair as in-progress again while it re-checks it."""
    assert len(convert.valid_pairs(_report("in-progress", responses=4), [])) == 1
    assert convert.valid_pairs(_report("in-progress", responses=0), []) == []


def test_rtp_stats_and_decoded_media() -> None:
    stats = convert.rtp_stats(_report())
    assert stats.current_round_trip_time == pytest.approx(0.021)
    audio, video = stats.rtp
    assert (audio.kind, audio.packets_received, audio.packets_lost) == ("audio", 100, 2)
    assert audio.frames_decoded == (96000 - 9600) // 960  # concealment is not media
    assert audio.bytes_sent == 4000 and audio.jitter == pytest.approx(0.004)
    assert (video.frames_decoded, video.packets_received) == (57, 300)


def test_bitrate_uses_the_stats_own_timestamps() -> None:
    def sample(ts: float, sent: int) -> list[dict[str, Any]]:
        return [{"type": "outbound-rtp", "kind": "video", "timestamp": ts, "bytesSent": sent,
                 "packetsSent": sent // 1000}]  # fmt: skip

    samples = convert.bitrate([(1.0, sample(1000.0, 0)), (2.1, sample(3000.0, 250_000))])
    video = [s for s in samples if s.kind == "video"]
    assert len(video) == 1 and video[0].interval == pytest.approx(2.0)
    assert video[0].bytes_sent_in_bits_per_s == pytest.approx(1_000_000)
    assert video[0].t == pytest.approx(2.1)


def test_pair_switches_skip_repeats() -> None:
    relay = _cand("a", "local-candidate", "relay", "203.0.113.3", 50000)
    srflx = _cand("b", "local-candidate", "srflx", "203.0.113.11", 40000)
    remote = _cand("c", "remote-candidate", "srflx", "203.0.113.12", 41000)
    seen = [(1.0, relay, remote), (2.5, srflx, remote), (3.0, dict(srflx, id="b2"), remote)]
    switches = convert.pair_switches(seen, [])
    assert [(s.t, s.pair.short()) for s in switches] == [(1.0, "relay↔srflx"), (2.5, "srflx↔srflx")]


def test_remote_candidates_from_sdp_and_trickle() -> None:
    sdp = f"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na={HOST_LINE}\r\n"
    remote = convert.remote_candidates([sdp], [SRFLX_LINE, HOST_LINE])
    assert [c.type for c in remote] == ["host", "srflx"]


def _peer(pair: CandidatePair) -> PeerResult:
    return PeerResult(name="x", role="caller", outcome="connected", selected_pair=pair)


def test_reported_pair_fills_the_address_chromium_hides() -> None:
    mine = CandidatePair(
        local=Candidate(type="relay", protocol="udp", address="203.0.113.3", port=50000),
        remote=Candidate(type="prflx", protocol="udp", address="", port=0),
    )
    theirs = CandidatePair(
        local=Candidate(type="prflx", protocol="udp", address="203.0.113.11", port=41234),
        remote=Candidate(type="relay", protocol="udp", address="203.0.113.3", port=50000),
    )
    pair = ChromiumPeer().reported_pair(_peer(mine), _peer(theirs))
    assert pair is not None and (pair.remote.address, pair.remote.port) == ("203.0.113.11", 41234)


def test_argv_keeps_chromium_inside_the_lab(tmp_path: Any) -> None:
    argv = chromium_argv("/usr/bin/chromium", "http://127.0.0.1:1/peer.html", tmp_path,
                         ["203.0.113.2", "203.0.113.2"], None)  # fmt: skip
    rules = next(a for a in argv if a.startswith("--host-resolver-rules="))
    assert rules == "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE 203.0.113.2"
    assert "--disable-features=WebRtcHideLocalIpsWithMdns,MediaRouter,OptimizationHints" in argv
    assert f"--user-data-dir={tmp_path}" in argv and argv[-1].endswith("/peer.html")
    assert not any(a.startswith("--ignore-certificate-errors") for a in argv)
    urls = ("ws://203.0.113.2:8443", "turns:203.0.113.2:5349?transport=tcp", "stun:192.0.2.9:1")
    assert [server_host(u) for u in urls] == ["203.0.113.2", "203.0.113.2", "192.0.2.9"]


def test_no_chromium_is_a_usage_error_saying_what_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATTEST_CHROMIUM", "no-such-browser-here")
    with pytest.raises(UsageError, match="make deps-browser"):
        ChromiumPeer().check()
