"""Evidence, the pure parts: test-id folder names, the pcap reader, what a kept folder holds
(never a secret), the staging of a test's labs, tcpdump's command line and figures.

The capture itself (real tcpdump in real namespaces) is tested in tests/lab/test_evidence.py.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from nattest.evidence.capture import parse_counts, parse_links, tcpdump_argv
from nattest.evidence.keep import (
    MARKER,
    MAX_NAME,
    EvidenceOptions,
    copy_lab_files,
    discard,
    folder_name,
    keep_evidence,
    list_files,
)
from nattest.evidence.pcap import classify, read_pcap, summary
from nattest.evidence.session import TestEvidence
from tests.fixtures.fake_lab import UnitLab

# -- folder names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test_id", "folder"),
    [
        ("tests/lab/test_calls.py::test_relay[tcp]", "tests.lab.test_calls.py--test_relay-tcp"),
        ("symmetric--port-restricted-cone--all", "symmetric--port-restricted-cone--all"),
        ("t.py::TestX::test_y[a b/c]", "t.py--TestX--test_y-a_b.c"),
        ("../../etc/passwd", "etc.passwd"),
        ("::", "test"),
        ("-rf", "rf"),
        ("t.py::test[é→ü]", "t.py--test-_"),
    ],
)
def test_folder_name(test_id: str, folder: str) -> None:
    assert folder_name(test_id) == folder


def test_folder_names_are_safe_and_stable() -> None:
    for test_id in ("a/../../b", "..", ".hidden", "x\\y::z", "a\0b", "[]"):
        name = folder_name(test_id)
        assert "/" not in name and "\\" not in name and "\0" not in name
        assert name not in (".", "..") and not name.startswith((".", "-"))
        assert folder_name(name) == name  # already a folder name: unchanged


def test_long_test_ids_are_cut_with_a_hash() -> None:
    a = folder_name("tests/t.py::test_x[" + "a" * 300 + "]")
    b = folder_name("tests/t.py::test_x[" + "a" * 299 + "b]")
    assert len(a) <= MAX_NAME and len(b) <= MAX_NAME
    assert a != b  # the hash tells them apart


# -- pcap reader -------------------------------------------------------------------------


def _sll2(ip: bytes) -> bytes:
    # protocol, reserved, ifindex, hatype, pkttype, addr len, addr (8)
    return struct.pack("!HHIHBB8s", 0x0800, 0, 101, 1, 4, 6, b"\x02" * 6) + ip


def _ipv4_udp(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    addr = b"".join(bytes(int(x) for x in a.split(".")) for a in (src, dst))
    return struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0) + addr + udp


def _ipv4_tcp(src: str, dst: str) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", 40000, 8443, 0, 0, 0x50, 0x02, 1024, 0, 0)
    addr = b"".join(bytes(int(x) for x in a.split(".")) for a in (src, dst))
    return struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0) + addr + tcp


def _pcap(frames: list[bytes], order: str = "<", linktype: int = 276) -> bytes:
    head = struct.pack(order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    body = b"".join(
        struct.pack(order + "IIII", 1700000000 + i, 250000, len(f), len(f)) + f
        for i, f in enumerate(frames)
    )
    return head + body


STUN_BINDING = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"\x00" * 12
DTLS_HELLO = b"\x16\xfe\xfd" + b"\x00" * 10
RTP = b"\x80\x60\x00\x01" + b"\x00" * 8
RTCP = b"\x81\xc8\x00\x06" + b"\x00" * 24
CHANNEL_STUN = b"\x40\x00\x00\x14" + STUN_BINDING


def test_read_pcap_classifies_a_call() -> None:
    a, t = "10.0.1.10", "203.0.113.2"
    frames = [
        _sll2(_ipv4_udp(a, 5000, t, 3478, STUN_BINDING)),
        _sll2(_ipv4_udp(a, 5000, t, 3478, CHANNEL_STUN)),
        _sll2(_ipv4_udp(a, 5000, "203.0.113.12", 6000, DTLS_HELLO)),
        _sll2(_ipv4_udp(a, 5000, "203.0.113.12", 6000, RTP)),
        _sll2(_ipv4_udp(a, 5000, "203.0.113.12", 6000, RTCP)),
        _sll2(_ipv4_tcp(a, t)),
    ]
    packets = read_pcap(_pcap(frames))
    assert [p.kind for p in packets] == ["stun", "turn-channel", "dtls", "rtp", "rtcp", "tcp"]
    assert packets[0].src == "10.0.1.10:5000" and packets[0].dst == "203.0.113.2:3478"
    assert packets[1].inner == "stun"
    assert packets[0].t == pytest.approx(1700000000.25)
    assert summary(packets) == {
        "dtls": 1,
        "rtcp": 1,
        "rtp": 1,
        "stun": 1,
        "tcp": 1,
        "turn-channel:stun": 1,
    }


def test_read_pcap_big_endian_ethernet_and_a_cut_last_record() -> None:
    eth = b"\x02" * 12 + b"\x08\x00" + _ipv4_udp("10.0.0.1", 1, "10.0.0.2", 2, DTLS_HELLO)
    data = _pcap([eth, eth], order=">", linktype=1)
    assert [p.kind for p in read_pcap(data)] == ["dtls", "dtls"]
    assert len(read_pcap(data[:-5])) == 1  # a capture killed mid-write: the whole ones


def test_read_pcap_refuses_what_is_not_a_pcap() -> None:
    with pytest.raises(ValueError, match="not a pcap"):
        read_pcap(b"\x0a\x0d\x0d\x0a" + b"\x00" * 40)  # pcapng


@pytest.mark.parametrize(
    ("first", "kind"),
    [
        *[(0, "stun"), (3, "stun"), (4, "udp"), (16, "zrtp"), (20, "dtls"), (63, "dtls")],
        *[(64, "turn-channel"), (79, "turn-channel"), (80, "udp"), (128, "rtp"), (192, "udp")],
    ],
)
def test_rfc7983_demultiplexing(first: int, kind: str) -> None:
    assert classify(bytes([first, 0x60])) == kind


def test_rtcp_is_told_from_rtp_by_its_packet_type() -> None:
    assert classify(b"\x80\xc8") == "rtcp"  # SR, 200
    assert classify(b"\x80\xdf") == "rtcp"  # 223
    assert classify(b"\x80\xe0") == "rtp"  # payload type 96 with the marker bit


# -- tcpdump ---------------------------------------------------------------------------


def test_tcpdump_argv_captures_every_interface_packet_by_packet() -> None:
    argv = tcpdump_argv(Path("/run/nattest/x/pcap/alice.pcap"))
    assert argv[0] == "tcpdump" and argv[-2:] == ["-w", "/run/nattest/x/pcap/alice.pcap"]
    assert argv[argv.index("-i") + 1] == "any"
    assert argv[argv.index("-y") + 1] == "LINUX_SLL2"  # ifindex and direction per packet
    assert "--immediate-mode" in argv and "-U" in argv


def test_tcpdump_figures_and_links() -> None:
    closing = (
        "tcpdump: listening on any, link-type LINUX_SLL2\n602 packets captured\n"
        "611 packets received by filter\n1 packet dropped by kernel\n"
    )
    assert parse_counts(closing) == {
        "captured": 602,
        "received by filter": 611,
        "dropped by kernel": 1,
    }
    links = (
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 ...\n"
        "101: wan@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ...\n"
        "102: lan@if9: <BROADCAST> ...\n"
    )
    assert parse_links(links) == [(1, "lo"), (101, "wan"), (102, "lan")]


# -- what a kept folder holds --------------------------------------------------------------


def _workdir(root: Path) -> Path:
    w = root / "run" / "lab1"
    for name, text in {
        "repro.sh": "#!/bin/sh\n",
        "lab.json": "{}",
        "nt-lab1-nat-a.nft": "table inet nat {}",
        "services.json": '{"turn_password": "s3cret"}',
        "signaling.log": "joined",
        "coturn/turn/turnserver.conf": "user=nattest:s3cret",
        "coturn/turn/turnserver.log": "allocate",
        "coturn/turn/turn-key.pem": "KEY",
        "coturn/turn/turndb": "db",
        "coturn/turn/turnserver.pid": "42",
        "calls/ab12/alice.log": "[alice] checking",
        "calls/ab12/alice.json": "{}",
        "calls/ab12/bob.log": "[bob] checking",
    }.items():
        (w / name).parent.mkdir(parents=True, exist_ok=True)
        (w / name).write_text(text)
    return w


def test_kept_files_never_include_a_secret(tmp_path: Path) -> None:
    w = _workdir(tmp_path)
    copy_lab_files(w, tmp_path / "kept")
    files = list_files(tmp_path / "kept")
    assert files == [
        "calls/ab12/alice.json",
        "calls/ab12/alice.log",
        "calls/ab12/bob.log",
        "coturn/turn/turnserver.log",
        "lab.json",
        "nt-lab1-nat-a.nft",
        "repro.sh",
        "signaling.log",
    ]
    for f in (tmp_path / "kept").rglob("*"):
        assert not f.is_file() or "s3cret" not in f.read_text()


def test_keep_evidence_replaces_only_its_own_folders(tmp_path: Path) -> None:
    lab = UnitLab("lab1", _workdir(tmp_path))
    dest = tmp_path / "results" / "cell"
    kept = keep_evidence(lab, dest, error="lab error: boom", extra={"failure.txt": "assert 0"})
    assert kept.folder == str(dest)
    assert kept.files[:2] == ["error.txt", "failure.txt"]  # what to read first, first
    assert (dest / MARKER).exists() and MARKER not in kept.files
    (dest / "stale.txt").write_text("from an earlier run")
    keep_evidence(lab, dest)
    assert not (dest / "stale.txt").exists()
    mine = tmp_path / "results" / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's own")
    with pytest.raises(OSError, match="not kept by nattest"):
        keep_evidence(lab, mine)
    assert not discard(mine) and (mine / "notes.txt").exists()
    assert discard(dest) and not dest.exists()


def test_evidence_options_folder() -> None:
    opts = EvidenceOptions(results=Path("out"))
    assert opts.folder("t.py::test[x]") == Path("out/t.py--test-x")
    assert not opts.capture


# -- a test's labs: staged, kept on failure, dropped on success --------------------------


def _session(tmp_path: Path, test_id: str = "t.py::test_x") -> TestEvidence:
    staging = tmp_path / "staging"
    return TestEvidence(EvidenceOptions(results=tmp_path / "results"), test_id, lambda: staging)


def test_a_passing_test_keeps_nothing_and_clears_a_stale_folder(tmp_path: Path) -> None:
    ev = _session(tmp_path)
    lab = UnitLab("lab1", _workdir(tmp_path))
    ev.started(lab)
    keep_evidence(lab, ev.folder)  # what an earlier, failing run kept
    ev.stage(lab)
    assert (tmp_path / "staging" / "lab1" / "repro.sh").exists()
    assert ev.finish(failed=False) is None
    assert not ev.folder.exists() and not (tmp_path / "staging").exists()


def test_a_failing_test_keeps_its_staged_lab(tmp_path: Path) -> None:
    ev = _session(tmp_path)
    lab = UnitLab("lab1", _workdir(tmp_path))
    ev.started(lab)
    ev.stage(lab, error="LabError: boom")
    kept = ev.finish(failed=True, failure="AssertionError: no relay")
    assert kept is not None and Path(kept.folder) == tmp_path / "results" / "t.py--test_x"
    assert kept.files[:2] == ["error.txt", "failure.txt"]
    assert "calls/ab12/alice.log" in kept.files
    assert (ev.folder / "failure.txt").read_text() == "AssertionError: no relay\n"


def test_a_failing_test_with_two_labs_keeps_one_folder_each(tmp_path: Path) -> None:
    ev = _session(tmp_path)
    a = UnitLab("lab-a", _workdir(tmp_path / "a"))
    b = UnitLab("lab-b", _workdir(tmp_path / "b"))
    ev.started(a)
    ev.started(b)
    ev.stage(a)  # torn down before the verdict; b is still up at the end
    kept = ev.finish(failed=True, failure="boom")
    assert kept is not None
    assert "failure.txt" in kept.files
    assert "lab-a/repro.sh" in kept.files and "lab-b/repro.sh" in kept.files
