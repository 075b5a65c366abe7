"""check_sdp / parse_candidates on an offer shaped like aiortc 1.16's (max-bundle)."""

from __future__ import annotations

from nattest.call.result import Candidate
from nattest.call.sdp import check_sdp, parse_candidate_line, parse_candidates

CANDIDATES = """\
a=candidate:1a 1 udp 2130706431 10.0.1.2 40000 typ host
a=candidate:2b 1 udp 1694498815 203.0.113.11 50000 typ srflx raddr 10.0.1.2 rport 40000
a=candidate:3c 1 udp 16777215 203.0.113.10 60000 typ relay raddr 203.0.113.11 rport 50001
a=end-of-candidates
a=ice-ufrag:Kq3T
a=ice-pwd:kqw6uMt453e0VCGj3h7Ozf
a=fingerprint:sha-256 B1:07:0E:A9:0B:E2:71:4F:12:B0:02:65:5C:86:87:BC:FB:54:B6:16:CC:73:1C:F2
a=setup:actpass"""

OFFER = f"""\
v=0
o=- 4004473094 4004473094 IN IP4 0.0.0.0
s=-
t=0 0
a=group:BUNDLE 0 1 2
a=msid-semantic:WMS *
m=audio 40000 UDP/TLS/RTP/SAVPF 96 0
c=IN IP4 10.0.1.2
a=sendrecv
a=mid:0
a=rtcp:9 IN IP4 0.0.0.0
a=rtcp-mux
a=rtpmap:96 opus/48000/2
a=rtpmap:0 PCMU/8000
{CANDIDATES}
m=video 40000 UDP/TLS/RTP/SAVPF 97 98
c=IN IP4 10.0.1.2
a=sendrecv
a=mid:1
a=rtcp-mux
a=rtpmap:97 VP8/90000
a=rtpmap:98 rtx/90000
{CANDIDATES}
m=application 40000 UDP/DTLS/SCTP webrtc-datachannel
c=IN IP4 10.0.1.2
a=mid:2
a=sctp-port:5000
{CANDIDATES}
""".replace("\n", "\r\n")

ANSWER = OFFER.replace("a=setup:actpass", "a=setup:active")

GATHERED = [
    Candidate(type="host", protocol="udp", address="10.0.1.2", port=40000),
    Candidate(type="srflx", protocol="udp", address="203.0.113.11", port=50000),
    Candidate(type="relay", protocol="udp", address="203.0.113.10", port=60000),
]


def test_parse_candidates_dedupes_bundled_sections() -> None:
    cands = parse_candidates(OFFER)
    assert [(c.type, c.address, c.port) for c in cands] == [
        ("host", "10.0.1.2", 40000),
        ("srflx", "203.0.113.11", 50000),
        ("relay", "203.0.113.10", 60000),
    ]


def test_parse_candidate_fields() -> None:
    srflx = parse_candidates(OFFER)[1]
    assert srflx.protocol == "udp"
    assert srflx.priority == 1694498815
    assert srflx.foundation == "2b"
    assert (srflx.related_address, srflx.related_port) == ("10.0.1.2", 40000)


def test_parse_candidate_line_tcp_and_prflx() -> None:
    tcp = parse_candidate_line("candidate:9 1 TCP 1518280447 192.0.2.5 9 typ host tcptype active")
    assert tcp is not None and (tcp.protocol, tcp.port) == ("tcp", 9)
    prflx = parse_candidate_line("a=candidate:7 1 udp 1845501695 198.51.100.4 4000 typ prflx")
    assert prflx is not None and prflx.type == "prflx"


def test_parse_candidate_line_rejects_malformed() -> None:
    assert parse_candidate_line("a=candidate:1 1 udp 12 10.0.0.1 notaport typ host") is None
    assert parse_candidate_line("a=candidate:1 1 udp 12 10.0.0.1 5000 host") is None
    assert parse_candidate_line("a=candidate:1 1 sctp 12 10.0.0.1 5000 typ host") is None
    assert parse_candidate_line("a=candidate:1 1 udp 12 10.0.0.1 5000 typ weird") is None


def test_valid_offer_and_answer() -> None:
    offer = check_sdp(OFFER, "offer", GATHERED)
    assert offer.ok, offer.problems
    answer = check_sdp(ANSWER, "answer", GATHERED)
    assert answer.ok, answer.problems


def test_setup_role_must_match() -> None:
    as_answer = check_sdp(OFFER, "answer", GATHERED)
    assert not as_answer.ok
    assert as_answer.problems == ["a=setup:actpass in an answer (expected active|passive)"]
    as_offer = check_sdp(ANSWER, "offer", GATHERED)
    assert as_offer.problems == ["a=setup:active in an offer (expected actpass)"]


def test_missing_session_elements_are_named() -> None:
    broken = (
        OFFER.replace("a=group:BUNDLE 0 1 2\r\n", "")
        .replace("s=-", "s=session")
        .replace("a=rtcp-mux\r\n", "")
        .replace("fingerprint:sha-256", "fingerprint:sha-1")
        .replace("a=ice-pwd:", "a=x-ice-pwd:")
        .replace("opus/48000/2", "opus/48000")
    )
    problems = check_sdp(broken, "offer", GATHERED).problems
    for expected in (
        "no a=group:BUNDLE",
        "no s=- (session name) line",
        "no a=rtcp-mux",
        "no a=fingerprint:sha-256",
        "no a=ice-pwd",
        "no a=rtpmap for opus/48000/2",
    ):
        assert expected in problems
    assert "no a=rtpmap for VP8/90000" not in problems


def test_version_and_timing_lines() -> None:
    problems = check_sdp(OFFER.replace("v=0", "v=1").replace("t=0 0", "t=1 2"), "offer").problems
    assert "first line is not v=0" in problems
    assert "no t=0 0 (timing) line" in problems


def test_candidates_must_match_gathered() -> None:
    extra = [*GATHERED, Candidate(type="host", protocol="udp", address="10.0.2.2", port=1)]
    check = check_sdp(OFFER, "offer", extra[1:])
    assert check.problems == [
        "a=candidate not among gathered candidates: host 10.0.1.2:40000/udp",
        "gathered candidate missing from SDP: host 10.0.2.2:1/udp",
    ]


def test_no_candidates_at_all() -> None:
    bare = "\r\n".join(line for line in OFFER.split("\r\n") if not line.startswith("a=candidate"))
    check = check_sdp(bare, "offer")
    assert not check.ok
    assert any(p.startswith("no a=candidate lines") for p in check.problems)


def test_malformed_candidate_is_reported() -> None:
    bad = OFFER.replace("typ host", "typ hots", 1)
    check = check_sdp(bad, "offer")
    assert any(p.startswith("malformed a=candidate:1a") for p in check.problems)
