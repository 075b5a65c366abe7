"""Client side of the nattest signaling protocol (see ``nattest.services.signaling``).

Connects with retries until a deadline (the server may still be starting: readiness is
polled by connecting, not by sleeping blindly), then reads messages into a queue in the
background. Every wait is bounded by a deadline on the monotonic clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

log = logging.getLogger("nattest.peers.aiortc.signaling")

RETRY_INTERVAL = 0.1
"""Seconds between connection attempts while the server is not up."""


def _why(exc: BaseException) -> str:
    errno = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and errno:
        return os.strerror(errno).lower()
    return str(exc) or type(exc).__name__


class SignalingError(Exception):
    """Signaling failed; the message says what, in network words."""


class SignalingClient:
    """One WebSocket to the signaling server, with a background reader."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self.ws: ClientConnection | None = None
        self.peer_left = asyncio.Event()
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, deadline: float) -> None:
        """Connect, retrying until ``deadline`` (monotonic seconds)."""
        last = "no attempt"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SignalingError(f"signaling server {self.url} unreachable: {last}")
            try:
                self.ws = await connect(
                    self.url, proxy=None, open_timeout=remaining, compression=None
                )
                break
            except InvalidURI as exc:
                raise SignalingError(f"bad signaling URL {self.url}: {exc}") from exc
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                last = _why(exc)
                await asyncio.sleep(min(RETRY_INTERVAL, max(remaining, 0)))
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for text in self.ws:
                try:
                    msg = json.loads(text)
                except ValueError:
                    log.warning("[%s] signaling: malformed message ignored", self.name)
                    continue
                if not isinstance(msg, dict):
                    continue
                log.debug("[%s] signaling <- %s", self.name, msg.get("type"))
                if msg.get("type") == "leave":
                    self.peer_left.set()
                await self._queue.put(msg)
        except ConnectionClosed:
            pass
        finally:
            await self._queue.put(None)

    async def send(self, type_: str, **payload: Any) -> None:
        """Send ``{"type": type_, "payload": {..., "from": name}}``."""
        if self.ws is None:
            raise SignalingError("signaling: not connected")
        log.debug("[%s] signaling -> %s", self.name, type_)
        try:
            await self.ws.send(
                json.dumps({"type": type_, "payload": {**payload, "from": self.name}})
            )
        except ConnectionClosed as exc:
            raise SignalingError(f"signaling server {self.url} closed the connection") from exc

    async def recv(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        """Next message, or SignalingError naming what we were waiting for."""
        remaining = deadline - time.monotonic()
        try:
            msg = await asyncio.wait_for(self._queue.get(), max(remaining, 0))
        except TimeoutError:
            raise SignalingError(f"timed out waiting for {waiting_for}") from None
        if msg is None:
            raise SignalingError(
                f"signaling server {self.url} closed the connection while waiting for {waiting_for}"
            )
        return msg

    async def close(self, timeout: float = 2.0) -> None:
        """Close the WebSocket and stop the reader (bounded)."""
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), timeout)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
