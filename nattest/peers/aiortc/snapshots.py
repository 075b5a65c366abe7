"""What a peer agent keeps of its call as it goes, and what it reports at the end: copies of
aioice's candidates and pairs (aioice clears them on close, which the remote peer can
trigger before we collect), diagnostics for failure messages, and the collected results.

``Snapshots`` is the agent's base class: it reads only what ``PeerAgent`` sets up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Literal

from aiortc import RTCPeerConnection

from nattest.call.result import Candidate, MediaVerdict
from nattest.call.sdp import check_sdp, parse_candidates
from nattest.peers.aiortc import collect, ice_adapter
from nattest.peers.aiortc.bitrate import BitrateSampler
from nattest.peers.aiortc.config import PeerConfig
from nattest.peers.aiortc.health import RELAY_PROBE_TIMEOUT, ConsentWatch, lost_reason
from nattest.peers.aiortc.media import EchoProbe, FrameCounter
from nattest.peers.aiortc.signal_client import SignalingClient
from nattest.peers.aiortc.turn import turn_preflight
from nattest.services.tls import insecure_client_context

log = logging.getLogger("nattest.peers.aiortc")

TEARDOWN_TIMEOUT = 3.0
"""Seconds allowed for each teardown step."""
LEAVE_GRACE = 1.0
"""Seconds a peer whose connection closed has to say `leave` (a normal end)."""


class Snapshots:
    """Snapshots, diagnostics and results of one peer's call (``PeerAgent``'s base)."""

    cfg: PeerConfig
    pc: RTCPeerConnection
    gathered: list[Candidate]
    pair_raw: tuple[ice_adapter.RawCandidate, ice_adapter.RawCandidate] | None
    valid_raw: dict[
        tuple[str, int, str, int], tuple[ice_adapter.RawCandidate, ice_adapter.RawCandidate]
    ]
    preflight: asyncio.Task[str] | None
    warnings: list[str]
    connected: asyncio.Event
    counters: dict[str, FrameCounter]
    probe: EchoProbe
    consent: ConsentWatch
    sig: SignalingClient
    sampler: BitrateSampler
    failed: asyncio.Event
    _record: Callable[..., None]

    # ------------------------------------------------------------ snapshots
    # aioice clears its candidates and nominated pair on close, which the remote peer
    # can trigger (DTLS close_notify) before we collect: keep copies as we go.

    def _snapshot_gathered(self) -> None:
        gatherer = self.pc.getTransceivers()[0].receiver.transport.transport.iceGatherer
        self.gathered = [collect.from_rtc(c) for c in gatherer.getLocalCandidates()]

    def _snapshot_pair(self) -> None:
        pair = ice_adapter.nominated_pair(self.pc)
        if pair is not None:
            self.pair_raw = pair
        for raw in ice_adapter.valid_pairs(self.pc):
            self.valid_raw[(raw[0].address, raw[0].port, raw[1].address, raw[1].port)] = raw

    # ------------------------------------------------------------ while connected

    def _watch(self) -> None:
        """From connected on: bitrate samples, and every consent check watched."""
        self.sampler.start()
        self.consent.limit = ice_adapter.consent_limits()[1]
        if not ice_adapter.watch_consent(self.pc, self.consent.on_check):
            self.warnings.append("no nominated pair at connected: consent not watched")

    def _consent_state(self, state: str, why: str) -> None:
        """A nattest-side iceConnection state (``ConsentWatch``); `failed` ends the call."""
        self._record("iceConnection", state, why)
        if state == "failed":
            self.failed.set()

    # ------------------------------------------------------------ diagnostics

    def _dtls_state(self) -> str:
        return self.pc.getTransceivers()[0].receiver.transport.state

    def _pairs_hint(self) -> str:
        local = parse_candidates(self.pc.localDescription.sdp) if self.pc.localDescription else []
        remote = (
            parse_candidates(self.pc.remoteDescription.sdp) if self.pc.remoteDescription else []
        )

        def fmt(cs: list[Candidate]) -> str:
            return ", ".join(c.label() for c in cs) or "none"

        return f"local: {fmt(local)}; remote: {fmt(remote)}; policy {self.cfg.policy}"

    async def _gather_hint(self) -> str:
        hint = f"policy {self.cfg.policy}"
        if self.cfg.turn is None:
            return hint + ", no TURN server given"
        if self.preflight is not None:
            try:
                return f"{hint}, {await asyncio.wait_for(asyncio.shield(self.preflight), 6)}"
            except Exception as exc:
                return f"{hint}, TURN preflight did not finish: {type(exc).__name__}: {exc}"
        return hint

    async def _lost_reason(self, into_media: float) -> str:
        """Why the connected call was lost (``health.lost_reason``); for a pair relayed by
        this peer, a fresh TURN allocation says whether the relay is still there."""
        cfg = self.cfg
        local = collect.annotate(self.gathered, cfg)
        description = self.pc.remoteDescription
        remote = parse_candidates(description.sdp) if description else []
        pair = collect.selected_pair(self.pair_raw, local, remote, cfg)
        relay = None
        if pair is not None and pair.local.type == "relay" and cfg.turn is not None:
            tls = insecure_client_context() if cfg.turn_insecure else None
            relay = await turn_preflight(
                cfg.turn, cfg.turn_username, cfg.turn_credential, tls, RELAY_PROBE_TIMEOUT
            )
        states = (
            f"ice {self.pc.iceConnectionState}, connection {self.pc.connectionState}, "
            f"dtls {self._dtls_state()}"
        )
        reason = lost_reason(into_media, pair, self.consent, states, relay)
        if self.sig.peer_left.is_set() and not self.consent.expired:
            return f"the peer left (signaling) after the call was lost: {reason}"
        return reason

    async def _was_lost(self) -> bool:
        """Whether the connected call was lost (not ended by the peer): aioice gave up on
        consent, aiortc failed, or aiortc closed the connection and the peer did not
        leave (its `leave` follows a normal close within the signaling delay). A `leave`
        that comes while consent checks go unanswered is no normal end either: the server
        sends it when the peer's signaling connection died, as it does when the NAT that
        broke the media path broke that TCP connection too."""
        if self.sig.peer_left.is_set():
            return self.consent.in_a_row > 0  # it "left" once our checks went unanswered
        if self.consent.expired or self.pc.connectionState == "failed":
            return True
        if self.pc.connectionState != "closed":
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.sig.peer_left.wait(), LEAVE_GRACE)
        return not self.sig.peer_left.is_set()

    # ---------------------------------------------------------------- results

    async def _collect(self) -> dict[str, Any]:
        pc, cfg = self.pc, self.cfg
        out: dict[str, Any] = {}
        local_sdp = pc.localDescription.sdp if pc.localDescription else ""
        remote_sdp = pc.remoteDescription.sdp if pc.remoteDescription else ""
        gathered = self.gathered
        local = collect.annotate(parse_candidates(local_sdp) or gathered, cfg)
        remote = parse_candidates(remote_sdp)
        out.update(
            local_sdp=local_sdp,
            remote_sdp=remote_sdp,
            local_candidates=local,
            remote_candidates=remote,
        )
        if local_sdp:
            kind: Literal["offer", "answer"] = "offer" if cfg.role == "caller" else "answer"
            out["sdp_check"] = check_sdp(local_sdp, kind, gathered or None)
        if self.connected.is_set():
            self._snapshot_pair()
        out["selected_pair"] = collect.selected_pair(self.pair_raw, local, remote, cfg)
        out["valid_pairs"] = [
            p
            for raw in self.valid_raw.values()
            if (p := collect.selected_pair(raw, local, remote, cfg)) is not None
        ]
        try:
            report = await asyncio.wait_for(ice_adapter.get_stats(pc), TEARDOWN_TIMEOUT)
        except Exception as exc:  # the figures are missing, and the result says why
            self.warnings.append(f"getStats failed: {type(exc).__name__}: {exc}")
            log.warning("[%s] %s", cfg.name, self.warnings[-1])
        else:
            frames = {k: c.frames for k, c in self.counters.items()}
            out["stats"] = collect.rtp_stats(report, frames)
        out["media"] = MediaVerdict(
            audio_frames=self.counters["audio"].frames,
            video_frames=self.counters["video"].frames,
            data_sent=len(self.probe.sent),
            data_echoed=len(self.probe.echoed),
        )
        return out


__all__ = ["TEARDOWN_TIMEOUT", "Snapshots"]
