"""Chromium's reports (W3C getStats dicts, candidate lines) as nattest result models. Pure.

Stats used (libwebrtc's names, the W3C ones):

* ``local-candidate`` / ``remote-candidate``: candidateType, protocol, address, port,
  priority, foundation, relatedAddress/Port, and for local relays relayProtocol and url.
  A remote candidate learned from a check is ``prflx``, as libwebrtc types it; Chromium
  hides its address (privacy: it reports none), so it has address "" here until the
  other peer's view fills it in (``ChromiumPeer.reported_pair``).
* ``transport`` selectedCandidatePairId → ``candidate-pair`` (localCandidateId,
  remoteCandidateId): the selected pair; its currentRoundTripTime is the call's RTT (STUN
  consent checks on the pair, RFC 7675). Every ``candidate-pair`` whose state is
  ``succeeded`` or that received a check response is on the valid list.
* ``inbound-rtp``: packetsReceived, packetsLost, jitter (seconds), bytesReceived; decoded
  media: video framesDecoded, audio (totalSamplesReceived − concealedSamples) / 960 (20 ms
  frames at 48 kHz: what was really played, not concealment).
* ``outbound-rtp``: packetsSent, bytesSent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any, Literal

from nattest.call.result import (
    BitrateSample,
    Candidate,
    CandidatePair,
    PairSwitch,
    RtpStats,
    Stats,
)
from nattest.call.sdp import candidate_key, parse_candidate_line, parse_candidates
from nattest.peers.rates import KINDS, Totals, rates, totals

Stat = Mapping[str, Any]
"""One getStats entry as the page sent it (JSON)."""

AUDIO_FRAME_SAMPLES = 960
"""Samples in one 20 ms audio frame at 48 kHz."""


def candidate(stat: Stat) -> Candidate | None:
    """A Candidate from a local-/remote-candidate stat; None when it is not one."""
    ctype = stat.get("candidateType")
    protocol = str(stat.get("protocol", "")).lower()
    address = stat.get("address") or stat.get("ip")
    if ctype not in ("host", "srflx", "prflx", "relay") or protocol not in ("udp", "tcp"):
        return None
    if not address and ctype != "prflx":
        return None
    relay = str(stat.get("relayProtocol") or "").lower() or None
    return Candidate(
        type=ctype,
        protocol=protocol,  # type: ignore[arg-type]  # checked above
        address=str(address or ""),
        port=int(stat.get("port") or 0),
        priority=int(stat.get("priority") or 0),
        foundation=str(stat.get("foundation") or ""),
        related_address=stat.get("relatedAddress") or None,
        related_port=stat.get("relatedPort"),
        relay_protocol=relay if ctype == "relay" and relay in ("udp", "tcp", "tls") else None,  # type: ignore[arg-type]
        url=stat.get("url") or None,
    )


def _merge(candidates: Iterable[Candidate]) -> list[Candidate]:
    """In order, one per (type, protocol, address, port); a later one fills what an earlier
    one lacks (a trickled line has no url, its stat has)."""
    out: dict[tuple[str, str, str, int], Candidate] = {}
    for c in candidates:
        key = candidate_key(c)
        if key not in out:
            out[key] = c
            continue
        have = out[key]
        fill = {
            name: getattr(c, name)
            for name in ("url", "relay_protocol", "related_address", "related_port", "foundation")
            if not getattr(have, name) and getattr(c, name)
        }
        if fill:
            out[key] = have.model_copy(update=fill)
    return list(out.values())


def local_candidates(lines: Sequence[str], stats: Sequence[Stat]) -> list[Candidate]:
    """What this peer gathered: the candidates Chromium gave ``onicecandidate`` (in order),
    completed from its local-candidate stats (url, relayProtocol), plus any gathered one
    only there. A local prflx (learned from a check's response) was not gathered: it is
    in the pairs, not here."""
    from_lines = [c for c in map(parse_candidate_line, lines) if c is not None]
    from_stats = [
        c
        for s in stats
        if s.get("type") == "local-candidate"
        if (c := candidate(s)) is not None and c.type != "prflx"
    ]
    return _merge([*from_lines, *from_stats])


def remote_candidates(remote_sdps: Sequence[str], trickled: Sequence[str]) -> list[Candidate]:
    """What the other side signalled: the candidates of its SDPs and of its ``ice`` messages."""
    from_sdp = [c for sdp in remote_sdps for c in parse_candidates(sdp)]
    from_ice = [c for c in map(parse_candidate_line, trickled) if c is not None]
    return _merge([*from_sdp, *from_ice])


def _by_id(stats: Sequence[Stat]) -> dict[str, Stat]:
    return {str(s["id"]): s for s in stats if "id" in s}


def _pair(
    pair: Stat, by_id: Mapping[str, Stat], gathered: Sequence[Candidate]
) -> CandidatePair | None:
    local = by_id.get(str(pair.get("localCandidateId")))
    remote = by_id.get(str(pair.get("remoteCandidateId")))
    return stat_pair(local, remote, gathered) if local and remote else None


def _completed(c: Candidate, known: Sequence[Candidate]) -> Candidate:
    """`c` as it was gathered (with its url), when it was."""
    for k in known:
        if candidate_key(k) == candidate_key(c):
            return _merge([k, c])[0]
    return c


def stat_pair(local: Stat, remote: Stat, gathered: Sequence[Candidate]) -> CandidatePair | None:
    """A pair from the two candidate stats the page reported with a selection change."""
    lc, rc = candidate(local), candidate(remote)
    if lc is None or rc is None:
        return None
    return CandidatePair(local=_completed(lc, gathered), remote=rc)


def selected_pair(stats: Sequence[Stat], gathered: Sequence[Candidate]) -> CandidatePair | None:
    """The pair of the transport's selectedCandidatePairId, None when there is none."""
    by_id = _by_id(stats)
    for s in stats:
        if s.get("type") == "transport" and s.get("selectedCandidatePairId"):
            pair = by_id.get(str(s["selectedCandidatePairId"]))
            if pair is not None:
                return _pair(pair, by_id, gathered)
    return None


def valid_pairs(stats: Sequence[Stat], gathered: Sequence[Candidate]) -> list[CandidatePair]:
    """Every pair whose connectivity check succeeded: state `succeeded`, or a response
    received (a pair being re-checked for consent reads `in-progress` again)."""
    by_id = _by_id(stats)
    out = []
    for s in stats:
        ok = s.get("state") == "succeeded" or int(s.get("responsesReceived") or 0) > 0
        if s.get("type") == "candidate-pair" and ok:
            pair = _pair(s, by_id, gathered)
            if pair is not None and pair not in out:
                out.append(pair)
    return out


def round_trip_time(stats: Sequence[Stat]) -> float | None:
    """currentRoundTripTime of the selected pair (seconds), None when unknown."""
    by_id = _by_id(stats)
    for s in stats:
        if s.get("type") == "transport" and s.get("selectedCandidatePairId"):
            pair = by_id.get(str(s["selectedCandidatePairId"]), {})
            rtt = pair.get("currentRoundTripTime")
            return float(rtt) if rtt is not None else None
    return None


def decoded(stats: Sequence[Stat]) -> dict[str, int]:
    """Frames really decoded per kind (see the module's docstring)."""
    out: dict[str, int] = dict.fromkeys(KINDS, 0)
    for s in stats:
        if s.get("type") != "inbound-rtp":
            continue
        if s.get("kind") == "video":
            out["video"] += int(s.get("framesDecoded") or 0)
        elif s.get("kind") == "audio":
            played = int(s.get("totalSamplesReceived") or 0) - int(s.get("concealedSamples") or 0)
            out["audio"] += max(played, 0) // AUDIO_FRAME_SAMPLES
    return out


def rtp_stats(stats: Sequence[Stat]) -> Stats:
    """Stats: the selected pair's RTT and the RTP figures per kind."""
    frames = decoded(stats)
    per_kind = {k: RtpStats(kind=k, frames_decoded=frames[k]) for k in KINDS}
    for s in stats:
        kind = s.get("kind")
        if kind not in per_kind:
            continue
        r = per_kind[kind]
        if s.get("type") == "inbound-rtp":
            r.packets_received += int(s.get("packetsReceived") or 0)
            r.packets_lost += int(s.get("packetsLost") or 0)
            r.jitter = max(r.jitter, float(s.get("jitter") or 0.0))
            r.bytes_received += int(s.get("bytesReceived") or 0)
        elif s.get("type") == "outbound-rtp":
            r.packets_sent += int(s.get("packetsSent") or 0)
            r.bytes_sent += int(s.get("bytesSent") or 0)
    return Stats(current_round_trip_time=round_trip_time(stats), rtp=list(per_kind.values()))


def _totals(rtp: Sequence[Stat]) -> tuple[dict[Literal["audio", "video"], Totals], float]:
    """Counters per kind and the newest stats timestamp (seconds) of one sample."""
    as_objects = {str(i): SimpleNamespace(**dict(s)) for i, s in enumerate(rtp)}
    stamps = [float(s["timestamp"]) for s in rtp if s.get("timestamp") is not None]
    return totals(as_objects), (max(stamps) / 1000 if stamps else 0.0)


def bitrate(samples: Sequence[tuple[float, Sequence[Stat]]]) -> list[BitrateSample]:
    """Per-second samples from the page's `sample` reports: (call-clock time, rtp stats).
    The interval is the stats' own timestamps' difference (Chromium stamps each report)."""
    out: list[BitrateSample] = []
    previous: tuple[dict[Literal["audio", "video"], Totals], float] | None = None
    for t, rtp in samples:
        current = _totals(rtp)
        if previous is not None:
            out += rates(previous[0], current[0], current[1] - previous[1], t)
        previous = current
    return out


def pair_switches(
    seen: Sequence[tuple[float, Stat, Stat]], gathered: Sequence[Candidate]
) -> list[PairSwitch]:
    """Every selected pair in time order (each (time, local stat, remote stat) reported
    when the transport's selectedCandidatePairId changed); a repeat of the same pair (a
    new stats id after a restart) is not a switch."""
    out: list[PairSwitch] = []
    for t, local, remote in seen:
        pair = stat_pair(local, remote, gathered)
        if pair is not None and (not out or out[-1].pair != pair):
            out.append(PairSwitch(t=t, pair=pair))
    return out


__all__ = [
    "bitrate",
    "candidate",
    "decoded",
    "local_candidates",
    "pair_switches",
    "remote_candidates",
    "round_trip_time",
    "rtp_stats",
    "selected_pair",
    "stat_pair",
    "valid_pairs",
]
