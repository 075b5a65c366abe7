"""Build a sample matrix report from synthetic, realistic CallResults (no lab, no root).

    .venv/bin/python tools/sample_report.py [OUTDIR]     # default: sample-report/

writes ``matrix.html``, ``matrix.xml`` (JUnit) and ``matrix.json`` and prints the terminal
grid. Every cell follows its expectation except a few deliberate departures, so the page
shows each colour: one cell differs (a direct pair succeeds where a relay is expected), one
lab error, one failed call. ``--clean`` makes every cell match. Each peer's valid list
(``valid_pairs``) holds every pair of the cell's nominable set the network allows: with a
direct path, the direct pair and the relayed ones; without, the relayed ones only. One direct
cell nominates a relayed pair (aioice's first success, rule `first-success`) and still
matches. The unit tests import ``sample_matrix()`` from here.

Addresses follow ``nattest.configs.pair_topology``: alice (caller) behind 203.0.113.11,
bob (callee) behind 203.0.113.12, coturn (STUN, TURN) at 203.0.113.2.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from rich.console import Console

from nattest.expectations import Expectation, load_expectations, pair_types, path_of
from nattest.peer.report import merge_call
from nattest.report import (
    MachineInfo,
    MatrixCell,
    MatrixResult,
    evaluate,
    print_report,
    write_html,
    write_json,
    write_junit,
)
from nattest.result import (
    Candidate,
    CandidatePair,
    MediaVerdict,
    PeerResult,
    RtpStats,
    SdpCheck,
    StateEvent,
    Stats,
    Transport,
)

TURN = "203.0.113.2"
TYPE_PREF = {"host": 126, "prflx": 110, "srflx": 100, "relay": 0}
DEPARTURES = {
    "port-restricted-cone--symmetric--all": "srflx↔prflx",
    "symmetric--symmetric--all": "ERROR",
    "port-restricted-cone--port-restricted-cone--relay-tls": "FAILED",
}
"""Cells the sample deliberately gets 'wrong', to show every status."""
FIRST_SUCCESS = {"restricted-cone--port-restricted-cone--all": "relay↔srflx"}
"""Direct cells where the sample nominates a relayed pair: the direct pair still succeeds
(it is on the valid list), so the cell is as expected."""


def priority(kind: str) -> int:
    """RFC 8445 5.1.2.1 with aioice's local preference 65535, component 1."""
    return (TYPE_PREF[kind] << 24) + (65535 << 8) + 255


def _cand(kind: str, address: str, port: int, **extra: object) -> Candidate:
    return Candidate.model_validate(
        {
            "type": kind,
            "protocol": "udp",
            "address": address,
            "port": port,
            "priority": priority(kind),
            "foundation": str(zlib.crc32(f"{kind}|{address}".encode())),
            **extra,
        }
    )


def gathered(config: str, n: int, transport: Transport, policy: str) -> list[Candidate]:
    """The candidates one peer gathers behind `config` (n = 1 caller, 2 callee)."""
    host = f"198.51.100.{10 if n == 1 else 138}" if config == "open" else f"10.{n}.0.10"
    public = host if config == "open" else f"203.0.113.{10 + n}"
    port = 40000 + 17 * n
    mapped = 20000 + 311 * n if "symmetric" in config else port
    stun = f"stun:{TURN}:3478"
    turn = (
        f"turns:{TURN}:5349?transport=tcp"
        if transport == "tls"
        else (f"turn:{TURN}:3478?transport={transport}")
    )
    relay = _cand(
        "relay",
        TURN,
        49152 + 40 * n,
        related_address="0.0.0.0" if policy == "relay" else public,
        related_port=9 if policy == "relay" else mapped,
        relay_protocol=transport,
        url=turn,
    )
    if policy == "relay":
        return [relay]
    out = [_cand("host", host, port)]
    if config != "udp-blocked":
        out.append(
            _cand("srflx", public, mapped, related_address=host, related_port=port, url=stun)
        )
    return [*out, relay]


def _pick(kind: str, cands: list[Candidate], n: int, config: str) -> Candidate:
    for c in cands:
        if c.type == kind:
            return c
    public = f"203.0.113.{10 + n}" if config != "open" else cands[0].address
    return _cand("prflx", public, 21000 + 977 * n)  # a mapping STUN never saw (symmetric)


