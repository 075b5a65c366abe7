"""Peer agent parts that need no network: ICE server URLs, RTCConfiguration, the aioice
version gate, the synthetic tracks and the data-channel echo probe."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy

from nattest.peers.aiortc.config import PeerConfig, rtc_configuration
from nattest.peers.aiortc.ice_adapter import UnsupportedAioice, check_version
from nattest.peers.aiortc.media import EchoProbe, PatternTrack, ToneTrack
from nattest.services.urls import parse_stun_url, parse_turn_url


@pytest.mark.parametrize(
    ("url", "relay_protocol", "port", "text"),
    [
        ("turn:203.0.113.10", "udp", 3478, "turn:203.0.113.10:3478?transport=udp"),
        (
            "turn:203.0.113.10:3478?transport=tcp",
            "tcp",
            3478,
            "turn:203.0.113.10:3478?transport=tcp",
        ),
        (
            "turns:203.0.113.10:5349?transport=tcp",
            "tls",
            5349,
            "turns:203.0.113.10:5349?transport=tcp",
        ),
        ("turns:203.0.113.10", "tls", 5349, "turns:203.0.113.10:5349?transport=tcp"),
    ],
)
def test_parse_turn_url(url: str, relay_protocol: str, port: int, text: str) -> None:
    parsed = parse_turn_url(url)
    assert (parsed.relay_protocol, parsed.port, str(parsed)) == (relay_protocol, port, text)


@pytest.mark.parametrize(
    "url",
    [
        "turn:user:pw@203.0.113.10",
        "turns:203.0.113.10:5349?transport=udp",
        "turn:turn.example.org:3478",
        "stun:203.0.113.10",
    ],
)
def test_bad_turn_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="bad TURN URL"):
        parse_turn_url(url)


def test_credentials_in_a_bad_url_are_not_echoed() -> None:
    with pytest.raises(ValueError) as err:
        parse_turn_url("turn:lab:hunter2@203.0.113.10:3478")
    assert "hunter2" not in str(err.value)
    assert "'turn:***@203.0.113.10:3478'" in str(err.value)


def test_parse_stun_url() -> None:
    assert str(parse_stun_url("stun:203.0.113.10:3479")) == "stun:203.0.113.10:3479"
    assert parse_stun_url("stun:203.0.113.10").port == 3478
    with pytest.raises(ValueError, match="bad STUN URL"):
        parse_stun_url("stun:203.0.113.10?transport=udp")


def test_no_servers_means_an_explicit_empty_list() -> None:
    config = rtc_configuration(PeerConfig(name="a", role="caller", signaling="ws://x", room="r"))
    assert config.iceServers == []  # None would make aiortc add Google's STUN server
    assert config.bundlePolicy == RTCBundlePolicy.MAX_BUNDLE
    assert config.iceTransportPolicy == RTCIceTransportPolicy.ALL


def test_relay_policy_and_servers() -> None:
    cfg = PeerConfig(
        name="a",
        role="callee",
        signaling="ws://x",
        room="r",
        policy="relay",
        stun=parse_stun_url("stun:203.0.113.10"),
        turn=parse_turn_url("turns:203.0.113.10:5349?transport=tcp"),
        turn_username="lab",
        turn_credential="s3cret",
    )
    config = rtc_configuration(cfg)
    assert config.iceTransportPolicy == RTCIceTransportPolicy.RELAY
    assert [s.urls for s in config.iceServers or []] == [
        "stun:203.0.113.10:3478",
        "turns:203.0.113.10:5349?transport=tcp",
    ]
    assert (config.iceServers or [])[1].credential == "s3cret"
    assert "s3cret" not in repr(cfg)
    assert cfg.url_for("relay") == "turns:203.0.113.10:5349?transport=tcp"
    assert cfg.url_for("host") is None


def test_aioice_version_gate() -> None:
    check_version()  # the installed one
    check_version("0.13.7")
    with pytest.raises(UnsupportedAioice, match=r"supports aioice 0\.13\.x only, found 0\.14\.0"):
        check_version("0.14.0")


async def test_tone_track_frames() -> None:
    track = ToneTrack()
    first, second = await track.recv(), await track.recv()
    assert (first.sample_rate, first.samples, second.pts) == (48000, 960, 960)
    samples = memoryview(bytes(first.planes[0])).cast("h")
    assert max(samples[:960]) > 7000  # a real tone, not silence
    track.stop()


async def test_pattern_track_moves() -> None:
    track = PatternTrack(64, 48)
    a, b = await track.recv(), await track.recv()
    assert (a.width, a.height, a.format.name) == (64, 48, "yuv420p")
    assert bytes(a.planes[0]) != bytes(b.planes[0])  # the bar moved
    track.stop()
    with pytest.raises(ValueError, match="need even sizes"):
        PatternTrack(641, 480)


class FakeChannel:
    """Stands in for RTCDataChannel: records sends, dispatches 'message' handlers."""

    def __init__(self) -> None:
        self.sent: list[str | bytes] = []
        self.handlers: list[Any] = []
        self.peer: FakeChannel | None = None

    def on(self, event: str, handler: Any) -> None:
        assert event == "message"
        self.handlers.append(handler)

    def send(self, data: str | bytes) -> None:
        self.sent.append(data)
        assert self.peer is not None
        for handler in self.peer.handlers:
            handler(data)


def test_echo_probe_round_trip() -> None:
    a_chan, b_chan = FakeChannel(), FakeChannel()
    a_chan.peer, b_chan.peer = b_chan, a_chan
    alice, bob = EchoProbe("alice"), EchoProbe("bob")
    alice.attach(a_chan)  # type: ignore[arg-type]
    bob.attach(b_chan)  # type: ignore[arg-type]
    alice.send_all(a_chan)  # type: ignore[arg-type]
    bob.send_all(b_chan)  # type: ignore[arg-type]
    assert len(alice.sent) == 6 and alice.echoed == set(range(6)) and alice.done.is_set()
    assert bob.echoes_given == 6
    kinds = [type(m) for m in a_chan.sent[:6]]
    assert kinds == [str, str, str, bytes, bytes, bytes]


def test_echo_probe_detects_altered_echo() -> None:
    chan = FakeChannel()
    chan.peer = FakeChannel()
    probe = EchoProbe("alice", count=1)
    probe.attach(chan)  # type: ignore[arg-type]
    probe.send_all(chan)  # type: ignore[arg-type]
    text_probe = json.loads(chan.sent[0])
    for handler in chan.handlers:
        handler(json.dumps({**text_probe, "echo": True, "body": "tampered"}))
        handler(json.dumps({**text_probe, "echo": True}))  # intact, and text as sent
    assert probe.echoed == {0}
    binary = json.loads(chan.sent[1])
    for handler in chan.handlers:
        handler(json.dumps({**binary, "echo": True}))  # text where bytes were sent
    assert probe.echoed == {0} and not probe.done.is_set()
