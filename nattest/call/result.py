"""CallResult: what one call between two lab peers did, precise enough to assert on.

Field names follow the W3C/webrtc-internals names users already know
(``currentRoundTripTime``, ``packetsLost``, ``jitter``) in the JSON form; the Python
attributes are snake_case with those names as aliases.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from nattest.model.base import Model

CandidateType = Literal["host", "srflx", "prflx", "relay"]
Transport = Literal["udp", "tcp", "tls"]
Policy = Literal["all", "relay"]
Role = Literal["caller", "callee"]


class Candidate(Model):
    """One ICE candidate (RFC 8445 5.1), as in a Trickle-ICE table."""

    type: CandidateType
    """host, srflx, prflx or relay."""
    protocol: Literal["udp", "tcp"]
    """Transport of the candidate itself."""
    address: str
    """IP address of the candidate."""
    port: int
    """Port of the candidate."""
    priority: int = 0
    """ICE priority (RFC 8445 5.1.2)."""
    foundation: str = ""
    """ICE foundation."""
    related_address: str | None = None
    """raddr: the base of a srflx/relay candidate."""
    related_port: int | None = None
    """rport: the base port of a srflx/relay candidate."""
    relay_protocol: Transport | None = None
    """For relay candidates: the transport to the TURN server (udp, tcp or tls)."""
    url: str | None = None
    """The STUN/TURN URL the candidate was gathered from (no credentials)."""

    def label(self) -> str:
        """`srflx 203.0.113.11:40000/udp` — the short form used in summaries."""
        via = f" via {self.relay_protocol}" if self.relay_protocol else ""
        return f"{self.type} {self.address}:{self.port}/{self.protocol}{via}"


class CandidatePair(Model):
    """The ICE candidate pair that carries the call (the nominated, selected pair)."""

    local: Candidate
    """Local candidate of the pair."""
    remote: Candidate
    """Remote candidate of the pair."""

    def short(self) -> str:
        """`srflx↔prflx`: local type ↔ remote type."""
        return f"{self.local.type}↔{self.remote.type}"


class PairSwitch(Model):
    """The selected pair changed (libwebrtc may first select a relayed pair and switch to a
    direct one a second or two later, when that becomes writable)."""

    t: float
    """When it was seen, on the call's clock (as StateEvent.t)."""
    pair: CandidatePair
    """The pair selected from then on, this peer's view."""


class StateEvent(Model):
    """One state change, with its time on the call's clock (seconds)."""

    machine: Literal["iceGathering", "iceConnection", "dtls", "connection", "signaling"]
    """Which state machine changed."""
    state: str
    """New state (`new`, `checking`, `connected`, `completed`, `failed`, ...)."""
    t: float
    """Seconds since the call started (its peers were launched: the clock faults are
    scheduled on, CLOCK_MONOTONIC shared by every process); since the agent started for
    a peer run on its own."""
    source: Literal["stack", "nattest"] = "stack"
    """`stack`: the WebRTC stack emitted it; `nattest`: nattest derived it from something it
    observed (aiortc has no `disconnected` state: nattest records one at the first consent
    check that went unanswered, and `completed` again when one is answered)."""
    detail: str | None = None
    """What a `nattest` event is grounded in (`ICE consent check unanswered`)."""


class RtpStats(Model):
    """getStats figures of one media kind, both directions."""

    kind: Literal["audio", "video"]
    """Media kind."""
    packets_received: int = 0
    """inbound-rtp packetsReceived."""
    packets_lost: int = 0
    """inbound-rtp packetsLost."""
    jitter: float = 0.0
    """inbound-rtp jitter, seconds."""
    bytes_received: int = 0
    """inbound-rtp bytesReceived."""
    bytes_sent: int = 0
    """outbound-rtp bytesSent."""
    packets_sent: int = 0
    """outbound-rtp packetsSent."""
    frames_decoded: int = 0
    """Frames (audio or video) the receiving track actually produced."""