def sdp(name: str, cands: list[Candidate], offer: bool) -> str:
    """An aiortc-like SDP carrying `cands` (BUNDLE, rtcp-mux, DTLS fingerprint)."""
    lines = [
        "v=0",
        f"o=- {zlib.crc32(name.encode())} 0 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1 2",
        "a=msid-semantic:WMS *",
        "m=audio 9 UDP/TLS/RTP/SAVPF 96 0 8",
        "c=IN IP4 0.0.0.0",
        "a=sendrecv",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=mid:0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=rtcp-mux",
        "a=rtpmap:96 opus/48000/2",
        "a=rtpmap:0 PCMU/8000",
    ]
    for c in cands:
        rel = f" raddr {c.related_address} rport {c.related_port}" if c.related_address else ""
        lines.append(
            f"a=candidate:{c.foundation} 1 udp {c.priority} {c.address} {c.port} typ {c.type}{rel}"
        )
    lines += [
        "a=end-of-candidates",
        f"a=ice-ufrag:{name[:2]}Xq",
        "a=ice-pwd:7d1c0f9e4b2a8c6d5e3f1a0b",
        "a=fingerprint:sha-256 5B:1E:0C:9A:77:3D:E2:41:AA:90:12:6F:C8:3B:0D:54:"
        "E9:2F:71:16:8B:C4:05:DA:3E:6A:91:F0:27:BC:48:D3",
        f"a=setup:{'actpass' if offer else 'active'}",
        "m=video 9 UDP/TLS/RTP/SAVPF 97 98",
        "c=IN IP4 0.0.0.0",
        "a=mid:1",
        "a=rtpmap:97 VP8/90000",
        "a=rtpmap:98 rtx/90000",
        "a=fmtp:98 apt=97",
        "m=application 9 DTLS/SCTP 5000",
        "c=IN IP4 0.0.0.0",
        "a=mid:2",
        "a=sctpmap:5000 webrtc-datachannel 65535",
        "a=max-message-size:65536",
    ]
    return "\r\n".join(lines) + "\r\n"


def _timing(exp: Expectation) -> tuple[float, float]:
    """(gathering, time to connected) as aiortc shows them on a quiet lab (docs/matrix.md)."""
    blocked = "udp-blocked" in (exp.caller, exp.callee)
    gathering = 5.004 if blocked else 0.031
    if exp.policy == "relay":
        return gathering, 0.512
    if exp.callee == "udp-blocked" and exp.caller != "open":
        return gathering, 0.538
    return gathering, {"direct": 0.034, "relay": 0.118}[path_of(exp.pair[0])]


def peer_result(
    name: str,
    role: Literal["caller", "callee"],
    exp: Expectation,
    local: list[Candidate],
    remote: list[Candidate],
    pair: CandidatePair | None,
    valid: list[CandidatePair],
    rtt: float,
) -> PeerResult:
    """One peer's synthetic result."""
    gathering, ttc = _timing(exp)
    ok = pair is not None
    t0 = 0.012
    timeline = [
        StateEvent(machine="iceGathering", state="gathering", t=t0),
        StateEvent(machine="iceGathering", state="complete", t=t0 + gathering),
    ]
    t_ice = t0 + gathering + 0.004 + ttc
    if ok:
        timeline += [
            StateEvent(machine="iceConnection", state="checking", t=t_ice - ttc),
            StateEvent(machine="iceConnection", state="completed", t=t_ice),
            StateEvent(machine="dtls", state="connected", t=t_ice + 0.011),
            StateEvent(machine="connection", state="connected", t=t_ice + 0.012),
        ]
    else:
        timeline.append(StateEvent(machine="iceConnection", state="failed", t=t_ice + 9.9))
    kinds = [
        RtpStats(
            kind="audio",
            packets_received=101,
            packets_lost=0,
            jitter=0.0006,
            packets_sent=102,
            bytes_sent=10404,
            frames_decoded=101,
        ),
        RtpStats(
            kind="video",
            packets_received=187,
            packets_lost=1,
            jitter=0.0021,
            packets_sent=190,
            bytes_sent=171233,
            frames_decoded=59,
        ),
    ]
    return PeerResult(
        name=name,
        role=role,
        policy=exp.policy,
        outcome="connected" if ok else "failed",
        reason=None if ok else "ICE failed: no candidate pair succeeded (1 local, 1 remote)",
        local_candidates=local,
        remote_candidates=remote,
        selected_pair=pair,
        valid_pairs=valid,
        timeline=timeline,
        time_to_connected=ttc if ok else None,
        call_duration=t_ice + 2.08 if ok else t_ice + 10,
        stats=Stats(current_round_trip_time=rtt if ok else None, rtp=kinds if ok else []),
        media=MediaVerdict(audio_frames=101, video_frames=59, data_sent=5, data_echoed=5)
        if ok
        else MediaVerdict(),
        local_sdp=sdp(name, local, role == "caller"),
        remote_sdp="",
        sdp_check=SdpCheck(ok=True),
        turn_preflight="ok" if any(c.type == "relay" for c in local) or not ok else None,
    )


