"""Pure SDP helpers: candidate parsing (RFC 8839 5.1) and a WebRTC SDP sanity check.

``check_sdp`` checks what a JSEP (RFC 8829) offer or answer from a WebRTC endpoint must
carry: the session lines of RFC 8866 (``v=0``, ``o=``, ``s=-``, ``t=0 0``), BUNDLE
(RFC 8843), a SHA-256 DTLS fingerprint (RFC 8122), the DTLS role (``a=setup``, RFC 5763
5: ``actpass`` in an offer, ``active``/``passive`` in an answer), ICE credentials
(RFC 8839 5.4), ``a=rtcp-mux`` (RFC 5761), Opus and VP8 payload types, and that the
``a=candidate`` lines are exactly the candidates the agent gathered (aiortc does not
trickle, so the SDP must carry them all).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

from nattest.call.result import Candidate, CandidateType, SdpCheck

_CANDIDATE_TYPES: tuple[str, ...] = get_args(CandidateType)


def _lines(sdp: str) -> list[str]:
    return [line.strip() for line in sdp.splitlines() if line.strip()]


def parse_candidate_line(line: str) -> Candidate | None:
    """Parse one ``a=candidate:`` line (or its value); None when it is malformed.

    Grammar (RFC 8839 5.1): ``foundation component transport priority address port
    typ type [raddr A] [rport P] *(extension value)``.
    """
    value = line.strip()
    if value.startswith("a="):
        value = value[2:]
    if value.startswith("candidate:"):
        value = value[len("candidate:") :]
    fields = value.split()
    if len(fields) < 8 or fields[6] != "typ":
        return None
    foundation, _component, transport, priority, address, port, _, ctype = fields[:8]
    protocol = transport.lower()
    if protocol not in ("udp", "tcp") or ctype not in _CANDIDATE_TYPES:
        return None
    try:
        prio = int(priority)
        port_no = int(port)
    except ValueError:
        return None
    extensions = dict(zip(fields[8::2], fields[9::2], strict=False))
    related_port: int | None = None
    if "rport" in extensions:
        try:
            related_port = int(extensions["rport"])
        except ValueError:
            return None
    return Candidate(
        type=ctype,  # type: ignore[arg-type]  # checked against CandidateType above
        protocol=protocol,  # type: ignore[arg-type]  # checked above
        address=address,
        port=port_no,
        priority=prio,
        foundation=foundation,
        related_address=extensions.get("raddr"),
        related_port=related_port,
    )


def _candidate_lines(sdp: str) -> list[str]:
    return [line for line in _lines(sdp) if line.startswith("a=candidate:")]


def candidate_key(c: Candidate) -> tuple[str, str, str, int]:
    """Identity of a candidate for comparisons: (type, protocol, address, port)."""
    return (c.type, c.protocol, c.address, c.port)


def parse_candidates(sdp: str) -> list[Candidate]:
    """Candidates of an SDP, in order, without the repeats of BUNDLEd m-sections.

    Malformed or unknown-type lines are skipped (``check_sdp`` reports them).
    """
    seen: set[tuple[str, str, str, int]] = set()
    out: list[Candidate] = []
    for line in _candidate_lines(sdp):
        cand = parse_candidate_line(line)
        if cand is None or candidate_key(cand) in seen:
            continue
        seen.add(candidate_key(cand))
        out.append(cand)
    return out


def _attr_values(lines: list[str], name: str) -> list[str]:
    prefix = f"a={name}:"
    return [line[len(prefix) :] for line in lines if line.startswith(prefix)]


def _check_session(lines: list[str]) -> list[str]:
    problems: list[str] = []
    if not lines or lines[0] != "v=0":
        problems.append("first line is not v=0")
    if not any(line.startswith("o=") for line in lines):
        problems.append("no o= (origin) line")
    if "s=-" not in lines:
        problems.append("no s=- (session name) line")
    if "t=0 0" not in lines:
        problems.append("no t=0 0 (timing) line")
    if not any(line.startswith("a=group:BUNDLE") for line in lines):
        problems.append("no a=group:BUNDLE")
    return problems


def _check_media(lines: list[str], role: Literal["offer", "answer"]) -> list[str]:
    problems: list[str] = []
    if not any(v.lower().startswith("sha-256 ") for v in _attr_values(lines, "fingerprint")):
        problems.append("no a=fingerprint:sha-256")
    setups = _attr_values(lines, "setup")
    allowed = {"actpass"} if role == "offer" else {"active", "passive"}
    if not setups:
        problems.append("no a=setup")
    for value in sorted(set(setups) - allowed):
        problems.append(f"a=setup:{value} in an {role} (expected {'|'.join(sorted(allowed))})")
    if not _attr_values(lines, "ice-ufrag"):
        problems.append("no a=ice-ufrag")
    if not _attr_values(lines, "ice-pwd"):
        problems.append("no a=ice-pwd")
    rtp_sections = sum(1 for line in lines if line.startswith(("m=audio", "m=video")))
    if rtp_sections and "a=rtcp-mux" not in lines:
        problems.append("no a=rtcp-mux")
    rtpmaps = [v.split(" ", 1)[-1].lower() for v in _attr_values(lines, "rtpmap")]
    if "opus/48000/2" not in rtpmaps:
        problems.append("no a=rtpmap for opus/48000/2")
    if "vp8/90000" not in rtpmaps:
        problems.append("no a=rtpmap for VP8/90000")
    return problems


def _check_candidates(lines: list[str], gathered: Sequence[Candidate] | None) -> list[str]:
    problems: list[str] = []
    raw = [line for line in lines if line.startswith("a=candidate:")]
    if not raw:
        return ["no a=candidate lines (aiortc does not trickle: the SDP must carry them)"]
    problems += [f"malformed {line}" for line in raw if parse_candidate_line(line) is None]
    if gathered is None:
        return problems
    in_sdp = {candidate_key(c): c for c in parse_candidates("\n".join(raw))}
    wanted = {candidate_key(c): c for c in gathered}
    for key in wanted.keys() - in_sdp.keys():
        problems.append(f"gathered candidate missing from SDP: {wanted[key].label()}")
    for key in in_sdp.keys() - wanted.keys():
        problems.append(f"a=candidate not among gathered candidates: {in_sdp[key].label()}")
    return sorted(problems)


def check_sdp(
    sdp: str,
    role: Literal["offer", "answer"],
    candidates: Sequence[Candidate] | None = None,
) -> SdpCheck:
    """Check an offer or answer; ``candidates`` (the gathered ones) enables the
    candidate-consistency check, None skips it."""
    lines = _lines(sdp)
    problems = _check_session(lines) + _check_media(lines, role)
    problems += _check_candidates(lines, candidates)
    return SdpCheck(ok=not problems, problems=problems)
