"""The Chromium peer agent: serves the page to a headless Chromium in the node, gives it
the call, and turns what it reports into a PeerResult.

The agent listens on 127.0.0.1 inside the node (a secure context for getUserMedia, and
nothing outside the node can reach it): ``/`` serves ``page/``, ``/control`` is the
WebSocket the page reports on. The page sends raw facts (state changes, candidate lines,
getStats dicts); the agent stamps each with the call's clock as it arrives and converts
them (``convert``). The TURN password goes to the page over that loopback socket only.
Every wait is bounded; Chromium is stopped (its whole process group) whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from nattest.call.result import MediaVerdict, PeerResult, StateEvent
from nattest.call.sdp import check_sdp
from nattest.peers.base import CREDENTIAL_ENV
from nattest.peers.chromium import convert
from nattest.peers.chromium.browser import Browser, chromium_argv, find_binary, server_host
from nattest.peers.chromium.devtools import DevToolsError

log = logging.getLogger("nattest.peers.chromium")

PAGE = Path(__file__).with_name("page")
"""The page's files."""
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
LOAD_TIMEOUT = 20.0
"""Seconds for Chromium to start and open /control."""
PAGE_GRACES = 5.0 + 5.0 + 3.0 + 9.0
"""The page's own waits past connect + duration (channel open, media, echoes, done)."""
FINAL_GRACE = 5.0
"""Seconds past the page's own limit to wait for its final report."""
MACHINES = ("iceGathering", "iceConnection", "dtls", "connection", "signaling")


