"""TURN preflight against tiny in-process fake TURN servers on 127.0.0.1 (UDP and TCP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from nattest.peers.aiortc.turn import turn_preflight
from nattest.services.urls import turn_url
from tests.fixtures.fake_turn import NONCE, PASSWORD, REALM, USER, FakeTurn
from tests.fixtures.fake_turn import tcp_server as _tcp_server
from tests.fixtures.fake_turn import udp_server as _udp_server


@pytest.fixture
async def udp_turn(request: pytest.FixtureRequest) -> AsyncIterator[tuple[FakeTurn, int]]:
    """A FakeTurn on a UDP port of 127.0.0.1, configured by `@pytest.mark.parametrize(...,
    indirect=True)` keyword arguments (default: challenge, then success)."""
    kwargs: dict[str, Any] = getattr(request, "param", {})
    turn = FakeTurn(**kwargs)
    transport, port = await _udp_server(turn)
    try:
        yield turn, port
    finally:
        transport.close()
        turn.close()


def _url(port: int, transport: str = "udp") -> str:
    return str(turn_url("127.0.0.1", transport, port=port))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- success


async def test_ok_and_the_allocation_is_released(udp_turn: tuple[FakeTurn, int]) -> None:
    """Right credentials: `ok`, after a 401 challenge and a signed retry; then released."""
    turn, port = udp_turn
    result = await turn_preflight(turn_url("127.0.0.1", "udp", port=port), USER, PASSWORD)
    assert result == "ok"
    first, second = turn.allocations()
    assert "USERNAME" not in first.attributes
    assert second.attributes["USERNAME"] == USER
    assert second.attributes["REALM"] == REALM
    assert second.attributes["NONCE"] == NONCE
    await asyncio.wait_for(turn.released.wait(), 1.0)  # Refresh LIFETIME=0 right away


async def test_ok_over_tcp() -> None:
    """The same allocation over TCP."""
    turn = FakeTurn()
    server, port = await _tcp_server(turn)
    try:
        result = await turn_preflight(turn_url("127.0.0.1", "tcp", port=port), USER, PASSWORD)
        assert result == "ok"
        assert len(turn.allocations()) == 2
        await asyncio.wait_for(turn.released.wait(), 1.0)
    finally:
        server.close()
        turn.close()
        await server.wait_closed()


# --------------------------------------------------------------------------- TURN errors


@pytest.mark.parametrize(
    "udp_turn",
    [
        {"error": (441, "Wrong Credentials")},
        {"error": (486, "Allocation Quota Reached")},
        {"error": (403, "Forbidden")},
    ],
    indirect=True,
    ids=["441", "486", "403"],
)
async def test_error_after_authentication(udp_turn: tuple[FakeTurn, int]) -> None:
    """The authenticated Allocate is refused: code, reason and URL, in that form."""
    turn, port = udp_turn
    assert turn.error is not None
    code, reason = turn.error
    result = await turn_preflight(turn_url("127.0.0.1", "udp", port=port), USER, PASSWORD)
    assert result == f"TURN allocate failed: {code} {reason} ({_url(port)})"
    assert len(turn.allocations()) == 2  # challenge, then the authenticated retry
    assert PASSWORD not in result


@pytest.mark.parametrize(
    "udp_turn", [{"challenge": False, "error": (486, "Allocation Quota Reached")}], indirect=True
)
async def test_quota_reached_without_challenge(udp_turn: tuple[FakeTurn, int]) -> None:
    """A server that refuses the first Allocate outright (no 401): one request, its code."""
    turn, port = udp_turn
    result = await turn_preflight(turn_url("127.0.0.1", "udp", port=port), USER, PASSWORD)
    assert result == f"TURN allocate failed: 486 Allocation Quota Reached ({_url(port)})"
    assert len(turn.allocations()) == 1
    assert PASSWORD not in result


@pytest.mark.parametrize("udp_turn", [{"password": "the-right-one"}], indirect=True)
async def test_wrong_password_is_401(udp_turn: tuple[FakeTurn, int]) -> None:
    """A wrong password is challenged again (401, as coturn answers): reported as such."""
    turn, port = udp_turn
    result = await turn_preflight(turn_url("127.0.0.1", "udp", port=port), USER, PASSWORD)
    assert result == f"TURN allocate failed: 401 Unauthorized ({_url(port)})"
    assert len(turn.allocations()) == 2  # aioice retries once, then gives up
    assert PASSWORD not in result
    assert "the-right-one" not in result


async def test_no_credentials_is_401(udp_turn: tuple[FakeTurn, int]) -> None:
    """Without username/password aioice cannot answer the challenge: 401 at once."""
    turn, port = udp_turn
    result = await turn_preflight(turn_url("127.0.0.1", "udp", port=port), None, None)
    assert result == f"TURN allocate failed: 401 Unauthorized ({_url(port)})"
    assert len(turn.allocations()) == 1


async def test_error_over_tcp() -> None:
    """An error over TCP names the tcp URL."""
    turn = FakeTurn(error=(486, "Allocation Quota Reached"))
    server, port = await _tcp_server(turn)
    try:
        result = await turn_preflight(turn_url("127.0.0.1", "tcp", port=port), USER, PASSWORD)
    finally:
        server.close()
        turn.close()
        await server.wait_closed()
    assert result == (
        f"TURN allocate failed: 486 Allocation Quota Reached (turn:127.0.0.1:{port}?transport=tcp)"
    )
    assert PASSWORD not in result


@pytest.mark.parametrize(
    "udp_turn", [{"error": (441, "Wrong Credentials"), "sign": False}], indirect=True
)
async def test_unsigned_error_after_authentication_is_no_answer(
    udp_turn: tuple[FakeTurn, int],
) -> None:
    """aioice drops an unsigned error to an authenticated request (RFC 8489 9.2.5), so
    such a server looks silent: the preflight reports no answer (it keeps retrying)."""
    turn, port = udp_turn
    result = await turn_preflight(
        turn_url("127.0.0.1", "udp", port=port), USER, PASSWORD, timeout=0.5
    )
    assert result == f"TURN allocate failed: no answer within 0.5 s ({_url(port)})"
    assert len(turn.allocations()) >= 2


# --------------------------------------------------------------------------- network errors


async def test_no_answer_within_the_timeout(silent_udp_port: int) -> None:
    """Nothing answers: `no answer within <timeout> s` and the URL."""
    url = turn_url("127.0.0.1", "udp", port=silent_udp_port)
    result = await turn_preflight(url, USER, PASSWORD, timeout=0.5)
    assert result == f"TURN allocate failed: no answer within 0.5 s ({_url(silent_udp_port)})"
    assert PASSWORD not in result


async def test_tcp_connection_refused_names_the_url(closed_tcp_port: int) -> None:
    """TCP to a closed port fails at once with a message naming the URL."""
    url = turn_url("127.0.0.1", "tcp", port=closed_tcp_port)
    result = await turn_preflight(url, USER, PASSWORD, timeout=1.0)
    assert result.startswith("TURN allocate failed: ")
    assert result.endswith(f"(turn:127.0.0.1:{closed_tcp_port}?transport=tcp)")
    assert "no answer" not in result
    assert PASSWORD not in result


async def test_tcp_connection_refused_says_refused(closed_tcp_port: int) -> None:
    """The message says what failed in network words: the connection was refused."""
    url = turn_url("127.0.0.1", "tcp", port=closed_tcp_port)
    result = await turn_preflight(url, USER, PASSWORD, timeout=1.0)
    assert "connection refused" in result.lower(), result
    assert "Connect call failed" not in result  # asyncio's wording, not network words


async def test_tls_to_a_server_that_does_not_speak_tls() -> None:
    """turns: to a plain TCP service: the TLS handshake failure, and the turns: URL."""

    async def not_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(not_tls, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        url = turn_url("127.0.0.1", "tls", tls_port=port)
        result = await turn_preflight(url, USER, PASSWORD, timeout=1.0)
    finally:
        server.close()
        await server.wait_closed()
    assert result.startswith("TURN allocate failed: TLS handshake: ")
    assert result.endswith(f"(turns:127.0.0.1:{port}?transport=tcp)")
    assert PASSWORD not in result
