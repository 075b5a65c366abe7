"""What a peer agent is told to do, and the RTCConfiguration built from it.

ICE server URLs follow RFC 7064 (``stun:``) and RFC 7065 (``turn:``/``turns:``), with IP
literals only (the lab has no DNS). aiortc supports ``turn:...?transport=udp|tcp`` and
``turns:...?transport=tcp`` (TLS over TCP); it uses only the first STUN and first TURN
server, so the agent takes at most one of each. The TURN password is never part of a
URL, of this config's ``repr``, or of any result: it comes from ``NATTEST_TURN_CREDENTIAL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy

from nattest.result import Transport

CREDENTIAL_ENV = "NATTEST_TURN_CREDENTIAL"
"""Environment variable holding the TURN password."""

_STUN_RE = re.compile(r"stun:(?P<host>[0-9a-fA-F.:\[\]]+?)(?::(?P<port>\d+))?")
_TURN_RE = re.compile(
    r"(?P<scheme>turns?):(?P<host>[0-9a-fA-F.:\[\]]+?)(?::(?P<port>\d+))?"
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


def redact(url: str) -> str:
    """A URL safe to print: anything before an ``@`` (user:password) becomes ``***``."""
    return re.sub(r"^(\w+:)[^@]*@", r"\1***@", url.strip())


def parse_stun_url(url: str) -> IceServerUrl:
    """Parse ``stun:IP[:PORT]``."""
    m = _STUN_RE.fullmatch(url.strip())
    if not m:
        raise ValueError(f"bad STUN URL '{redact(url)}': expected stun:IP[:PORT]")
    return IceServerUrl("stun", m["host"], int(m["port"] or 3478))


def parse_turn_url(url: str) -> IceServerUrl:
    """Parse ``turn:IP[:PORT][?transport=udp|tcp]`` or ``turns:IP[:PORT][?transport=tcp]``."""
    m = _TURN_RE.fullmatch(url.strip())
    if not m:
        raise ValueError(
            f"bad TURN URL '{redact(url)}': expected turn:IP[:PORT][?transport=udp|tcp] or "
            f"turns:IP[:PORT][?transport=tcp] (no credentials in the URL)"
        )
    scheme = "turns" if m["scheme"] == "turns" else "turn"
    transport = m["transport"] or ("tcp" if scheme == "turns" else "udp")
    if scheme == "turns" and transport != "tcp":
        raise ValueError(f"bad TURN URL '{redact(url)}': turns: is TLS over TCP, not {transport}")
    port = int(m["port"] or (5349 if scheme == "turns" else 3478))
    return IceServerUrl(scheme, m["host"], port, transport)  # type: ignore[arg-type]


@dataclass
class PeerConfig:
    """Everything one peer agent needs; built from the CLI."""

    name: str
    """Node name (``alice``); also the signaling ``from``."""
    role: Literal["caller", "callee"]
    """caller sends the offer."""
    signaling: str
    """Signaling server URL, ``ws://IP:PORT``."""
    room: str
    """Signaling room."""
    stun: IceServerUrl | None = None
    """STUN server."""
    turn: IceServerUrl | None = None
    """TURN server."""
    turn_username: str | None = None
    """TURN username."""
    turn_credential: str | None = field(default=None, repr=False)
    """TURN password (from the environment; never logged, never in results)."""
    turn_insecure: bool = False
    """turns: do not verify the server certificate (lab self-signed)."""
    turn_preflight: bool = True
    """Allocate on the TURN server once before the call, to say why relay fails."""
    policy: Literal["all", "relay"] = "all"
    """iceTransportPolicy."""
    duration: float = 2.0
    """Seconds of media after connecting."""
    connect_timeout: float = 15.0
    """Seconds from start to connected before giving up."""
    video_size: tuple[int, int] = (640, 480)
    """Width and height of the synthetic video."""

    def url_for(self, candidate_type: str) -> str | None:
        """The server URL a candidate of this type came from (no credentials)."""
        if candidate_type == "srflx" and self.stun is not None:
            return str(self.stun)
        if candidate_type == "relay" and self.turn is not None:
            return str(self.turn)
        return None

    def rtc_configuration(self) -> RTCConfiguration:
        """The RTCConfiguration: explicit ICE servers (never aiortc's Google default),
        max-bundle, and the transport policy."""
        servers: list[RTCIceServer] = []
        if self.stun is not None:
            servers.append(RTCIceServer(urls=str(self.stun)))
        if self.turn is not None:
            servers.append(
                RTCIceServer(
                    urls=str(self.turn),
                    username=self.turn_username,
                    credential=self.turn_credential,
                )
            )
        policy = (
            RTCIceTransportPolicy.RELAY if self.policy == "relay" else RTCIceTransportPolicy.ALL
        )
        return RTCConfiguration(
            iceServers=servers,
            iceTransportPolicy=policy,
            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        )
