"""Minimal STUN Binding client over a plain UDP socket (RFC 8489, RFC 5780 attributes).

Used for readiness probes of coturn (from a socket opened inside the TURN node's namespace)
and quick mapped-address checks. It speaks only what those need: a Binding request, and
the success or error response with its address attributes and ERROR-CODE. Self-contained
on purpose: importing aioice (whose ``stun`` codec is the full one the peers use) costs
≈0.1 s, paid by every ``nattest up`` for one readiness probe.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import struct
import time
from dataclasses import dataclass, field

MAGIC_COOKIE = 0x2112A442
"""RFC 8489 5: the fixed value in every message header."""
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111
ADDRESS_ATTRIBUTES = {
    0x0001: "MAPPED-ADDRESS",
    0x0020: "XOR-MAPPED-ADDRESS",
    0x802B: "RESPONSE-ORIGIN",
    0x802C: "OTHER-ADDRESS",
}
"""Attributes whose value is an address (RFC 8489 14.1, 14.2; RFC 5780 7.3, 7.4)."""
XOR_ATTRIBUTES = {0x0020}
ERROR_CODE = 0x0009


@dataclass
class StunAnswer:
    """A decoded response: success or error, and the attributes this client understands."""

    success: bool
    """Binding success response (else an error response)."""
    transaction_id: bytes
    """The 12-byte transaction id (RFC 8489 5)."""
    attributes: dict[str, object] = field(default_factory=dict)
    """Address attributes as (ip, port); ERROR-CODE as (code, reason)."""


def binding_request() -> tuple[bytes, bytes]:
    """(message, transaction id) of a Binding request without attributes."""
    tid = secrets.token_bytes(12)
    return struct.pack("!HHI", BINDING_REQUEST, 0, MAGIC_COOKIE) + tid, tid


def _address(value: bytes, xor: bool, tid: bytes) -> tuple[str, int]:
    family, port = value[1], struct.unpack("!H", value[2:4])[0]
    raw = value[4:]
    if xor:
        port ^= MAGIC_COOKIE >> 16
        key = struct.pack("!I", MAGIC_COOKIE) + tid
        raw = bytes(b ^ k for b, k in zip(raw, key, strict=False))
    if family == 0x01 and len(raw) >= 4:
        return str(ipaddress.IPv4Address(raw[:4])), port
    if family == 0x02 and len(raw) >= 16:
        return str(ipaddress.IPv6Address(raw[:16])), port
    raise ValueError(f"unknown address family {family}")


def parse_answer(data: bytes) -> StunAnswer:
    """Decode a Binding response; ValueError for anything else."""
    if len(data) < 20:
        raise ValueError("shorter than a STUN header")
    kind, length, cookie = struct.unpack("!HHI", data[:8])
    if cookie != MAGIC_COOKIE or kind not in (BINDING_SUCCESS, BINDING_ERROR):
        raise ValueError("not a STUN Binding response")
    tid, body = data[8:20], data[20 : 20 + length]
    answer = StunAnswer(success=kind == BINDING_SUCCESS, transaction_id=tid)
    pos = 0
    while pos + 4 <= len(body):
        attr, size = struct.unpack("!HH", body[pos : pos + 4])
        value = body[pos + 4 : pos + 4 + size]
        pos += 4 + size + (-size % 4)  # values are padded to 4 bytes
        if attr in ADDRESS_ATTRIBUTES:
            answer.attributes[ADDRESS_ATTRIBUTES[attr]] = _address(
                value, attr in XOR_ATTRIBUTES, tid
            )
        elif attr == ERROR_CODE and len(value) >= 4:
            code = value[2] * 100 + value[3]
            answer.attributes["ERROR-CODE"] = (code, value[4:].decode(errors="replace"))
    return answer


def _text(error: object) -> str:
    code, reason = error if isinstance(error, tuple) else (0, str(error))
    return f"{code} {reason}"


def stun_request(sock: socket.socket, server: tuple[str, int], timeout: float) -> StunAnswer:
    """One STUN Binding transaction (RFC 8489 7): the success response, or TimeoutError.

    Sends a single request and waits up to `timeout` seconds; answers to other
    transactions are ignored. No retransmission: callers poll.
    """
    request, tid = binding_request()
    sock.sendto(request, server)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(2048)
        except (TimeoutError, ConnectionRefusedError):
            break
        try:
            answer = parse_answer(data)
        except ValueError:
            continue
        if answer.transaction_id != tid:
            continue
        if not answer.success:
            error = answer.attributes.get("ERROR-CODE") or (0, "no ERROR-CODE")
            raise OSError(f"STUN Binding to {server[0]}:{server[1]} failed: {_text(error)}")
        return answer
    raise TimeoutError(f"no STUN Binding answer from {server[0]}:{server[1]} within {timeout} s")


def stun_binding(sock: socket.socket, server: tuple[str, int], timeout: float) -> tuple[str, int]:
    """Our address as `server` sees it: the XOR-MAPPED-ADDRESS of a Binding (RFC 8489 14.2)."""
    answer = stun_request(sock, server, timeout)
    mapped = answer.attributes.get("XOR-MAPPED-ADDRESS") or answer.attributes.get("MAPPED-ADDRESS")
    if not isinstance(mapped, tuple):
        raise OSError(f"STUN Binding answer from {server[0]}:{server[1]} has no mapped address")
    return str(mapped[0]), int(mapped[1])
