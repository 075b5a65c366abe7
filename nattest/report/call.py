"""A call as plain text: what a failing pytest assertion, JUnit and the CLI show.

``summary()`` gives a Trickle-ICE-style candidate table per peer (type, protocol, address,
port, priority, URL), the selected pair, timings, webrtc-internals stat names, media
verdicts, warnings and the failure reason. It never contains credentials (results hold none).
"""

from __future__ import annotations

from nattest.call.result import CallResult, Candidate, CandidatePair, PeerResult, RtpStats

_COLUMNS = ("type", "protocol", "address", "port", "priority", "url")


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def candidate_table(candidates: list[Candidate], indent: str = "    ") -> list[str]:
    """Rows of a Trickle-ICE-style table, header first."""
    rows = [list(_COLUMNS)]
    for c in candidates:
        url = c.url or "-"
        if c.relay_protocol:
            url += f" (via {c.relay_protocol})"
        rows.append([c.type, c.protocol, c.address, str(c.port), str(c.priority), url])
    if len(rows) == 1:
        return [f"{indent}(none)"]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS) - 1)]
    return [
        indent + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)) + "  " + r[-1]
        for r in rows
    ]


def pair_text(pair: CandidatePair | None) -> str:
    """``host 10.0.0.1:5000/udp ↔ prflx 203.0.113.5:6000/udp [host↔prflx]``."""
    if pair is None:
        return "none"
    return f"{pair.local.label()} ↔ {pair.remote.label()}  [{pair.short()}]"


def _rtp_line(s: RtpStats) -> str:
    return (
        f"    {s.kind:5}  in: packetsReceived {s.packets_received}  packetsLost "
        f"{s.packets_lost}  jitter {_ms(s.jitter)}  bytesReceived {s.bytes_received}  "
        f"frames {s.frames_decoded} | out: packetsSent {s.packets_sent}  bytesSent "
        f"{s.bytes_sent}"
    )


def peer_text(p: PeerResult) -> list[str]:
    """The lines describing one peer."""
    ok = "OK" if p.media.ok else "INCOMPLETE"
    lines = [
        f"[{p.name}] {p.role} ({p.kind}), policy {p.policy}: {p.outcome.upper()}",
        f"  time to connected {_ms(p.time_to_connected)}, call duration "
        f"{'-' if p.call_duration is None else f'{p.call_duration:.2f} s'}",
    ]
    if p.reason:
        lines.append(f"  reason: {p.reason}")
    if p.turn_preflight is not None:
        lines.append(f"  TURN preflight: {p.turn_preflight}")
    lines += [f"  warning: {w}" for w in p.warnings]
    lines.append("  local candidates:")
    lines += candidate_table(p.local_candidates)
    lines.append("  remote candidates (from SDP):")
    lines += candidate_table(p.remote_candidates)
    lines.append(f"  selected pair: {pair_text(p.selected_pair)}")
    if p.timeline:
        events = ", ".join(
            f"{e.machine} {e.state}{'*' if e.source == 'nattest' else ''} @{e.t:.3f}"
            for e in p.timeline
        )
        lines.append(f"  timeline (* nattest-side, from consent checks): {events}")
    lines.append(f"  stats: currentRoundTripTime {_ms(p.stats.current_round_trip_time)}")
    lines += [_rtp_line(s) for s in p.stats.rtp]
    for kind in ("audio", "video"):
        samples = p.stats.bitrates(kind)
        if samples:
            per_s = " ".join(f"{s.bytes_sent_in_bits_per_s / 1000:.0f}" for s in samples)
            lines.append(f"    {kind:5}  bytesSent_in_bits/s (kbit/s, one a second): {per_s}")
    m = p.media
    lines.append(
        f"  media {ok}: audio {m.audio_frames} frames, video {m.video_frames} frames, "
        f"data channel {m.data_echoed}/{m.data_sent} echoed intact"
    )
    if p.sdp_check is not None:
        check = "ok" if p.sdp_check.ok else "; ".join(p.sdp_check.problems)
        lines.append(f"  SDP check: {check}")
    return lines


def summary(call: CallResult) -> str:
    """Readable multi-line text of a call (plain text, no colour)."""
    verdict = "CONNECTED" if call.connected else "FAILED"
    media = "media OK" if call.media_ok else "media INCOMPLETE"
    head = [
        f"Call {call.caller.name} → {call.callee.name} on '{call.topology}': {verdict}, "
        f"{media}, quality {call.quality:.1f}/5 "
        f"(policy {call.policy}, TURN transport {call.turn_transport})",
        f"Selected pair ({call.caller.name}'s view): {pair_text(call.selected_pair)}",
    ]
    if call.lab_setup is not None:
        head.append(f"Lab setup {call.lab_setup:.2f} s")
    for f in call.faults:
        when = "not applied" if f.t is None else f"@{f.t:.3f}"
        head.append(f"Fault {f.spec}: {f.outcome} {when}: {f.detail}")
    return "\n".join([*head, "", *peer_text(call.caller), "", *peer_text(call.callee)])


__all__ = ["candidate_table", "pair_text", "peer_text", "summary"]
