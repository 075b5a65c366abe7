"""The signaling server: pure routing core, then a real websockets server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from nattest.services.signaling import Switchboard, server_port, signaling_server

# --------------------------------------------------------------------------- pure core


def _join(board: Switchboard, client: int, name: str, room: str = "r1") -> list[Any]:
    return board.handle(
        client, json.dumps({"type": "join", "payload": {"roomId": room, "from": name}})
    )


def test_second_joiner_makes_the_room_ready() -> None:
    board = Switchboard()
    first = _join(board, 1, "alice")
    assert first == [(1, {"type": "joined", "payload": {"roomId": "r1", "peers": ["alice"]}})]
    second = _join(board, 2, "bob")
    ready = {"type": "ready", "payload": {"roomId": "r1", "peers": ["alice", "bob"]}}
    assert (1, ready) in second and (2, ready) in second


def test_relay_sets_from_to_the_joined_name() -> None:
    board = Switchboard()
    _join(board, 1, "alice")
    _join(board, 2, "bob")
    out = board.handle(
        1, json.dumps({"type": "offer", "payload": {"sdp": "v=0", "from": "mallory"}})
    )
    assert out == [(2, {"type": "offer", "payload": {"sdp": "v=0", "from": "alice"}})]


def test_rooms_are_separate() -> None:
    board = Switchboard()
    _join(board, 1, "alice", "r1")
    _join(board, 2, "carol", "r2")
    out = board.handle(1, json.dumps({"type": "offer", "payload": {"sdp": "v=0"}}))
    assert out[0][0] == 1 and out[0][1]["type"] == "error"
    assert "nobody else in room 'r1'" in out[0][1]["payload"]["reason"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "malformed JSON"),
        ("[1, 2]", "must be an object with a string 'type'"),
        ('{"type": "dance"}', "unknown message type 'dance'"),
        ('{"type": "offer", "payload": {"sdp": "v=0"}}', "send 'join' first"),
        ('{"type": "join", "payload": {"roomId": ""}}', "needs non-empty 'roomId' and 'from'"),
        ('{"type": "join", "payload": 3}', "payload must be an object"),
    ],
)
def test_bad_messages_get_an_error(text: str, reason: str) -> None:
    out = Switchboard().handle(7, text)
    assert len(out) == 1
    client, msg = out[0]
    assert client == 7 and msg["type"] == "error"
    assert reason in msg["payload"]["reason"]


def test_third_joiner_and_duplicate_names_are_refused() -> None:
    board = Switchboard()
    _join(board, 1, "alice")
    dup = _join(board, 2, "alice")
    assert "name 'alice' is already in room 'r1'" in dup[0][1]["payload"]["reason"]
    _join(board, 2, "bob")
    third = _join(board, 3, "eve")
    assert third == [
        (3, {"type": "error", "payload": {"reason": "join: room 'r1' is full (alice, bob)"}})
    ]
    assert board.rooms["r1"] == [1, 2]


def test_leave_and_disconnect_free_the_slot() -> None:
    board = Switchboard()
    _join(board, 1, "alice")
    _join(board, 2, "bob")
    assert board.handle(1, '{"type": "leave", "payload": {}}') == [
        (2, {"type": "leave", "payload": {"from": "alice"}})
    ]
    assert board.disconnect(2) == []
    assert board.rooms == {} and board.members == {}


# ------------------------------------------------------------------------- real server


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with signaling_server("127.0.0.1", 0) as server:
        yield f"ws://127.0.0.1:{server_port(server)}"


async def _recv(ws: ClientConnection) -> dict[str, Any]:
    msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 2))
    return msg


async def _send(ws: ClientConnection, type_: str, **payload: Any) -> None:
    await ws.send(json.dumps({"type": type_, "payload": payload}))


async def test_offer_answer_exchange(url: str) -> None:
    async with connect(url, proxy=None) as alice, connect(url, proxy=None) as bob:
        await _send(alice, "join", roomId="call", **{"from": "alice"})
        assert (await _recv(alice))["type"] == "joined"
        await _send(bob, "join", roomId="call", **{"from": "bob"})
        assert (await _recv(bob))["type"] == "joined"
        for ws in (alice, bob):
            ready = await _recv(ws)
            assert ready == {
                "type": "ready",
                "payload": {"roomId": "call", "peers": ["alice", "bob"]},
            }
        await _send(alice, "offer", sdp="v=0 offer", **{"from": "alice"})
        assert await _recv(bob) == {
            "type": "offer",
            "payload": {"sdp": "v=0 offer", "from": "alice"},
        }
        await _send(bob, "answer", sdp="v=0 answer", **{"from": "bob"})
        assert (await _recv(alice))["payload"]["sdp"] == "v=0 answer"
        cand = {
            "candidate": "candidate:1 1 udp 1 192.0.2.1 9 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        }
        await _send(bob, "ice", candidate=cand, **{"from": "bob"})
        assert (await _recv(alice))["payload"]["candidate"] == cand
        await bob.close()
        assert await _recv(alice) == {"type": "leave", "payload": {"from": "bob"}}


async def test_third_joiner_gets_an_error(url: str) -> None:
    clients = [await connect(url, proxy=None) for _ in range(3)]
    try:
        for ws, name in zip(clients, ("a", "b", "c"), strict=True):
            await _send(ws, "join", roomId="full", **{"from": name})
        third = await _recv(clients[2])
        assert third["type"] == "error"
        assert "room 'full' is full" in third["payload"]["reason"]
        # the two members are unaffected: they still talk
        for ws in clients[:2]:
            assert (await _recv(ws))["type"] == "joined"
            assert (await _recv(ws))["type"] == "ready"
        await _send(clients[1], "offer", sdp="x")
        assert (await _recv(clients[0]))["type"] == "offer"
    finally:
        for ws in clients:
            await ws.close()


async def test_malformed_json_gets_an_error_and_server_keeps_serving(url: str) -> None:
    async with connect(url, proxy=None) as rude, connect(url, proxy=None) as polite:
        await rude.send("{this is not json")
        err = await _recv(rude)
        assert err["type"] == "error" and "malformed JSON" in err["payload"]["reason"]
        await _send(rude, "shout")
        assert "unknown message type 'shout'" in (await _recv(rude))["payload"]["reason"]
        # the same connection and a new one are both still served
        await _send(rude, "join", roomId="r", **{"from": "rude"})
        assert (await _recv(rude))["type"] == "joined"
        await _send(polite, "join", roomId="r", **{"from": "polite"})
        assert (await _recv(polite))["payload"]["peers"] == ["rude", "polite"]
