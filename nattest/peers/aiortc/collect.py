"""Turn aiortc objects (candidates, getStats reports) into nattest.call.result models.

Stats used (aiortc 1.16 names, which are the W3C ones):

* ``inbound-rtp``: packetsReceived, packetsLost, jitter. aiortc reports jitter in RTP
  timestamp units; it is converted to seconds with the codec clock (48 kHz Opus,
  90 kHz VP8). aiortc has no inbound ``bytesReceived``: it stays 0.
* ``outbound-rtp``: packetsSent, bytesSent.
* ``remote-inbound-rtp`` roundTripTime (from RTCP receiver reports, RFC 3550 6.4.1) is the
  ``currentRoundTripTime``: the mean over the kinds that have one. It needs one RTCP
  SR→RR exchange, so it can be None on a very short call. (aiortc has no candidate-pair
  stats, hence no ICE-based RTT.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from aiortc import RTCIceCandidate

from nattest.call.result import Candidate, CandidatePair, RtpStats, Stats
from nattest.call.sdp import candidate_key
from nattest.peers.aiortc.config import PeerConfig
from nattest.peers.aiortc.ice_adapter import RawCandidate

CLOCK_RATES = {"audio": 48000, "video": 90000}
"""RTP clock rate per kind (Opus, VP8)."""

KINDS: tuple[Literal["audio", "video"], ...] = ("audio", "video")
"""Media kinds of a call."""


def annotate(candidates: Iterable[Candidate], cfg: PeerConfig) -> list[Candidate]:
    """Add the server URL, and for relay candidates the transport to the TURN server."""
    out = []
    for c in candidates:
        extra: dict[str, Any] = {"url": cfg.url_for(c.type)}
        if c.type == "relay" and cfg.turn is not None:
            extra["relay_protocol"] = cfg.turn.relay_protocol
        out.append(c.model_copy(update=extra))
    return out


def from_raw(raw: RawCandidate) -> Candidate:
    """A result Candidate from aioice's view of one."""
    return Candidate(
        type=raw.type if raw.type in ("host", "srflx", "prflx", "relay") else "prflx",  # type: ignore[arg-type]
        protocol="tcp" if raw.protocol == "tcp" else "udp",
        address=raw.address,
        port=raw.port,
        priority=raw.priority,
        foundation=raw.foundation,
        related_address=raw.related_address,
        related_port=raw.related_port,
    )


def from_rtc(c: RTCIceCandidate) -> Candidate:
    """A result Candidate from aiortc's public RTCIceCandidate."""
    return from_raw(
        RawCandidate(
            type=c.type,
            protocol=c.protocol.lower(),
            address=c.ip,
            port=c.port,
            priority=c.priority,
            foundation=c.foundation,
            related_address=c.relatedAddress,
            related_port=c.relatedPort,
        )
    )


def selected_pair(
    raw: tuple[RawCandidate, RawCandidate] | None,
    local: list[Candidate],
    remote_in_sdp: list[Candidate],
    cfg: PeerConfig,
) -> CandidatePair | None:
    """The nominated pair as result models.

    The local side is matched to the gathered (annotated) candidates; a remote candidate
    that was not in the remote SDP is reported as ``prflx`` (learned from a check).
    """
    if raw is None:
        return None
    raw_local, raw_remote = raw
    by_key = {candidate_key(c): c for c in local}
    lc = from_raw(raw_local)
    lc = by_key.get(candidate_key(lc)) or annotate([lc], cfg)[0]
    rc = from_raw(raw_remote)
    # Same type first: without a NAT a srflx candidate repeats its host's address.
    same_key = [c for c in remote_in_sdp if candidate_key(c) == candidate_key(rc)]
    same_addr = [
        c
        for c in remote_in_sdp
        if (c.address, c.port, c.protocol) == (rc.address, rc.port, rc.protocol)
    ]
    matches = same_key or same_addr
    rc = matches[0] if matches else rc.model_copy(update={"type": "prflx"})
    return CandidatePair(local=lc, remote=rc)


def _get(stat: Any, name: str, default: Any = 0) -> Any:
    value = getattr(stat, name, default)
    return default if value is None else value


def rtp_stats(report: Mapping[str, Any], frames: Mapping[str, int]) -> Stats:
    """Stats from a getStats report plus the frames each received track produced."""
    per_kind: dict[str, RtpStats] = {
        kind: RtpStats(kind=kind, frames_decoded=frames.get(kind, 0)) for kind in KINDS
    }
    rtts: list[float] = []
    for stat in report.values():
        kind = getattr(stat, "kind", None)
        if kind not in per_kind:
            continue
        s = per_kind[kind]
        if stat.type == "inbound-rtp":
            s.packets_received += int(_get(stat, "packetsReceived"))
            s.packets_lost += int(_get(stat, "packetsLost"))
            s.jitter = max(s.jitter, float(_get(stat, "jitter")) / CLOCK_RATES[kind])
            s.bytes_received += int(_get(stat, "bytesReceived"))
        elif stat.type == "outbound-rtp":
            s.packets_sent += int(_get(stat, "packetsSent"))
            s.bytes_sent += int(_get(stat, "bytesSent"))
        elif stat.type == "remote-inbound-rtp":
            rtt = getattr(stat, "roundTripTime", None)
            if rtt is not None:
                rtts.append(float(rtt))
    rtt_mean = sum(rtts) / len(rtts) if rtts else None
    return Stats(current_round_trip_time=rtt_mean, rtp=list(per_kind.values()))