class BitrateSample(Model):
    """One second of one media kind, from two getStats reports (webrtc-internals' derived
    `[bytesSent_in_bits/s]` figures)."""

    t: float
    """Seconds on the call's clock (as StateEvent.t) at the end of the interval."""
    kind: Literal["audio", "video"]
    """Media kind."""
    interval: float
    """Seconds between the two reports the figures come from (≈ 1)."""
    bytes_sent_in_bits_per_s: float = Field(
        default=0.0,
        serialization_alias="bytesSent_in_bits/s",
        validation_alias=AliasChoices("bytesSent_in_bits/s", "bytes_sent_in_bits_per_s"),
    )
    """outbound-rtp bytesSent delta × 8 / interval: the sender's bitrate (JSON
    `bytesSent_in_bits/s`, as webrtc-internals names it)."""
    packets_sent_per_s: float = Field(
        default=0.0,
        serialization_alias="packetsSent/s",
        validation_alias=AliasChoices("packetsSent/s", "packets_sent_per_s"),
    )
    """outbound-rtp packetsSent delta / interval (JSON `packetsSent/s`)."""
    packets_received_per_s: float = Field(
        default=0.0,
        serialization_alias="packetsReceived/s",
        validation_alias=AliasChoices("packetsReceived/s", "packets_received_per_s"),
    )
    """inbound-rtp packetsReceived delta / interval (JSON `packetsReceived/s`; aiortc has
    no inbound bytesReceived, so no inbound bitrate)."""


class Stats(Model):
    """Stats of one peer at the end of the call."""

    current_round_trip_time: float | None = None
    """RTT of the selected pair in seconds (from ICE consent checks or RTCP)."""
    rtp: list[RtpStats] = Field(default_factory=list)
    """Per-kind RTP figures."""
    bitrate: list[BitrateSample] = Field(default_factory=list)
    """Once a second from connected to the end of the media phase, per kind."""

    def bitrates(self, kind: Literal["audio", "video"]) -> list[BitrateSample]:
        """The samples of one kind, in time order."""
        return [s for s in self.bitrate if s.kind == kind]


class MediaVerdict(Model):
    """Did media really flow to this peer?"""

    audio_frames: int = 0
    """Audio frames decoded from the remote track."""
    video_frames: int = 0
    """Video frames decoded from the remote track."""
    data_sent: int = 0
    """Data-channel messages sent by this peer."""
    data_echoed: int = 0
    """Of those, how many came back intact."""

    @property
    def ok(self) -> bool:
        """Audio and video decoded and every data-channel message echoed intact."""
        return (
            self.audio_frames > 0
            and self.video_frames > 0
            and self.data_sent > 0
            and self.data_echoed == self.data_sent
        )


class SdpCheck(Model):
    """Result of checking one SDP against what a WebRTC SDP must carry."""

    ok: bool
    """True when no problem was found."""
    problems: list[str] = Field(default_factory=list)
    """Each missing or inconsistent element, e.g. `no a=group:BUNDLE`."""


