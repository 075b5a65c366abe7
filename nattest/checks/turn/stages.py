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

from nattest.checks.stun import stun_binding
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
    """ChannelBind (a permission too, RFC 8656 12) to `peer` on the next free channel, kept
    in aioice's own tables so its ``send_data`` uses it."""
    channel = proto.channel_number
    try:
        await asyncio.wait_for(proto.channel_bind(channel, peer), timeout)
    except stun.TransactionFailed as e:
        code, raw = error_text(e.response)
        failure: Failure = "permission" if code == 403 else "error-code"
        raise StageFailed(
            failure, f"channel to {peer[0]}:{peer[1]} refused: {raw}", code, raw
        ) from None
    except (TimeoutError, stun.TransactionTimeout):
        raise StageFailed("timeout", f"no answer to ChannelBind within {timeout:g} s") from None
    proto.channel_number = channel + 1
    proto.channel_to_peer[channel] = peer
    proto.peer_to_channel[peer] = channel
    proto.channel_refresh_at[channel] = time.time() + 300


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


async def from_outside(
    a: TurnProtocol, a_relayed: tuple[str, int], target: Target, opts: CheckOptions
) -> float | None:
    """Round trip in seconds between a plain UDP socket here (a peer outside the server)
    and the relay: its packet must reach the relay port from outside (what a firewall or a
    cloud security group in front of the relay range blocks), and the answer come back.
    None when UDP to the server does not work from here (then only two allocations test it)."""
    sock = socket.socket(
        socket.AF_INET6 if ":" in target.address else socket.AF_INET, socket.SOCK_DGRAM
    )
    try:
        try:
            mapped = await asyncio.to_thread(
                stun_binding, sock, (target.address, target.url.port), opts.timeout
            )
        except OSError:  # TimeoutError included: no UDP from here
            return None
        await _bind(a, mapped, opts.timeout)  # the permission for our address
        inbox = _Inbox()
        a.receiver = inbox
        payload = b"nattest-out-" + secrets.token_bytes(8)
        t0 = time.perf_counter()
        sock.sendto(payload, a_relayed)
        try:
            data, source = await asyncio.wait_for(inbox.queue.get(), opts.timeout)
        except TimeoutError:
            raise StageFailed(
                "no-data",
                f"a packet from outside ({mapped[0]}:{mapped[1]}) to the relayed address "
                f"{a_relayed[0]}:{a_relayed[1]} never reached the allocation within "
                f"{opts.timeout:g} s",
            ) from None
        await a.send_data(data, source)
        sock.settimeout(opts.timeout)
        try:
            echoed = await asyncio.to_thread(sock.recv, 2048)
        except TimeoutError:
            raise StageFailed(
                "no-data",
                f"data reached the relay from outside, but its answer from {a_relayed[0]}:"
                f"{a_relayed[1]} never came back within {opts.timeout:g} s",
            ) from None
        if echoed != payload:
            raise StageFailed("bad-response", "data came back altered")
        return time.perf_counter() - t0
    finally:
        sock.close()


async def relay_stage(
    a: TurnProtocol,
    a_relayed: tuple[str, int],
    target: Target,
    creds: Credentials,
    opts: CheckOptions,
) -> tuple[float, float | None]:
    """(RTT through two allocations, RTT with a peer outside the server or None)."""
    inner = await relay(a, a_relayed, target, creds, opts)
    return inner, await from_outside(a, a_relayed, target, opts)


def _relay_text(rtts: tuple[float, float | None]) -> str:
    inner, outside = rtts
    text = f"two allocations: channels both ways, data relayed, RTT {inner * 1000:.1f} ms"
    if outside is None:
        return text + "; no UDP from here to test a peer outside"
    return text + f"; a peer outside: RTT {outside * 1000:.1f} ms"


def record(
    check: TransportCheck,
    name: StepName,
    t0: float,
    error: StageFailed | None = None,
    detail: str = "",
) -> None:
    """Append the result of a stage that started at `t0` (perf_counter): its failure, or
    what it found."""
    seconds = round(time.perf_counter() - t0, 4)
    if error is None:
        check.steps.append(StepResult(step=name, ok=True, seconds=seconds, detail=detail))
        return
    check.steps.append(
        StepResult(
            step=name,
            ok=False,
            seconds=seconds,
            detail=error.detail,
            code=error.code,
            raw=error.raw,
            failure=error.failure,
        )
    )


async def _stage(check: TransportCheck, name: StepName, work: Any, describe: Any) -> Any:
    """Run one stage: time it, record it; re-raise StageFailed after recording."""
    t0 = time.perf_counter()
    try:
        value = await work
    except StageFailed as e:
        record(check, name, t0, e)
        raise
    record(check, name, t0, detail=describe(value))
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
        rtts = await _stage(
            check, "relay", relay_stage(proto, relayed, target, creds, opts), _relay_text
        )
        rtt = rtts[1] if rtts[1] is not None else rtts[0]
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


__all__ = ["check_target", "from_outside", "record", "relay", "relay_stage", "resolve"]