def _pairs(
    pair: str, exp: Expectation, a: list[Candidate], b: list[Candidate]
) -> tuple[CandidatePair, CandidatePair]:
    """`pair` (caller's view, `srflx↔prflx`) as aioice holds it on each side."""
    lt, rt = pair_types(pair)
    # What each side looks like to the other (srflx, prflx: a mapping) and what aioice
    # reports as its own local side (the host base of that mapping, or the relay).
    la, rb = _pick(lt, a, 1, exp.caller), _pick(rt, b, 2, exp.callee)
    base_a = a[0] if la.type in ("srflx", "prflx") else la
    base_b = b[0] if rb.type in ("srflx", "prflx") else rb
    return CandidatePair(local=base_a, remote=rb), CandidatePair(local=base_b, remote=la)


def valid_list(exp: Expectation, observed: str) -> list[str]:
    """The pairs whose checks succeed: the nominable set the network allows, plus `observed`.

    With a direct path (`exp.path` direct) every pair of the set; without, the relayed ones.
    """
    if observed == "FAILED":
        return []
    allowed = [p for p in exp.pair if exp.path == "direct" or path_of(p) == "relay"]
    return allowed if observed in allowed else [observed, *allowed]


def sample_cell(exp: Expectation, observed: str | None = None) -> MatrixCell:
    """A cell whose call selected `observed` (default: the expectation's first pair)."""
    observed = observed or FIRST_SUCCESS.get(exp.id) or exp.pair[0]
    if observed == "ERROR":
        return evaluate(
            exp,
            error="[nat-a] `nft -f -` exited 1: Error: Could not process rule",
            timings={"lab_setup": 0.091, "total": 0.104},
        )
    t_a = exp.turn_transport or ("tcp" if exp.caller == "udp-blocked" else "udp")
    t_b = exp.turn_transport or ("tcp" if exp.callee == "udp-blocked" else "udp")
    a = gathered(exp.caller, 1, t_a, exp.policy)
    b = gathered(exp.callee, 2, t_b, exp.policy)
    pair_a = pair_b = None
    if observed != "FAILED":
        pair_a, pair_b = _pairs(observed, exp, a, b)
    valid = [_pairs(p, exp, a, b) for p in valid_list(exp, observed)]
    rtt = 0.0021 if "relay" in observed else 0.0009
    caller = peer_result("alice", "caller", exp, a, b, pair_a, [v[0] for v in valid], rtt)
    callee = peer_result("bob", "callee", exp, b, a, pair_b, [v[1] for v in valid], rtt)
    call = merge_call(
        f"pair:{exp.caller}:{exp.callee}",
        caller,
        callee,
        policy=exp.policy,
        turn_transport=t_a,
        lab_setup=0.087,
    )
    return evaluate(exp, call)


def sample_matrix(clean: bool = False) -> MatrixResult:
    """The whole sample run: 8×8 grid plus the relay-only row."""
    table = load_expectations()
    cells = [sample_cell(e, None if clean else DEPARTURES.get(e.id)) for e in table.cells]
    return MatrixResult(
        cells=cells,
        configs=table.configs,
        started=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        wall_time=round(sum(c.timings.get("total", 0.0) for c in cells) / 4, 1),
        machine=MachineInfo(
            hostname="lab-runner",
            system="Linux 6.1.0-27-amd64 x86_64",
            python="3.11.2",
            cpus=8,
            versions={
                "nattest": "0.1.0",
                "aiortc": "1.16.0",
                "aioice": "0.13.0",
                "coturn": "4.6.1",
            },
        ),
    )


def main(argv: list[str] | None = None) -> int:
    """Write the sample report files and print the terminal grid."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("outdir", nargs="?", default="sample-report", type=Path)
    ap.add_argument("--clean", action="store_true", help="every cell as expected")
    args = ap.parse_args(argv)
    run = sample_matrix(clean=args.clean)
    args.outdir.mkdir(parents=True, exist_ok=True)
    for written in (
        write_html(run, args.outdir / "matrix.html"),
        write_junit(run, args.outdir / "matrix.xml"),
        write_json(run, args.outdir / "matrix.json"),
    ):
        print(f"wrote {written}", file=sys.stderr)
    print_report(Console(width=150), run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