class PeerResult(Model):
    """What one peer saw, as its peer kind reports it (nattest.peers)."""

    name: str
    """Node name of the peer (`alice`)."""
    role: Role
    """Who sent the offer."""
    kind: str = "aiortc"
    """Peer kind that ran it (`aiortc`; see nattest.peers)."""
    policy: Policy = "all"
    """iceTransportPolicy."""
    outcome: Literal["connected", "failed"]
    """connected: ICE and DTLS connected and stayed up to the end of the call; failed:
    they never connected, or the connection was lost mid-call (``time_to_connected`` is
    then set, and ``reason`` says how it was lost)."""
    reason: str | None = None
    """Why it failed, in network words."""
    local_candidates: list[Candidate] = Field(default_factory=list)
    """Candidates this peer gathered."""
    remote_candidates: list[Candidate] = Field(default_factory=list)
    """Candidates received from the other peer (in its SDP)."""
    selected_pair: CandidatePair | None = None
    """The nominated pair, from this peer's point of view."""
    valid_pairs: list[CandidatePair] = Field(default_factory=list)
    """Every pair whose connectivity check succeeded by the end of the call (RFC 8445
    7.2.5.3.2 valid list), this peer's view. aioice nominates the first pair to succeed,
    so this, not the nominated pair, tells whether a direct path works."""
    timeline: list[StateEvent] = Field(default_factory=list)
    """State changes with times."""
    time_to_connected: float | None = None
    """Seconds from offer sent/received to ICE connected."""
    call_duration: float | None = None
    """Seconds from start to leave."""
    stats: Stats = Field(default_factory=Stats)
    """getStats figures at the end of the call."""
    media: MediaVerdict = Field(default_factory=MediaVerdict)
    """Media verdicts."""
    local_sdp: str = ""
    """The local description this peer applied."""
    remote_sdp: str = ""
    """The remote description this peer applied."""
    sdp_check: SdpCheck | None = None
    """Check of the local SDP."""
    turn_preflight: str | None = None
    """Outcome of a TURN allocation made before the call (`ok` or the error)."""
    pair_switches: list[PairSwitch] = Field(default_factory=list)
    """Every selected pair in time order, the first one included (kinds that report the
    selected pair over time: chromium; empty for aiortc). ``selected_pair`` is the one
    selected at the end of media."""
    ice_restarts: list[float] = Field(default_factory=list)
    """Call-clock times at which this peer restarted ICE (RFC 8445 9: new ufrag and
    password, renegotiated through signaling) after its connection went disconnected."""
    warnings: list[str] = Field(default_factory=list)
    """What went wrong without failing the call (e.g. `getStats failed: ...`): the figures
    it concerns are missing, not zero."""


class FaultRecord(Model):
    """One fault of the call's schedule (``nattest.call.faults``) and what came of it."""

    at: float
    """When it was scheduled: seconds since the call started."""
    spec: str
    """The fault as written (`3s:cut nat-a`)."""
    action: str
    """Action name (`cut`, `restore`, `kill`, `flush`, `impair`, `clear`)."""
    target: str
    """Node, server or link it acted on."""
    t: float | None = None
    """When it was applied, on the call's clock (as StateEvent.t); None if never."""
    outcome: Literal["applied", "error", "skipped"] = "skipped"
    """applied; error (the action failed: `detail` says why); skipped (the call ended or
    was cancelled first)."""
    detail: str = ""
    """What was done (`nat-a drops every packet: nft table inet nattest_fault`) or the
    error."""


class CallResult(Model):
    """One call: both peers' results and the call-level verdicts."""

    topology: str
    """Topology name."""
    caller: PeerResult
    """The peer that sent the offer."""
    callee: PeerResult
    """The peer that answered."""
    policy: Policy = "all"
    """iceTransportPolicy of the call."""
    turn_transport: Transport = "udp"
    """Transport to the TURN server."""
    quality: float = 1.0
    """Quality score 1..5 (see nattest.call.quality)."""
    lab_setup: float | None = None
    """Seconds spent bringing the lab up."""
    selected_pair: CandidatePair | None = None
    """The selected pair from the caller's view, typed as libwebrtc's getStats reports it:
    the local candidate is the caller's address as the callee saw it (`srflx` when it is
    the STUN-learned mapping, `prflx` when the NAT mapped it otherwise, `host`, `relay`).
    Each peer kind says how its own view becomes this form (``PeerKind.reported_pair``)."""
    callee_pair: CandidatePair | None = None
    """The same, from the callee's view."""
    faults: list[FaultRecord] = Field(default_factory=list)
    """The faults scheduled during the call, each with its outcome, in time order."""

    @property
    def connected(self) -> bool:
        """Both peers connected."""
        return self.caller.outcome == "connected" and self.callee.outcome == "connected"

    @property
    def direct_path(self) -> bool:
        """A pair without a relay on either side succeeded, seen by either peer."""
        return any(
            p.local.type != "relay" and p.remote.type != "relay"
            for peer in (self.caller, self.callee)
            for p in peer.valid_pairs
        )

    @property
    def media_ok(self) -> bool:
        """Media and data flowed in both directions."""
        return self.caller.media.ok and self.callee.media.ok
