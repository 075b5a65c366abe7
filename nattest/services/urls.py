"""ICE server URLs (RFC 7064 ``stun:``, RFC 7065 ``turn:``/``turns:``): the one place that
builds and parses them.

IP literals only (the lab has no DNS, and a name in a peer's config would send a DNS query
out of the lab), except ``parse_turn_url(url, names=True)`` for ``nattest check-turn``
against real deployments. ``turns:`` is TLS over TCP. A URL never carries credentials;
``redact()`` makes any user input safe to print.

    str(turn_url("203.0.113.2", "tls"))   # 'turns:203.0.113.2:5349?transport=tcp'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from nattest.call.result import Transport

STUN_PORT = 3478
"""Default STUN/TURN port (UDP and TCP)."""
TURNS_PORT = 5349
"""Default TURN over TLS port."""

_STUN_RE = re.compile(r"stun:(?P<host>[0-9a-fA-F.:\[\]]+?)(?::(?P<port>\d+))?")
_TURN_RE = re.compile(
    r"(?P<scheme>turns?):(?P<host>[0-9a-fA-F.:\[\]]+?)(?::(?P<port>\d+))?"
    r"(?:\?transport=(?P<transport>udp|tcp))?"
)
_TURN_NAME_RE = re.compile(
    r"(?P<scheme>turns?):(?P<host>[0-9A-Za-z.\-]+|\[[0-9a-fA-F:]+\])(?::(?P<port>\d+))?"
    r"(?:\?transport=(?P<transport>udp|tcp))?"
)


@dataclass(frozen=True)
class IceServerUrl:
    """A parsed STUN or TURN URL (no credentials)."""

    scheme: Literal["stun", "turn", "turns"]
    """URL scheme."""
    host: str
    """Server IP literal."""
    port: int
    """Server port (default 3478, 5349 for turns)."""
    transport: Literal["udp", "tcp"] | None = None
    """TURN: transport to the server (``turns`` is TLS over tcp); None for STUN."""

    @property
    def relay_protocol(self) -> Transport | None:
        """Transport used to reach the TURN server: udp, tcp or tls (None for STUN)."""
        if self.scheme == "stun":
            return None
        return "tls" if self.scheme == "turns" else self.transport

    def __str__(self) -> str:
        base = f"{self.scheme}:{self.host}:{self.port}"
        return base if self.transport is None else f"{base}?transport={self.transport}"


def stun_url(host: str, port: int = STUN_PORT) -> IceServerUrl:
    """``stun:HOST:PORT``."""
    return IceServerUrl("stun", host, port)


def turn_url(
    host: str, transport: Transport = "udp", port: int = STUN_PORT, tls_port: int = TURNS_PORT
) -> IceServerUrl:
    """``turn:HOST:PORT?transport=udp|tcp``, or ``turns:HOST:TLS_PORT?transport=tcp`` for tls."""
    if transport == "tls":
        return IceServerUrl("turns", host, tls_port, "tcp")
    if transport not in get_args(Transport):
        raise ValueError(f"transport {transport!r}: expected udp, tcp or tls")
    return IceServerUrl("turn", host, port, transport)


def redact(url: str) -> str:
    """A URL safe to print: anything before an ``@`` (user:password) becomes ``***``."""
    return re.sub(r"^(\w+:)[^@]*@", r"\1***@", url.strip())


def parse_stun_url(url: str) -> IceServerUrl:
    """Parse ``stun:IP[:PORT]``; ValueError saying what is expected."""
    m = _STUN_RE.fullmatch(url.strip())
    if not m:
        raise ValueError(f"bad STUN URL '{redact(url)}': expected stun:IP[:PORT]")
    return stun_url(m["host"], int(m["port"] or STUN_PORT))


def parse_turn_url(url: str, names: bool = False) -> IceServerUrl:
    """Parse ``turn:IP[:PORT][?transport=udp|tcp]`` or ``turns:IP[:PORT][?transport=tcp]``;
    with `names`, HOST may also be a DNS name (or ``[v6]``)."""
    m = (_TURN_NAME_RE if names else _TURN_RE).fullmatch(url.strip())
    if not m:
        host = "HOST" if names else "IP"
        raise ValueError(
            f"bad TURN URL '{redact(url)}': expected turn:{host}[:PORT][?transport=udp|tcp] or "
            f"turns:{host}[:PORT][?transport=tcp] (no credentials in the URL)"
        )
    if m["scheme"] == "turns":
        if (m["transport"] or "tcp") != "tcp":
            raise ValueError(
                f"bad TURN URL '{redact(url)}': turns: is TLS over TCP, not {m['transport']}"
            )
        return turn_url(m["host"], "tls", tls_port=int(m["port"] or TURNS_PORT))
    return turn_url(m["host"], m["transport"] or "udp", port=int(m["port"] or STUN_PORT))  # type: ignore[arg-type]


__all__ = [
    "IceServerUrl",
    "parse_stun_url",
    "parse_turn_url",
    "redact",
    "stun_url",
    "turn_url",
]
