"""WebSocket signaling server for lab calls: rooms of two, JSON messages relayed.

Run: ``python -m nattest.services.signaling --host IP --port PORT`` (logs to stderr, prints nothing,
exits cleanly on SIGTERM/SIGINT). ``NATTEST_DEBUG=1`` logs every message.

Every message is a JSON object ``{"type": ..., "payload": {...}}``.

Client → server:

* ``join``   ``{"roomId": str, "from": str}`` — enter a room (at most two members,
  names unique in the room).
* ``offer``  ``{"sdp": str, "from": str}`` — relayed to the other member.
* ``answer`` ``{"sdp": str, "from": str}`` — relayed.
* ``ice``    ``{"candidate": {"candidate", "sdpMid", "sdpMLineIndex"}, "from": str}`` —
  relayed (aiortc peers do not trickle, browsers may).
* ``leave``  ``{"from": str}`` — relayed, then the sender leaves the room.

Server → client:

* ``joined`` ``{"roomId", "peers": [names]}`` — to the joiner, ``peers`` in join order.
* ``ready``  ``{"roomId", "peers": [first, second]}`` — to both members when the second
  one joins; the caller sends its offer on ``ready``.
* relayed messages unchanged, except ``payload.from`` is set to the sender's joined name.
* ``leave``  ``{"from": name}`` — also sent when the other member's WebSocket closes.
* ``error``  ``{"reason": str}`` — a third joiner, a second join, an unknown type, a message
  before ``join``, a relay with nobody to relay to, a missing field or malformed JSON.
  The connection stays open and the server keeps serving everyone else.

The routing core (``Switchboard``) is pure: it maps (client id, text) to a list of
(client id, message) to send, and is tested without sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

log = logging.getLogger("nattest.services.signaling")

RELAYED_TYPES = ("offer", "answer", "ice", "leave")
"""Message types relayed to the other member of the room."""
ROOM_SIZE = 2
"""Members per room."""
MAX_MESSAGE_BYTES = 1 << 20
"""Largest accepted WebSocket message (an SDP is a few kB)."""

Message = dict[str, Any]
Outgoing = list[tuple[int, Message]]


def message(type_: str, **payload: Any) -> Message:
    """Build ``{"type": type_, "payload": {...}}``."""
    return {"type": type_, "payload": payload}


def error(reason: str) -> Message:
    """An ``error`` message carrying ``reason``."""
    return message("error", reason=reason)


@dataclass
class Member:
    """A client that has joined a room."""

    client: int
    """Connection id."""
    name: str
    """Name given in ``join``."""
    room: str
    """Room id."""


@dataclass
class Switchboard:
    """Pure routing state: who is in which room, and what each message causes."""

    members: dict[int, Member] = field(default_factory=dict)
    """Joined clients by connection id."""
    rooms: dict[str, list[int]] = field(default_factory=dict)
    """Connection ids of each room, in join order."""

    def handle(self, client: int, text: str | bytes) -> Outgoing:
        """Route one incoming message; return what to send to whom."""
        try:
            msg = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            return [(client, error(f"malformed JSON: {exc}"))]
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            return [(client, error("a message must be an object with a string 'type'"))]
        payload = msg.get("payload")
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            return [(client, error(f"{msg['type']}: payload must be an object"))]
        kind = msg["type"]
        if kind == "join":
            return self._join(client, payload)
        if kind not in RELAYED_TYPES:
            expected = ", ".join(("join", *RELAYED_TYPES))
            return [(client, error(f"unknown message type '{kind}' (expected one of {expected})"))]
        return self._relay(client, kind, payload)

    def disconnect(self, client: int) -> Outgoing:
        """The client's WebSocket closed: tell the other member it left."""
        member = self.members.get(client)
        if member is None:
            return []
        return self._remove(member)

    def _join(self, client: int, payload: Message) -> Outgoing:
        room, name = payload.get("roomId"), payload.get("from")
        if not isinstance(room, str) or not room or not isinstance(name, str) or not name:
            return [(client, error("join: payload needs non-empty 'roomId' and 'from'"))]
        if client in self.members:
            joined = self.members[client]
            return [(client, error(f"join: already in room '{joined.room}' as '{joined.name}'"))]
        ids = self.rooms.setdefault(room, [])
        if len(ids) >= ROOM_SIZE:
            names = ", ".join(self.members[i].name for i in ids)
            return [(client, error(f"join: room '{room}' is full ({names})"))]
        if any(self.members[i].name == name for i in ids):
            return [(client, error(f"join: name '{name}' is already in room '{room}'"))]
        ids.append(client)
        self.members[client] = Member(client, name, room)
        peers = [self.members[i].name for i in ids]
        out: Outgoing = [(client, message("joined", roomId=room, peers=peers))]
        if len(ids) == ROOM_SIZE:
            out += [(i, message("ready", roomId=room, peers=peers)) for i in ids]
        return out

    def _relay(self, client: int, kind: str, payload: Message) -> Outgoing:
        member = self.members.get(client)
        if member is None:
            return [(client, error(f"{kind}: send 'join' first"))]
        if kind == "leave":
            return self._remove(member)
        if kind in ("offer", "answer") and not isinstance(payload.get("sdp"), str):
            return [(client, error(f"{kind}: payload needs a string 'sdp'"))]
        if kind == "ice" and not isinstance(payload.get("candidate"), dict | None):
            return [(client, error("ice: payload 'candidate' must be an object or null"))]
        others = [i for i in self.rooms[member.room] if i != client]
        if not others:
            return [(client, error(f"{kind}: nobody else in room '{member.room}' yet"))]
        relayed = message(kind, **{**payload, "from": member.name})
        return [(i, relayed) for i in others]

    def _remove(self, member: Member) -> Outgoing:
        del self.members[member.client]
        ids = self.rooms[member.room]
        ids.remove(member.client)
        if not ids:
            del self.rooms[member.room]
        return [(i, message("leave", **{"from": member.name})) for i in ids]


