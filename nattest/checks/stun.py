"""Minimal STUN client helpers over a plain UDP socket (RFC 8489 / RFC 5389).

Uses aioice's public `aioice.stun` message codec. Used for readiness probes of coturn
(from a socket opened inside the TURN node's namespace) and quick mapped-address checks.
"""

from __future__ import annotations

import socket
import time

from aioice import stun


def stun_request(sock: socket.socket, server: tuple[str, int], timeout: float) -> stun.Message:
    """One STUN Binding transaction (RFC 8489 7): the success response, or TimeoutError.

    Sends a single request and waits up to `timeout` seconds; answers to other
    transactions are ignored. No retransmission: callers poll.
    """
    request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    sock.sendto(bytes(request), server)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(2048)
        except (TimeoutError, ConnectionRefusedError):
            break
        try:
            answer = stun.parse_message(data)
        except ValueError:
            continue
        if answer.transaction_id != request.transaction_id:
            continue
        if answer.message_class != stun.Class.RESPONSE:
            code, reason = answer.attributes.get("ERROR-CODE", (0, "no ERROR-CODE"))
            raise OSError(f"STUN Binding to {server[0]}:{server[1]} failed: {code} {reason}")
        return answer
    raise TimeoutError(f"no STUN Binding answer from {server[0]}:{server[1]} within {timeout} s")


def stun_binding(sock: socket.socket, server: tuple[str, int], timeout: float) -> tuple[str, int]:
    """Our address as `server` sees it: the XOR-MAPPED-ADDRESS of a Binding (RFC 8489 14.2)."""
    answer = stun_request(sock, server, timeout)
    mapped = answer.attributes.get("XOR-MAPPED-ADDRESS") or answer.attributes.get("MAPPED-ADDRESS")
    if mapped is None:
        raise OSError(f"STUN Binding answer from {server[0]}:{server[1]} has no mapped address")
    return str(mapped[0]), int(mapped[1])
