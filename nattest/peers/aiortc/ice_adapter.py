"""The ONLY module that reads private aioice/aiortc state. Supports aioice 0.13.x only.

aiortc 1.16 has no public API for the selected (nominated) candidate pair: getStats has no
``candidate-pair`` entry. The pair lives in aioice's ``Connection._nominated`` (component
→ ``CandidatePair``), reached through the public W3C objects down to one private hop::

    pc.getTransceivers()[0].receiver.transport   # RTCDtlsTransport (public)
      .transport                                 # RTCIceTransport  (public)
      .iceGatherer                               # RTCIceGatherer   (public)
      ._connection                               # aioice.Connection (PRIVATE)
      ._nominated[1]                             # aioice CandidatePair (PRIVATE)

(``pc.sctp.transport`` leads to the same transport under max-bundle.) Consent freshness
(RFC 7675) runs in aioice's private ``Connection.query_consent``: a check on each nominated
pair every 4-6 s (``CONSENT_INTERVAL``), sent once (``retransmissions=0``), the connection
closed after ``CONSENT_FAILURES`` (6) in a row without an answer. ``watch_consent`` sees
each check's outcome by wrapping that pair's ``StunProtocol.request``. The TLS context used
for ``turns:`` is also only settable here (``Connection.turn_ssl``, a plain attribute that
aioice passes to ``loop.create_connection(ssl=...)``).

aiortc 1.16's ``RTCRtpReceiver.getStats`` gives every SSRC it received the same
``inbound-rtp`` id, so once a retransmission (RTX, its own SSRC) arrives, the RTX stream's
counters replace the media stream's (packetsReceived drops to the few retransmissions).
``get_stats`` puts the media stream back, from the receiver's private
``__remote_streams`` (SSRC → counters) and ``__rtx_ssrc`` (RTX SSRC → media SSRC).

Every function calls ``check_version()`` first, so an aioice upgrade fails here, loudly,
and nowhere else.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aioice
import aioice.ice
from aioice import stun
from aiortc import RTCPeerConnection, RTCStatsReport

SUPPORTED_AIOICE = "0.13"
"""aioice version prefix whose private layout this module knows."""
RTP_COMPONENT = 1
"""ICE component of RTP (and everything else: rtcp-mux + BUNDLE)."""


class UnsupportedAioice(RuntimeError):
    """The installed aioice is not the version whose internals we read."""


def check_version(version: str | None = None) -> None:
    """Raise ``UnsupportedAioice`` unless aioice is 0.13.x."""
    found = version if version is not None else getattr(aioice, "__version__", "unknown")
    if not found.startswith(SUPPORTED_AIOICE + "."):
        raise UnsupportedAioice(
            f"nattest.peers.aiortc.ice_adapter reads private aioice state and supports aioice "
            f"{SUPPORTED_AIOICE}.x only, found {found}: the selected candidate pair cannot "
            f"be read; update ice_adapter.py for this version"
        )


@dataclass(frozen=True)
class RawCandidate:
    """An aioice candidate, copied out of private state."""

    type: str
    """host, srflx, prflx or relay (aioice's own view)."""
    protocol: str
    """udp or tcp."""
    address: str
    """IP address."""
    port: int
    """Port."""
    priority: int
    """ICE priority."""
    foundation: str
    """ICE foundation."""
    related_address: str | None
    """raddr."""
    related_port: int | None
    """rport."""


def _connection(pc: RTCPeerConnection) -> aioice.Connection | None:
    check_version()
    transceivers = pc.getTransceivers()
    if transceivers:
        dtls = transceivers[0].receiver.transport
    elif pc.sctp is not None:
        dtls = pc.sctp.transport
    else:
        return None
    conn = getattr(dtls.transport.iceGatherer, "_connection", None)
    if not isinstance(conn, aioice.Connection):
        raise UnsupportedAioice("RTCIceGatherer._connection is not an aioice.Connection")
    return conn


def _copy(c: aioice.Candidate) -> RawCandidate:
    return RawCandidate(
        type=c.type,
        protocol=c.transport.lower(),
        address=c.host,
        port=c.port,
        priority=c.priority,
        foundation=c.foundation,
        related_address=c.related_address,
        related_port=c.related_port,
    )


def nominated_pair(pc: RTCPeerConnection) -> tuple[RawCandidate, RawCandidate] | None:
    """(local, remote) of the nominated pair of the RTP component, None if none yet."""
    conn = _connection(pc)
    if conn is None:
        return None
    nominated = getattr(conn, "_nominated", None)
    if not isinstance(nominated, dict):
        raise UnsupportedAioice("aioice.Connection._nominated is missing or not a dict")
    pair = nominated.get(RTP_COMPONENT)
    if pair is None:
        return None
    return _copy(pair.local_candidate), _copy(pair.remote_candidate)


def valid_pairs(pc: RTCPeerConnection) -> list[tuple[RawCandidate, RawCandidate]]:
    """(local, remote) of every RTP pair whose check succeeded: the RFC 8445 valid list,
    read from aioice's private ``Connection._check_list``."""
    conn = _connection(pc)
    if conn is None:
        return []
    checks = getattr(conn, "_check_list", None)
    if not isinstance(checks, list):
        raise UnsupportedAioice("aioice.Connection._check_list is missing or not a list")
    succeeded = aioice.ice.CandidatePair.State.SUCCEEDED
    return [
        (_copy(p.local_candidate), _copy(p.remote_candidate))
        for p in checks
        if p.component == RTP_COMPONENT and p.state == succeeded
    ]


def remote_candidates(pc: RTCPeerConnection) -> list[RawCandidate]:
    """Remote candidates aioice knows, including learned peer-reflexive ones."""
    conn = _connection(pc)
    return [] if conn is None else [_copy(c) for c in conn.remote_candidates]


def set_turn_tls_context(pc: RTCPeerConnection, context: ssl.SSLContext) -> bool:
    """Use ``context`` for the ``turns:`` connection (call before gathering).

    Returns False when there is no ICE transport yet.
    """
    conn = _connection(pc)
    if conn is None:
        return False
    conn.turn_ssl = context  # type: ignore[assignment]  # aioice annotates it as bool
    return True


def consent_limits() -> tuple[float, int]:
    """(seconds between consent checks, checks without an answer before aioice gives up)."""
    check_version()
    return float(aioice.ice.CONSENT_INTERVAL), int(aioice.ice.CONSENT_FAILURES)


def watch_consent(pc: RTCPeerConnection, on_check: Callable[[bool], None]) -> bool:
    """Call ``on_check(answered)`` after each consent check on the nominated pair.

    aioice sends consent checks, and only those, with ``retransmissions=0``. Returns
    False when there is no nominated pair (yet)."""
    conn = _connection(pc)
    pair = None if conn is None else getattr(conn, "_nominated", {}).get(RTP_COMPONENT)
    if pair is None:
        return False
    protocol = pair.protocol
    original = protocol.request

    async def request(
        message: stun.Message,
        addr: tuple[str, int],
        integrity_key: bytes | None = None,
        retransmissions: int | None = None,
    ) -> Any:
        try:
            result = await original(
                message, addr, integrity_key=integrity_key, retransmissions=retransmissions
            )
        except stun.TransactionError:
            if retransmissions == 0:
                on_check(False)
            raise
        if retransmissions == 0:
            on_check(True)
        return result

    protocol.request = request
    return True


async def get_stats(pc: RTCPeerConnection) -> RTCStatsReport:
    """``pc.getStats()`` with each receiver's ``inbound-rtp`` entry describing its media
    SSRC, not the RTX one that aiortc 1.16 lets overwrite it (see the module text)."""
    check_version()
    report = await pc.getStats()
    for receiver in pc.getReceivers():
        streams = getattr(receiver, "_RTCRtpReceiver__remote_streams", {})
        rtx = getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", {})
        key = f"inbound-rtp_{id(receiver)}"
        entry = report.get(key)
        media = [ssrc for ssrc in streams if ssrc not in rtx]
        if entry is None or entry.ssrc not in rtx or len(media) != 1:
            continue
        stream = streams[media[0]]
        report[key] = dataclasses.replace(
            entry,
            ssrc=media[0],
            packetsReceived=stream.packets_received,
            packetsLost=stream.packets_lost,
            jitter=stream.jitter,
        )
    return report
