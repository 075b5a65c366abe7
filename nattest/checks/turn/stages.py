"""One check, stage by stage: connect, binding, allocate, relay (``client`` does each
transaction), each timed and recorded; the first failure ends the check.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from typing import Any

from aioice import stun

from nattest.checks.turn.client import (
    CheckOptions,
    Credentials,
    Failure,
    StageFailed,
    Target,
    TurnProtocol,
    allocate,
    binding,
    error_text,
    open_client,
    release,
)
from nattest.checks.turn.model import StepName, StepResult, TransportCheck


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait((data, addr))


async def _bind(proto: TurnProtocol, peer: tuple[str, int], timeout: float) -> None:
    try:
        await asyncio.wait_for(proto.channel_bind(0x4000, peer), timeout)
    except stun.TransactionFailed as e:
        code, raw = error_text(e.response)
        failure: Failure = "permission" if code == 403 else "error-code"
        raise StageFailed(
            failure, f"channel to {peer[0]}:{peer[1]} refused: {raw}", code, raw
        ) from None
    except (TimeoutError, stun.TransactionTimeout):
        raise StageFailed("timeout", f"no answer to ChannelBind within {timeout:g} s") from None
    proto.channel_to_peer[0x4000] = peer
    proto.peer_to_channel[peer] = 0x4000
    proto.channel_refresh_at[0x4000] = time.time() + 300


async def relay(
    a: TurnProtocol,
    a_relayed: tuple[str, int],
    target: Target,
    creds: Credentials,
    opts: CheckOptions,
) -> float:
    """Round trip in seconds, A → relay → B → relay → A, through a second allocation B."""
    b, _ = await open_client(target, creds, opts)
    try:
        b_response = await allocate(b, creds, opts)
        b_relayed = b_response.attributes["XOR-RELAYED-ADDRESS"]
        await _bind(a, b_relayed, opts.timeout)
        await _bind(b, a_relayed, opts.timeout)
        inbox_a, inbox_b = _Inbox(), _Inbox()
        a.receiver, b.receiver = inbox_a, inbox_b
        payload = b"nattest-" + secrets.token_bytes(8)
        t0 = time.perf_counter()
        await a.send_data(payload, b_relayed)
        try:
            data, _ = await asyncio.wait_for(inbox_b.queue.get(), opts.timeout)
            await b.send_data(data, a_relayed)
            echoed, _ = await asyncio.wait_for(inbox_a.queue.get(), opts.timeout)
        except TimeoutError:
            raise StageFailed(
                "no-data",
                f"channels bound, but no data came through the relay within {opts.timeout:g} s "
                f"({a_relayed[0]}:{a_relayed[1]} ↔ {b_relayed[0]}:{b_relayed[1]})",
            ) from None
        rtt = time.perf_counter() - t0
        if echoed != payload:
            raise StageFailed("bad-response", "data came back altered")
        return rtt
    finally:
        await release(b)


async def _stage(check: TransportCheck, name: StepName, work: Any, describe: Any) -> Any:
    """Run one stage: time it, record it; re-raise StageFailed after recording."""
    t0 = time.perf_counter()
    try:
        value = await work
    except StageFailed as e:
        check.steps.append(
            StepResult(
                step=name,
                ok=False,
                seconds=round(time.perf_counter() - t0, 4),
                detail=e.detail,
                code=e.code,
                raw=e.raw,
                failure=e.failure,
            )
        )
        raise
    detail = describe(value)
    check.steps.append(
        StepResult(step=name, ok=True, seconds=round(time.perf_counter() - t0, 4), detail=detail)
    )
    return value


async def check_target(target: Target, creds: Credentials, opts: CheckOptions) -> TransportCheck:
    """Run the stages for one target; never raises for a server's failure."""
    check = TransportCheck(
        url=target.label, transport=target.transport, server=f"{target.address}:{target.url.port}"
    )
    proto: TurnProtocol | None = None
    try:
        proto, _ = await _stage(check, "connect", open_client(target, creds, opts), lambda v: v[1])
        mapped = await _stage(
            check, "binding", binding(proto, opts), lambda m: f"mapped {m[0]}:{m[1]}"
        )
        check.mapped = f"{mapped[0]}:{mapped[1]}"
        response = await _stage(
            check,
            "allocate",
            allocate(proto, creds, opts),
            _allocation_text,
        )
        relayed = response.attributes["XOR-RELAYED-ADDRESS"]
        check.relayed = f"{relayed[0]}:{relayed[1]}"
        check.lifetime = response.attributes.get("LIFETIME")
        rtt = await _stage(
            check,
            "relay",
            relay(proto, relayed, target, creds, opts),
            lambda s: f"permission and channel both ways, data relayed, RTT {s * 1000:.1f} ms",
        )
        check.rtt_ms = round(rtt * 1000, 2)
    except StageFailed:
        pass
    finally:
        if proto is not None:
            await release(proto)
    return check


def _allocation_text(response: stun.Message) -> str:
    host, port = response.attributes["XOR-RELAYED-ADDRESS"]
    return f"relayed {host}:{port}, lifetime {response.attributes.get('LIFETIME')} s"


def resolve(host: str, pins: dict[str, str]) -> str:
    """The IP of `host`: itself when a literal, a `--resolve` pin, else the system resolver.
    StageFailed('dns') when it does not resolve."""
    bare = host.strip("[]")
    if bare in pins:
        return pins[bare]
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in bare else socket.AF_INET, bare)
        return bare
    except OSError:
        pass
    try:
        infos = socket.getaddrinfo(bare, None, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise StageFailed("dns", f"cannot resolve {bare}: {e.strerror}") from None
    return str(infos[0][4][0])


__all__ = ["check_target", "relay", "resolve"]
