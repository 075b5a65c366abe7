"""What the aiortc peer agent is told to do, and the RTCConfiguration built from it.

ICE server URLs are ``nattest.services.urls`` (RFC 7064/7065, IP literals). aiortc supports
``turn:...?transport=udp|tcp`` and ``turns:...?transport=tcp`` (TLS over TCP); it uses only
the first STUN and first TURN server, so the agent takes at most one of each. The TURN
password is never part of a URL, of this config's ``repr``, or of any result: it comes from
``NATTEST_TURN_CREDENTIAL``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from nattest.services.urls import IceServerUrl

if TYPE_CHECKING:
    from aiortc import RTCConfiguration


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
    video: Literal["pattern", "noise"] = "pattern"
    """What it shows: a moving bar (cheap to encode) or random noise (full bitrate)."""
    clock_zero: float | None = None
    """CLOCK_MONOTONIC seconds of the call's start, the zero of the timeline (None: the
    agent's own start)."""

    def url_for(self, candidate_type: str) -> str | None:
        """The server URL a candidate of this type came from (no credentials)."""
        if candidate_type == "srflx" and self.stun is not None:
            return str(self.stun)
        if candidate_type == "relay" and self.turn is not None:
            return str(self.turn)
        return None


def rtc_configuration(cfg: PeerConfig) -> RTCConfiguration:
    """The RTCConfiguration: explicit ICE servers (never aiortc's Google default),
    max-bundle, and the transport policy. (aiortc is imported here only: fast ``--help``.)"""
    from aiortc import RTCConfiguration, RTCIceServer
    from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy

    servers: list[RTCIceServer] = []
    if cfg.stun is not None:
        servers.append(RTCIceServer(urls=str(cfg.stun)))
    if cfg.turn is not None:
        servers.append(
            RTCIceServer(
                urls=str(cfg.turn),
                username=cfg.turn_username,
                credential=cfg.turn_credential,
            )
        )
    policy = RTCIceTransportPolicy.RELAY if cfg.policy == "relay" else RTCIceTransportPolicy.ALL
    return RTCConfiguration(
        iceServers=servers,
        iceTransportPolicy=policy,
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
    )