class SignalingServer:
    """The Switchboard behind a websockets server."""

    def __init__(self, delay: float = 0.0) -> None:
        self.board = Switchboard()
        self.delay = delay
        self._clients: dict[int, ServerConnection] = {}
        self._next_id = 0

    async def _send(self, outgoing: Outgoing) -> None:
        for client, msg in outgoing:
            ws = self._clients.get(client)
            if ws is None:
                continue
            if msg["type"] == "error":
                log.info("client %d: error: %s", client, msg["payload"]["reason"])
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps(msg))

    async def handler(self, ws: ServerConnection) -> None:
        """Serve one WebSocket until it closes."""
        self._next_id += 1
        client = self._next_id
        self._clients[client] = ws
        log.info("client %d connected from %s", client, ws.remote_address)
        try:
            async for text in ws:
                log.debug("client %d -> %s", client, text[:200])
                outgoing = self.board.handle(client, text)
                if self.delay and any(to != client for to, _ in outgoing):
                    # one-way latency of a signaling server across the internet; this
                    # client's later messages wait behind it, so order is kept
                    await asyncio.sleep(self.delay)
                await self._send(outgoing)
        except ConnectionClosed:
            pass
        finally:
            del self._clients[client]
            await self._send(self.board.disconnect(client))
            log.info("client %d disconnected", client)


@contextlib.asynccontextmanager
async def signaling_server(host: str, port: int, delay: float = 0.0) -> AsyncIterator[Server]:
    """Serve on host:port (port 0: ephemeral) for the duration of the ``async with``;
    messages relayed to the other peer are delivered ``delay`` seconds late."""
    core = SignalingServer(delay)
    async with serve(core.handler, host, port, max_size=MAX_MESSAGE_BYTES) as server:
        for sock in server.sockets:
            log.info("signaling on ws://%s:%d", *sock.getsockname()[:2])
        yield server


def server_port(server: Server) -> int:
    """The TCP port a server listens on (useful with port 0)."""
    return int(next(iter(server.sockets)).getsockname()[1])


async def run(host: str, port: int, delay: float = 0.0) -> None:
    """Serve until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with signaling_server(host, port, delay):
        await stop.wait()
    log.info("signaling stopped")


def main(argv: list[str] | None = None) -> int:
    """``python -m nattest.services.signaling --host IP --port PORT``."""
    parser = argparse.ArgumentParser(
        prog="python -m nattest.services.signaling", description=__doc__
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0: ephemeral)")
    parser.add_argument(
        "--delay", type=float, default=0.0, help="seconds before a relayed message is delivered"
    )
    args = parser.parse_args(argv)
    debug = os.environ.get("NATTEST_DEBUG") == "1"
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s [signaling] %(message)s",
    )
    if not debug:
        logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        asyncio.run(run(args.host, args.port, args.delay))
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", args.host, args.port, exc.strerror or exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
