"""The peer agent: one aiortc call through the signaling server, measured.

Sequence (both roles): TURN preflight (in the background) → connect to signaling →
``join`` → caller: on ``ready`` gather and send the full offer (aiortc does not trickle);
callee: on ``offer`` answer → wait for ICE + DTLS (``connectionState == connected``) →
media for ``duration`` s (tone + test pattern both ways, data-channel echoes) → getStats,
selected pair → ``leave`` → close. From connected on, getStats is sampled once a second
(``bitrate``) and every consent check is watched (``health``): a call lost mid-call ends
the media phase at once, its reason saying what was lost on which pair.

Every wait has a deadline: connecting must finish within ``connect_timeout`` of the start,
the media phase is bounded by ``duration`` plus a grace period, teardown by a few seconds;
a connection aiortc gives up on (consent lost: about 30 s without answers) ends it early.
``run()`` never raises: a failure becomes ``outcome="failed"`` with a reason. Timeline
times are on the call's clock (``PeerConfig.clock_zero``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Literal

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from nattest.call.result import Candidate, MediaVerdict, PeerResult, StateEvent, Stats
from nattest.call.sdp import parse_candidates
from nattest.peers.aiortc import ice_adapter
from nattest.peers.aiortc.bitrate import BitrateSampler
from nattest.peers.aiortc.config import PeerConfig, rtc_configuration
from nattest.peers.aiortc.health import ConsentWatch
from nattest.peers.aiortc.media import (
    DONE_TAG,
    MEDIA_TAG,
    VIDEO_TRACKS,
    EchoProbe,
    FrameCounter,
    Handshake,
    ToneTrack,
)
from nattest.peers.aiortc.signal_client import SignalingClient, SignalingError
from nattest.peers.aiortc.snapshots import TEARDOWN_TIMEOUT, Snapshots
from nattest.peers.aiortc.turn import turn_preflight
from nattest.services.tls import insecure_client_context

log = logging.getLogger("nattest.peers.aiortc")

Machine = Literal["iceGathering", "iceConnection", "dtls", "connection", "signaling"]

ECHO_GRACE = 3.0
"""Seconds after the media phase to wait for missing data-channel echoes."""
CHANNEL_OPEN_TIMEOUT = 5.0
"""Seconds to wait for the data channel to open once DTLS is up."""
MEDIA_GRACE = 5.0
"""Seconds past ``duration`` to wait until both peers have decoded audio and video."""
DONE_GRACE = MEDIA_GRACE + ECHO_GRACE + 1.0
"""Seconds to wait, once this peer's checks are over, for the other to say its are: the
other may still be in its media grace and echo wait."""


class CallFailed(Exception):
    """The call could not be set up; the message says why in network words."""


class PeerAgent(Snapshots):
    """Runs one call for one peer and builds its PeerResult."""

    def __init__(self, cfg: PeerConfig) -> None:
        self.cfg = cfg
        self.t0 = time.monotonic()
        self.clock0 = self.t0 if cfg.clock_zero is None else cfg.clock_zero
        self.timeline: list[StateEvent] = []
        self.pc = RTCPeerConnection(rtc_configuration(cfg))
        self.sampler = BitrateSampler(lambda: ice_adapter.get_stats(self.pc), self._clock, cfg.name)
        self.consent = ConsentWatch(self._clock, self._consent_state)
        self.lost = False
        self.sig = SignalingClient(cfg.signaling, cfg.name)
        self.counters = {"audio": FrameCounter("audio"), "video": FrameCounter("video")}
        self.probe = EchoProbe(cfg.name)
        self.channel: RTCDataChannel | None = None
        self.channel_open = asyncio.Event()
        self.ready = Handshake(cfg.name, MEDIA_TAG)
        self.done = Handshake(cfg.name, DONE_TAG)
        self.connected = asyncio.Event()
        self.failed = asyncio.Event()
        self.t_offer: float | None = None
        self.t_ice: float | None = None
        self.phase = "start"
        self.local_tracks: list[MediaStreamTrack] = []
        self.preflight: asyncio.Task[str] | None = None
        self.gathered: list[Candidate] = []
        self.warnings: list[str] = []
        self.pair_raw: tuple[ice_adapter.RawCandidate, ice_adapter.RawCandidate] | None = None
        self.valid_raw: dict[
            tuple[str, int, str, int], tuple[ice_adapter.RawCandidate, ice_adapter.RawCandidate]
        ] = {}

    # ---------------------------------------------------------------- events

    def _now(self) -> float:
        return round(time.monotonic() - self.t0, 4)

    def _clock(self) -> float:
        return round(time.monotonic() - self.clock0, 4)

    def _record(self, machine: Machine, state: str, nattest: str | None = None) -> None:
        """A state change; `nattest`: derived by nattest (what it is grounded in)."""
        event = StateEvent(machine=machine, state=state, t=self._clock())
        if nattest is not None:
            event = event.model_copy(update={"source": "nattest", "detail": nattest})
        self.timeline.append(event)
        log.info("[%s] %s: %s%s", self.cfg.name, machine, state, f" ({nattest})" if nattest else "")

    def _wire_events(self) -> None:
        pc = self.pc

        @pc.on("icegatheringstatechange")
        def _gathering() -> None:
            self._record("iceGathering", pc.iceGatheringState)

        @pc.on("iceconnectionstatechange")
        def _ice() -> None:
            self._record("iceConnection", pc.iceConnectionState)
            if pc.iceConnectionState in ("connected", "completed") and self.t_ice is None:
                self.t_ice = time.monotonic()
            if pc.iceConnectionState == "failed":
                self.failed.set()

        @pc.on("connectionstatechange")
        def _conn() -> None:
            self._record("connection", pc.connectionState)
            if pc.connectionState == "connected":
                self.connected.set()
            elif pc.connectionState in ("failed", "closed"):
                self.failed.set()  # closed: also when the peer's DTLS close_notify arrives

        @pc.on("signalingstatechange")
        def _signaling() -> None:
            self._record("signaling", pc.signalingState)

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            counter = self.counters.get(track.kind)
            if counter is not None and counter.task is None:
                counter.start(track)

        @pc.on("datachannel")
        def _datachannel(channel: RTCDataChannel) -> None:
            if channel.label == "metadata":
                self._use_channel(channel)

    def _use_channel(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        self.probe.attach(channel)
        channel.on("message", self.ready.on_message)
        channel.on("message", self.done.on_message)
        if channel.readyState == "open":
            self.channel_open.set()
        channel.on("open", self.channel_open.set)

    def _setup_pc(self) -> None:
        self._wire_events()
        self.local_tracks = [ToneTrack(), VIDEO_TRACKS[self.cfg.video](*self.cfg.video_size)]
        for track in self.local_tracks:
            self.pc.addTrack(track)
        if self.cfg.role == "caller":
            self._use_channel(self.pc.createDataChannel("metadata", ordered=True))
        dtls = self.pc.getTransceivers()[0].receiver.transport
        dtls.on("statechange", lambda: self._record("dtls", dtls.state))
        if self.cfg.turn is not None and self.cfg.turn.scheme == "turns" and self.cfg.turn_insecure:
            ice_adapter.set_turn_tls_context(self.pc, insecure_client_context())

    # ----------------------------------------------------------------- phases

    async def _negotiate(self, deadline: float) -> None:
        self.phase = f"waiting for the peer to join room '{self.cfg.room}'"
        await self.sig.send("join", roomId=self.cfg.room)
        waiting = f"the peer to join room '{self.cfg.room}'"
        while True:
            limit = f"{waiting} (connect timeout {self.cfg.connect_timeout:g} s)"
            msg = await self.sig.recv(deadline, limit)
            kind, payload = msg.get("type"), msg.get("payload") or {}
            if kind == "error":
                raise CallFailed(f"signaling server refused: {payload.get('reason')}")
            if kind == "leave":
                raise CallFailed(f"peer '{payload.get('from')}' left before the call connected")
            if kind == "ready" and self.cfg.role == "caller" and self.t_offer is None:
                self.phase = "gathering candidates for the offer"
                await self.pc.setLocalDescription(await self.pc.createOffer())
                self._snapshot_gathered()
                await self.sig.send("offer", sdp=self.pc.localDescription.sdp)
                self.t_offer = time.monotonic()
                self.phase = "waiting for the answer"
                waiting = f"the answer (offer sent {self._now():.2f} s after start)"
            elif kind == "ready" and self.cfg.role == "callee":
                self.phase = "waiting for the offer"
                waiting = "the offer from the caller"
            elif kind == "answer" and self.cfg.role == "caller" and self.t_offer is not None:
                await self.pc.setRemoteDescription(
                    RTCSessionDescription(sdp=payload["sdp"], type="answer")
                )
                return
            elif kind == "offer" and self.cfg.role == "callee":
                self.t_offer = time.monotonic()
                self.phase = "answering"
                await self.pc.setRemoteDescription(
                    RTCSessionDescription(sdp=payload["sdp"], type="offer")
                )
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                self._snapshot_gathered()
                await self.sig.send("answer", sdp=self.pc.localDescription.sdp)
                return

    async def _wait_connected(self, deadline: float) -> None:
        self.phase = "ICE connectivity checks"
        waiters = [asyncio.ensure_future(e.wait()) for e in (self.connected, self.failed)]
        try:
            await asyncio.wait(
                waiters,
                timeout=max(deadline - time.monotonic(), 0),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for w in waiters:
                w.cancel()
        if self.connected.is_set():
            self._snapshot_pair()
            self._watch()
            return
        if self.pc.iceConnectionState == "failed":
            raise CallFailed(f"ICE failed: no candidate pair succeeded ({self._pairs_hint()})")
        if self.t_ice is not None:
            raise CallFailed(f"DTLS handshake did not complete (dtls {self._dtls_state()})")
        raise CallFailed(
            f"ICE checks did not complete within {self.cfg.connect_timeout:g} s "
            f"({self._pairs_hint()})"
        )

    def _channel_up(self) -> bool:
        return self.channel is not None and self.channel.readyState == "open"

    def _local_media(self) -> bool:
        ok = all(c.frames > 0 for c in self.counters.values())
        if ok and self.channel is not None and self._channel_up():
            self.ready.tell(self.channel)
        return ok

    async def _wait_media(self, t_media: float) -> None:
        """Run at least ``duration``, then until both sides have decoded audio and video
        (bounded by MEDIA_GRACE): on a loaded machine the first video frame can take
        longer than a short call, and leaving early would report media that never had a
        chance to flow."""
        deadline = t_media + self.cfg.duration + MEDIA_GRACE
        while not (self.sig.peer_left.is_set() or self.failed.is_set()):
            both = self._local_media() and self.ready.heard.is_set()
            now = time.monotonic()
            if (both and now >= t_media + self.cfg.duration) or now >= deadline:
                return
            await asyncio.sleep(0.02)

    async def _media(self) -> None:
        self.phase = "media"
        try:
            await asyncio.wait_for(self.channel_open.wait(), CHANNEL_OPEN_TIMEOUT)
        except TimeoutError:
            log.warning("[%s] data channel 'metadata' did not open", self.cfg.name)
        if self.channel is not None and self.channel_open.is_set():
            self.probe.send_all(self.channel)
        t_media = time.monotonic()
        await self._wait_media(t_media)
        self._snapshot_pair()
        if await self._was_lost():
            self.lost = True
            await self.sampler.stop()
            raise CallFailed(await self._lost_reason(time.monotonic() - t_media))
        if self.probe.sent and not self.sig.peer_left.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.probe.done.wait(), ECHO_GRACE)
        await self._finish()

    async def _finish(self) -> None:
        """Say "done" and wait until the other side has said it too (or left, or the
        connection failed): a peer that closed on its own clock could cut off the other's
        last probe or echo, a race that made cells flaky under load."""
        if self.channel is None or not self._channel_up():
            return
        self.phase = "waiting for the peer to finish its checks"
        self.done.tell(self.channel)
        deadline = time.monotonic() + DONE_GRACE
        while not (self.done.heard.is_set() or self.sig.peer_left.is_set() or self.failed.is_set()):
            if time.monotonic() >= deadline:
                self.warnings.append(f"the peer did not say it was done within {DONE_GRACE:g} s")
                return
            await asyncio.sleep(0.01)

    async def _call(self) -> None:
        deadline = self.t0 + self.cfg.connect_timeout
        if self.cfg.turn is not None and self.cfg.turn_preflight:
            tls = insecure_client_context() if self.cfg.turn_insecure else None
            self.preflight = asyncio.ensure_future(
                turn_preflight(self.cfg.turn, self.cfg.turn_username, self.cfg.turn_credential, tls)
            )
        self.phase = "connecting to the signaling server"
        await self.sig.connect(deadline)
        self._setup_pc()
        await self._negotiate(deadline)
        if not parse_candidates(self.pc.localDescription.sdp):
            raise CallFailed(f"no local candidates gathered ({await self._gather_hint()})")
        await self._wait_connected(deadline)
        await self._media()

    async def _teardown(self) -> None:
        for counter in self.counters.values():
            await counter.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sig.send("leave"), TEARDOWN_TIMEOUT)
        for track in self.local_tracks:
            track.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), TEARDOWN_TIMEOUT)
        await self.sig.close(TEARDOWN_TIMEOUT)
        if self.preflight is not None and not self.preflight.done():
            self.preflight.cancel()

    async def run(self) -> PeerResult:
        """Run the call; always returns a result (failures are in ``reason``).

        An aioice whose internals ``ice_adapter`` does not know fails the peer before the
        call: without the selected pair and valid list its verdicts would be wrong."""
        try:
            ice_adapter.check_version()
        except ice_adapter.UnsupportedAioice as exc:
            await self.pc.close()
            return PeerResult(
                name=self.cfg.name,
                role=self.cfg.role,
                policy=self.cfg.policy,
                outcome="failed",
                reason=str(exc),
            )
        reason: str | None = None
        limit = (
            self.cfg.connect_timeout
            + self.cfg.duration
            + CHANNEL_OPEN_TIMEOUT
            + MEDIA_GRACE
            + ECHO_GRACE
            + DONE_GRACE
        )
        try:
            await asyncio.wait_for(self._call(), limit)
        except (CallFailed, SignalingError) as exc:
            reason = str(exc)
        except TimeoutError:
            reason = f"timed out after {limit:g} s ({self.phase})"
        except Exception as exc:  # the result must always be written
            log.exception("[%s] unexpected error", self.cfg.name)
            reason = f"internal error during {self.phase}: {type(exc).__name__}: {exc}"
        await self.sampler.stop()
        collected = await self._collect()
        stats: Stats = collected.setdefault("stats", Stats())
        stats.bitrate = self.sampler.samples
        preflight = None
        if self.preflight is not None:
            try:
                preflight = await asyncio.wait_for(self.preflight, 6)
            except Exception as exc:
                self.warnings.append(f"TURN preflight did not finish: {type(exc).__name__}: {exc}")
        await self._teardown()
        connected = self.connected.is_set()
        media: MediaVerdict = collected["media"]
        if connected and reason is None and not media.ok:
            reason = (
                f"connected but media incomplete: {media.audio_frames} audio and "
                f"{media.video_frames} video frames decoded, {media.data_echoed}/"
                f"{media.data_sent} data-channel messages echoed intact"
            )
        ttc = None
        if self.t_offer is not None and self.t_ice is not None:
            ttc = round(self.t_ice - self.t_offer, 4)
        return PeerResult(
            name=self.cfg.name,
            role=self.cfg.role,
            policy=self.cfg.policy,
            outcome="connected" if connected and not self.lost else "failed",
            reason=reason,
            timeline=self.timeline,
            time_to_connected=ttc,
            call_duration=self._now(),
            turn_preflight=preflight,
            warnings=self.warnings,
            **collected,
        )
