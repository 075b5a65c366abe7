"""Read a pcap and sort its UDP packets the way a WebRTC endpoint does: pure, no I/O.

    packets = read_pcap(Path("alice.pcap").read_bytes())
    summary(packets)          # {'stun': 12, 'dtls': 8, 'rtp': 140, 'rtcp': 6, 'tcp': 20}

Enough of the libpcap format (little or big endian, micro or nanosecond stamps) and of the
link types tcpdump writes here (Linux cooked v1/v2 for ``-i any``, Ethernet, raw IP) to
reach IPv4/IPv6 and UDP/TCP. A UDP payload is classified by its first byte, as RFC 7983
section 7 demultiplexes STUN, DTLS and RTP/RTCP on one port; TURN ChannelData (RFC 8656
12.4) is opened once to classify what it carries. Used for the summary kept beside a
failing cell's pcaps and by the tests that check a capture holds a real call.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["stun", "dtls", "rtp", "rtcp", "turn-channel", "zrtp", "udp", "tcp", "other"]
"""What a packet carries, as an ICE agent's demultiplexer sees it."""

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
_MAGIC = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">",
    b"\x4d\x3c\xb2\xa1": "<",  # nanosecond stamps
    b"\xa1\xb2\x3c\x4d": ">",
}


@dataclass(frozen=True)
class Packet:
    """One captured IP packet, reduced to what a reader of a call needs."""

    t: float
    """Capture time, seconds since the epoch."""
    src: str
    """Source address and port, `203.0.113.11:40000` (no port for other protocols)."""
    dst: str
    """Destination address and port."""
    kind: Kind
    """What it carries (``classify``); a TURN ChannelData packet is `turn-channel`."""
    inner: Kind | None = None
    """For `turn-channel`: what the ChannelData carries (a relayed STUN check, DTLS, RTP)."""


def classify(payload: bytes) -> Kind:
    """RFC 7983 section 7: the first byte of a UDP payload says what it is.

    0-3 STUN, 16-19 ZRTP, 20-63 DTLS, 64-79 TURN channel, 128-191 RTP or RTCP (RTCP when
    the second byte, its packet type, is 192-223: RFC 5761 section 4)."""
    if not payload:
        return "udp"
    b = payload[0]
    if b <= 3:
        return "stun"
    if 16 <= b <= 19:
        return "zrtp"
    if 20 <= b <= 63:
        return "dtls"
    if 64 <= b <= 79:
        return "turn-channel"
    if 128 <= b <= 191:
        return "rtcp" if len(payload) > 1 and 192 <= payload[1] <= 223 else "rtp"
    return "udp"


def read_pcap(data: bytes) -> list[Packet]:
    """Every IPv4/IPv6 packet of a pcap file's bytes. ValueError for a file that is not a
    pcap; a record cut short (a capture stopped mid-write) ends the list."""
    if len(data) < 24 or data[:4] not in _MAGIC:
        raise ValueError("not a pcap file (bad magic)")
    order = _MAGIC[data[:4]]
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    (linktype,) = struct.unpack_from(order + "I", data, 20)
    out: list[Packet] = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from(order + "IIII", data, off)
        off += 16
        if off + incl > len(data):
            break
        frame = data[off : off + incl]
        off += incl
        packet = _frame(sec + frac / (1e9 if nano else 1e6), linktype & 0xFFFF, frame)
        if packet is not None:
            out.append(packet)
    return out


def summary(packets: Iterable[Packet]) -> dict[str, int]:
    """Packets per kind, ChannelData counted by what it carries (`turn-channel:stun`)."""
    counts: Counter[str] = Counter()
    for p in packets:
        counts[f"{p.kind}:{p.inner}" if p.inner else p.kind] += 1
    return dict(sorted(counts.items()))


def _frame(t: float, linktype: int, frame: bytes) -> Packet | None:
    if linktype == LINKTYPE_LINUX_SLL2:
        proto, ip = struct.unpack_from("!H", frame, 0)[0], frame[20:]
    elif linktype == LINKTYPE_LINUX_SLL:
        proto, ip = struct.unpack_from("!H", frame, 14)[0], frame[16:]
    elif linktype == LINKTYPE_ETHERNET:
        proto, ip = struct.unpack_from("!H", frame, 12)[0], frame[14:]
    elif linktype == LINKTYPE_RAW and frame:
        proto, ip = (0x86DD if frame[0] >> 4 == 6 else 0x0800), frame
    else:
        return None
    if proto == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        src, dst = _v4(ip[12:16]), _v4(ip[16:20])
        return _transport(t, ip[9], src, dst, ip[ihl:])
    if proto == 0x86DD and len(ip) >= 40:
        src, dst = _v6(ip[8:24]), _v6(ip[24:40])
        return _transport(t, ip[6], f"[{src}]", f"[{dst}]", ip[40:])  # no extension headers
    return None


def _transport(t: float, proto: int, src: str, dst: str, seg: bytes) -> Packet:
    if proto == 17 and len(seg) >= 8:
        sport, dport = struct.unpack_from("!HH", seg, 0)
        payload = seg[8:]
        kind = classify(payload)
        inner = classify(payload[4:]) if kind == "turn-channel" else None
        return Packet(t, f"{src}:{sport}", f"{dst}:{dport}", kind, inner)
    if proto == 6 and len(seg) >= 4:
        sport, dport = struct.unpack_from("!HH", seg, 0)
        return Packet(t, f"{src}:{sport}", f"{dst}:{dport}", "tcp")
    return Packet(t, src, dst, "other")


def _v4(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def _v6(raw: bytes) -> str:
    import ipaddress

    return str(ipaddress.IPv6Address(raw))


__all__ = ["Kind", "Packet", "classify", "read_pcap", "summary"]
