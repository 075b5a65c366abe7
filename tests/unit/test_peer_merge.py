"""merge_call, summary, and turning aiortc/aioice objects into result models."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from aiortc.stats import (
    RTCInboundRtpStreamStats,
    RTCOutboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
)

from nattest.call.merge import merge_call
from nattest.call.result import Candidate, CandidatePair, MediaVerdict, PeerResult, RtpStats, Stats
from nattest.peers.aiortc.collect import annotate, rtp_stats, selected_pair
from nattest.peers.aiortc.config import PeerConfig
from nattest.peers.aiortc.ice_adapter import RawCandidate
from nattest.report.call import summary
from nattest.services.urls import parse_turn_url

HOST = Candidate(type="host", protocol="udp", address="10.0.1.2", port=40000, priority=2130706431)
RELAY = Candidate(
    type="relay",
    protocol="udp",
    address="203.0.113.10",
    port=60000,
    priority=16777215,
    relay_protocol="tcp",
    url="turn:203.0.113.10:3478?transport=tcp",
)
PEER_SRFLX = Candidate(type="srflx", protocol="udp", address="203.0.113.22", port=50022)
OK_MEDIA = MediaVerdict(audio_frames=99, video_frames=60, data_sent=6, data_echoed=6)


def _peer(name: str, role: str, **kw: object) -> PeerResult:
    base: dict[str, object] = {
        "name": name,
        "role": role,
        "outcome": "connected",
        "media": OK_MEDIA,
        "local_candidates": [HOST, RELAY],
        "remote_candidates": [PEER_SRFLX],
        "selected_pair": CandidatePair(local=RELAY, remote=PEER_SRFLX),
        "time_to_connected": 0.031,
        "stats": Stats(
            current_round_trip_time=0.02,
            rtp=[
                RtpStats(
                    kind="audio",
                    packets_received=100,
                    packets_lost=1,
                    jitter=0.002,
                    frames_decoded=99,
                ),
                RtpStats(kind="video", packets_received=60, packets_lost=0, frames_decoded=60),
            ],
        ),
    }
    return PeerResult.model_validate({**base, **kw})


def test_merge_call_scores_and_derives_turn_transport() -> None:
    call = merge_call("double-nat", _peer("alice", "caller"), _peer("bob", "callee"))
    assert call.connected and call.media_ok
    assert call.turn_transport == "tcp"  # from the caller's relay candidate
    assert call.policy == "all"
    loss = 100 / 161  # percent: 1 of 161 packets
    assert call.quality == pytest.approx(5 - 4 * loss / (loss + 4), abs=0.01)
    assert call.selected_pair is not None and call.selected_pair.short() == "relay↔srflx"


def test_merge_call_explicit_values_win() -> None:
    call = merge_call("x", _peer("a", "caller"), _peer("b", "callee"), "relay", "tls", 1.5)
    assert (call.policy, call.turn_transport, call.lab_setup) == ("relay", "tls", 1.5)


def test_merge_call_refuses_swapped_roles() -> None:
    with pytest.raises(ValueError, match="expected a caller and a callee"):
        merge_call("x", _peer("b", "callee"), _peer("a", "caller"))


def test_summary_shows_table_pair_stats_and_reason() -> None:
    failed = _peer(
        "bob",
        "callee",
        outcome="failed",
        selected_pair=None,
        reason="ICE failed: no candidate pair succeeded",
        media=MediaVerdict(),
        turn_preflight="TURN allocate failed: 401 Unauthorized",
    )
    text = summary(merge_call("symmetric", _peer("alice", "caller"), failed))
    assert text.splitlines()[0].startswith("Call alice → bob on 'symmetric': FAILED")
    assert "quality 1.0/5" in text
    assert "relay ↔" not in text
    assert "relay 203.0.113.10:60000/udp via tcp ↔ srflx 203.0.113.22:50022/udp" in text
    header = next(line for line in text.splitlines() if line.strip().startswith("type"))
    assert header.split() == ["type", "protocol", "address", "port", "priority", "url"]
    assert "turn:203.0.113.10:3478?transport=tcp (via tcp)" in text
    assert "reason: ICE failed: no candidate pair succeeded" in text
    assert "TURN preflight: TURN allocate failed: 401 Unauthorized" in text
    assert "packetsLost 1" in text and "currentRoundTripTime 20.0 ms" in text
    assert "media INCOMPLETE: audio 0 frames" in text
    assert "selected pair: none" in text


def _cfg() -> PeerConfig:
    return PeerConfig(
        name="alice",
        role="caller",
        signaling="ws://192.0.2.1:8765",
        room="r",
        turn=parse_turn_url("turn:203.0.113.10:3478?transport=tcp"),
        turn_credential="hunter2",
    )


def _raw(type_: str, address: str, port: int) -> RawCandidate:
    return RawCandidate(type_, "udp", address, port, 1, "f", None, None)


def test_selected_pair_uses_gathered_local_and_signalled_remote() -> None:
    raw = (_raw("relay", "203.0.113.10", 60000), _raw("srflx", "203.0.113.22", 50022))
    pair = selected_pair(raw, [HOST, RELAY], [PEER_SRFLX], _cfg())
    assert pair == CandidatePair(local=RELAY, remote=PEER_SRFLX)


def test_remote_not_in_sdp_is_prflx() -> None:
    raw = (_raw("host", "10.0.1.2", 40000), _raw("host", "198.51.100.7", 41000))
    pair = selected_pair(raw, [HOST], [PEER_SRFLX], _cfg())
    assert pair is not None
    assert pair.remote.type == "prflx" and pair.remote.address == "198.51.100.7"
    assert pair.local == HOST


def test_remote_type_follows_aioice_when_addresses_repeat() -> None:
    # Without a NAT, the peer's srflx candidate repeats its host address and port.
    host = Candidate(type="host", protocol="udp", address="10.0.2.2", port=42645)
    srflx = host.model_copy(update={"type": "srflx", "priority": 1694498815})
    raw = (_raw("host", "10.0.1.2", 40000), _raw("host", "10.0.2.2", 42645))
    pair = selected_pair(raw, [HOST], [host, srflx], _cfg())
    assert pair is not None and pair.remote == host


def test_no_nominated_pair() -> None:
    assert selected_pair(None, [HOST], [], _cfg()) is None


def test_rtp_stats_converts_jitter_to_seconds_and_averages_rtt() -> None:
    now = datetime.datetime.now(datetime.UTC)
    common: dict[str, Any] = {"timestamp": now, "transportId": "t"}
    report = {
        "in-a": RTCInboundRtpStreamStats(
            type="inbound-rtp",
            id="in-a",
            ssrc=1,
            kind="audio",
            packetsReceived=100,
            packetsLost=2,
            jitter=480,
            **common,
        ),
        "in-v": RTCInboundRtpStreamStats(
            type="inbound-rtp",
            id="in-v",
            ssrc=2,
            kind="video",
            packetsReceived=60,
            packetsLost=0,
            jitter=900,
            **common,
        ),
        "out-a": RTCOutboundRtpStreamStats(
            type="outbound-rtp",
            id="out-a",
            ssrc=3,
            kind="audio",
            packetsSent=101,
            bytesSent=3030,
            trackId="x",
            **common,
        ),
        "ri-a": RTCRemoteInboundRtpStreamStats(
            type="remote-inbound-rtp",
            id="ri-a",
            ssrc=3,
            kind="audio",
            packetsReceived=101,
            packetsLost=0,
            jitter=0,
            roundTripTime=0.010,
            fractionLost=0,
            **common,
        ),
        "ri-v": RTCRemoteInboundRtpStreamStats(
            type="remote-inbound-rtp",
            id="ri-v",
            ssrc=4,
            kind="video",
            packetsReceived=60,
            packetsLost=0,
            jitter=0,
            roundTripTime=0.030,
            fractionLost=0,
            **common,
        ),
    }
    stats = rtp_stats(report, {"audio": 98, "video": 59})
    audio, video = stats.rtp
    assert (audio.kind, audio.packets_received, audio.packets_lost) == ("audio", 100, 2)
    assert audio.jitter == pytest.approx(0.010)  # 480 / 48 kHz
    assert video.jitter == pytest.approx(0.010)  # 900 / 90 kHz
    assert (audio.packets_sent, audio.bytes_sent, audio.frames_decoded) == (101, 3030, 98)
    assert video.frames_decoded == 59
    assert stats.current_round_trip_time == pytest.approx(0.020)


def test_rtt_is_none_without_rtcp_reports() -> None:
    assert rtp_stats({}, {}).current_round_trip_time is None


def test_secrets_never_reach_results_or_summary() -> None:
    cfg = _cfg()
    assert "hunter2" not in repr(cfg)
    relay = annotate([RELAY.model_copy(update={"url": None, "relay_protocol": None})], cfg)[0]
    assert (relay.url, relay.relay_protocol) == ("turn:203.0.113.10:3478?transport=tcp", "tcp")
    call = merge_call(
        "x", _peer("alice", "caller", local_candidates=[relay]), _peer("bob", "callee")
    )
    assert "hunter2" not in call.to_json() and "hunter2" not in summary(call)