@dataclass
class Reports:
    """What the page reported, stamped with the call's clock on arrival."""

    timeline: list[StateEvent] = field(default_factory=list)
    local_lines: list[str] = field(default_factory=list)
    remote_lines: list[str] = field(default_factory=list)
    remote_sdps: list[str] = field(default_factory=list)
    pairs: list[tuple[float, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    samples: list[tuple[float, list[dict[str, Any]]]] = field(default_factory=list)
    restarts: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    t_offer: float | None = None
    t_ice: float | None = None
    connected: bool = False
    final: dict[str, Any] | None = None


class ChromiumAgent:
    """Runs one call for one peer in a headless Chromium and builds its PeerResult."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.t0 = time.monotonic()
        self.clock0 = self.t0 if args.clock_zero is None else args.clock_zero
        self.reports = Reports()
        self.hello = asyncio.Event()
        self.granted = asyncio.Event()
        self.finished = asyncio.Event()
        self.folder: Path = args.result.parent

    def _clock(self) -> float:
        return round(time.monotonic() - self.clock0, 4)

    # ------------------------------------------------------------------ page side

    def config(self) -> dict[str, Any]:
        """The call, as the page takes it."""
        a = self.args
        servers: list[dict[str, Any]] = []
        if a.stun:
            servers.append({"urls": a.stun})
        if a.turn:
            servers.append(
                {
                    "urls": a.turn,
                    "username": a.turn_username or "",
                    "credential": os.environ.get(CREDENTIAL_ENV, ""),
                }
            )
        w, h = a.video_size
        return {
            "name": a.name,
            "role": a.role,
            "room": a.room,
            "signaling": a.signaling,
            "ice_servers": servers,
            "policy": a.policy,
            "duration": a.duration,
            "connect_timeout": a.connect_timeout,
            "peer_can": a.peer_can,
            "video": a.video,
            "video_size": [w, h],
        }

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/control":
            return None
        name = request.path.split("?", 1)[0].lstrip("/") or "peer.html"
        path = PAGE / name
        if "/" in name or not path.is_file():
            return connection.respond(404, "not found\n")
        response = connection.respond(200, "")
        response.body = path.read_bytes()
        response.headers = Headers(
            {
                "Content-Type": CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
                "Content-Length": str(len(response.body)),
                "Cache-Control": "no-store",
                "Connection": "close",
            }
        )
        return response

    async def _control(self, ws: ServerConnection) -> None:
        await self.granted.wait()  # the page makes its peer connection on the config
        await ws.send(json.dumps(self.config()))
        log.info(
            "[%s] page opened %.2f s after the agent started",
            self.args.name,
            time.monotonic() - self.t0,
        )
        self.hello.set()
        try:
            async for text in ws:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    self._on_report(json.loads(text))
        except ConnectionClosed:
            pass

    def _on_report(self, msg: dict[str, Any]) -> None:
        r, t, kind = self.reports, self._clock(), msg.get("type")
        if kind == "state" and msg["machine"] in MACHINES:
            r.timeline.append(StateEvent(machine=msg["machine"], state=str(msg["state"]), t=t))
            log.info("[%s] %s: %s", self.args.name, msg["machine"], msg["state"])
            if msg["machine"] == "iceConnection" and msg["state"] in ("connected", "completed"):
                r.t_ice = r.t_ice if r.t_ice is not None else t
        elif kind == "local-candidate":
            r.local_lines.append(str(msg["line"]))
        elif kind == "remote-candidate":
            r.remote_lines.append(str(msg["line"]))
        elif kind == "remote-sdp":
            r.remote_sdps.append(str(msg["sdp"]))
        elif kind in ("offer-sent", "offer-received") and r.t_offer is None:
            r.t_offer = t
        elif kind == "connected":
            r.connected = True
        elif kind == "pair":
            r.pairs.append((t, msg["local"], msg["remote"]))
            log.info(
                "[%s] selected pair: %s ↔ %s",
                self.args.name,
                _short(msg["local"]),
                _short(msg["remote"]),
            )
        elif kind == "sample":
            r.samples.append((t, list(msg["rtp"])))
        elif kind == "ice-restart":
            r.restarts.append(t)
            log.info("[%s] ICE restart", self.args.name)
        elif kind == "warning":
            r.warnings.append(str(msg["text"]))
        elif kind == "hello":
            log.info("[%s] browser: %s", self.args.name, msg.get("userAgent"))
        elif kind == "log":
            log.info("[%s] page: %s", self.args.name, msg["text"])
        elif kind == "final":
            r.final = msg
            self.finished.set()

    # ------------------------------------------------------------------ run

    async def run(self) -> PeerResult:
        """Run the call; always returns a result (failures are in ``reason``)."""
        binary = find_binary()
        if binary is None:
            return self._failed("chromium not found on PATH: run `make deps-browser`")
        cert = None
        cert_file = os.environ.get("SSL_CERT_FILE")
        if self.args.turn and self.args.turn.startswith("turns:") and cert_file:
            cert = Path(cert_file).read_bytes()
        servers = [
            server_host(u) for u in (self.args.signaling, self.args.stun, self.args.turn) if u
        ]
        profile = self.folder / f"{self.args.name}-chromium-profile"
        reason: str | None = None
        async with serve(self._control, "127.0.0.1", 0, process_request=self._http) as server:
            port = server.sockets[0].getsockname()[1] if server.sockets else 0
            url = f"http://127.0.0.1:{port}/peer.html"
            argv = chromium_argv(binary, url, profile, servers, cert)
            log.info("[%s] starting %s", self.args.name, binary)
            with (self.folder / f"{self.args.name}-chromium.log").open("wb") as blog:
                browser = Browser(argv, blog, profile)
                try:
                    reason = await self._wait(browser, f"http://127.0.0.1:{port}")
                finally:
                    await asyncio.to_thread(browser.stop)
        return self._result(reason)

    async def _wait(self, browser: Browser, origin: str) -> str | None:
        """None when the page reported its end; else why not."""
        try:
            await asyncio.to_thread(browser.grant_media, origin, LOAD_TIMEOUT)
        except DevToolsError as e:
            return f"Chromium did not grant the page its media permission: {e}"
        self.granted.set()
        try:
            await asyncio.wait_for(self.hello.wait(), LOAD_TIMEOUT)
        except TimeoutError:
            how = "exited" if not browser.alive() else "still starting"
            return f"Chromium did not open the page within {LOAD_TIMEOUT:g} s ({how})"
        limit = self.args.connect_timeout + self.args.duration + PAGE_GRACES + FINAL_GRACE
        deadline = time.monotonic() + limit
        while not self.finished.is_set():
            if not browser.alive():
                return "Chromium exited during the call"
            if time.monotonic() >= deadline:
                return f"the page sent no result within {limit:g} s"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.finished.wait(), 0.2)
        return None

    # ------------------------------------------------------------------ result

    def _failed(self, reason: str) -> PeerResult:
        a = self.args
        return PeerResult(
            name=a.name,
            role=a.role,
            kind="chromium",
            policy=a.policy,
            outcome="failed",
            reason=reason,
            timeline=self.reports.timeline,
        )

    def _result(self, agent_reason: str | None) -> PeerResult:
        r, a = self.reports, self.args
        final = r.final or {}
        stats = list(final.get("stats") or [])
        if stats:  # evidence: the raw report, as webrtc-internals would show it
            (self.folder / f"{a.name}-getstats.json").write_text(json.dumps(stats, indent=1))
        local = convert.local_candidates(r.local_lines, stats)
        remote = convert.remote_candidates(r.remote_sdps, r.remote_lines)
        media = MediaVerdict.model_validate(final.get("media") or {})
        call_stats = convert.rtp_stats(stats)
        call_stats.bitrate = convert.bitrate(r.samples)
        ice_state = final.get("ice_state")
        up = r.connected and ice_state in ("connected", "completed")
        reason = agent_reason or final.get("reason")
        if r.connected and not up and reason is None:
            reason = f"connection lost (ICE {ice_state}) and not recovered"
        if up and reason is None and not media.ok:
            reason = (
                f"connected but media incomplete: {media.audio_frames} audio and "
                f"{media.video_frames} video frames decoded, {media.data_echoed}/"
                f"{media.data_sent} data-channel messages echoed intact"
            )
        local_sdp = str(final.get("local_sdp") or "")
        role: Literal["offer", "answer"] = "offer" if a.role == "caller" else "answer"
        ttc = None
        if r.t_offer is not None and r.t_ice is not None:
            ttc = round(r.t_ice - r.t_offer, 4)
        return PeerResult(
            name=a.name,
            role=a.role,
            kind="chromium",
            policy=a.policy,
            outcome="connected" if up and agent_reason is None else "failed",
            reason=reason,
            local_candidates=local,
            remote_candidates=remote,
            selected_pair=convert.selected_pair(stats, local),
            valid_pairs=convert.valid_pairs(stats, local),
            timeline=r.timeline,
            time_to_connected=ttc,
            call_duration=round(time.monotonic() - self.t0, 4),
            stats=call_stats,
            media=media,
            local_sdp=local_sdp,
            remote_sdp=str(final.get("remote_sdp") or ""),
            sdp_check=check_sdp(local_sdp, role, local or None) if local_sdp else None,
            pair_switches=convert.pair_switches(r.pairs, local),
            ice_restarts=r.restarts,
            warnings=r.warnings,
        )


def _short(stat: dict[str, Any]) -> str:
    return f"{stat.get('candidateType')} {stat.get('address')}:{stat.get('port')}"
