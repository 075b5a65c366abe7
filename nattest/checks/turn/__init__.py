"""`nattest check-turn`: validate a TURN deployment, a verdict per transport and the reason.

    report = check_turn(["turns:turn.example.com:5349"], user="u", password="p")
    report.ok, report.checks[0].diagnoses

For each URL and transport (``turn:`` → udp and tcp, ``turns:`` → tls; a URL's own
``?transport=`` pins it; ``transports`` narrows the set), in order and each timed: connect
(TCP/TLS handshake, certificate chain and name), STUN binding, allocate, relay (two
allocations exchange data through channels), then, unless ``call=False``, a relay-only call
between two aiortc peers. ``diagnose`` names the cause of a failure and its fix.

Modules: ``client`` (aioice's TURN client, one transaction at a time), ``stages`` (a check,
stage by stage), ``call``, ``diagnose``, ``model`` (the report as data). No secret is ever
part of a result: the report names the user, never the password or the shared secret.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import get_args

from nattest.call.result import Transport
from nattest.checks.turn.client import CheckOptions, Credentials, StageFailed, Target, tls_context
from nattest.checks.turn.diagnose import diagnose_check, diagnose_report
from nattest.checks.turn.model import TransportCheck, TurnReport
from nattest.checks.turn.stages import check_target, record, resolve
from nattest.errors import UsageError
from nattest.services.credentials import rest_credentials
from nattest.services.urls import IceServerUrl, parse_turn_url

REST_USER = "nattest-check"
"""User part of REST credentials made from --secret without --user."""
CALL_TIMEOUT = 8.0
"""Seconds for the relay-only call (TURN over TLS gathers slower)."""


def credentials(
    user: str | None, password: str | None, secret: str | None, ttl: int = 3600
) -> Credentials:
    """Long-term (user + password), REST (secret, optional user) or none; UsageError for a
    mix that cannot work."""
    if secret is not None:
        if password is not None:
            raise UsageError("give --password (long-term) or --secret (REST API), not both")
        username, pw = rest_credentials(secret, user or REST_USER, ttl)
        return Credentials(username, pw, "rest")
    if (user is None) != (password is None):
        raise UsageError("long-term credentials need both --user and --password")
    return Credentials(user, password, "long-term" if user is not None else "none")


def parse_pins(values: Sequence[str]) -> dict[str, str]:
    """`--resolve NAME:IP` values → {name: ip}; UsageError naming a bad one."""
    pins: dict[str, str] = {}
    for value in values:
        name, sep, ip = value.partition(":")
        if not sep or not name or not ip:
            raise UsageError(
                f"--resolve {value!r}: expected NAME:IP (e.g. turn.example.com:192.0.2.10)"
            )
        pins[name] = ip.strip("[]")
    return pins


def plan(
    urls: Sequence[str], transports: Sequence[str] | None
) -> list[tuple[IceServerUrl, Transport]]:
    """(URL, transport) pairs to check, in order; UsageError for a bad URL or transport."""
    wanted = list(transports) if transports else list(get_args(Transport))
    for t in wanted:
        if t not in get_args(Transport):
            raise UsageError(f"--transports: unknown transport {t!r} (expected udp, tcp, tls)")
    out: list[tuple[IceServerUrl, Transport]] = []
    for text in urls:
        try:
            url = parse_turn_url(text, names=True)
        except ValueError as e:
            raise UsageError(str(e)) from None
        pinned = "?transport=" in text
        if url.scheme == "turns":
            options: list[Transport] = ["tls"]
        elif pinned:
            options = [url.transport or "udp"]
        else:
            options = ["udp", "tcp"]
        out += [(url, t) for t in options if t in wanted]
    if not out:
        raise UsageError("nothing to check: no URL serves the transports asked for")
    return out


async def _one(
    url: IceServerUrl,
    transport: Transport,
    creds: Credentials,
    opts: CheckOptions,
    pins: dict[str, str],
) -> tuple[Target | None, TransportCheck]:
    """The stages before the call, for one URL and transport."""
    t0 = time.perf_counter()
    try:
        address = resolve(url.host, pins)
    except StageFailed as e:
        check = TransportCheck(url=Target(url, transport, url.host).label, transport=transport)
        record(check, "connect", t0, e)
        return None, check
    target = Target(url, transport, address)
    return target, await check_target(target, creds, opts)


async def _call(
    target: Target, check: TransportCheck, creds: Credentials, opts: CheckOptions
) -> None:
    """The call stage, recorded in `check`."""
    from nattest.checks.turn.call import relay_call

    tls = None
    if target.transport == "tls":
        tls = tls_context(opts)
        tls.check_hostname = False  # the call connects by IP; the name was checked above
    t0 = time.perf_counter()
    try:
        pair = await relay_call(target, creds, tls, CALL_TIMEOUT)
    except StageFailed as e:
        record(check, "call", t0, e)
        return
    check.selected_pair = pair
    record(check, "call", t0, detail=f"relay-only call: audio and data channel through {pair}")


async def run_checks(
    urls: Sequence[str],
    creds: Credentials,
    opts: CheckOptions,
    *,
    transports: Sequence[str] | None = None,
    pins: dict[str, str] | None = None,
    call: bool = True,
) -> TurnReport:
    """Check every URL and transport, one after the other (a server's quota counts every
    allocation), then the calls of those that work, together, and diagnose them."""
    started, t0 = datetime.now(UTC), time.perf_counter()
    done = [await _one(u, t, creds, opts, pins or {}) for u, t in plan(urls, transports)]
    if call:
        await asyncio.gather(*(_call(tg, c, creds, opts) for tg, c in done if tg and c.ok))
    checks = [check for _, check in done]
    for check in checks:
        check.diagnoses = diagnose_check(check, creds)
    return TurnReport(
        checks=checks,
        auth=creds.mode,
        username=creds.username,
        started=started,
        wall_time=round(time.perf_counter() - t0, 3),
        diagnoses=diagnose_report(checks),
    )


def check_turn(
    urls: Sequence[str],
    *,
    user: str | None = None,
    password: str | None = None,
    secret: str | None = None,
    transports: Sequence[str] | None = None,
    ca: str | None = None,
    insecure: bool = False,
    resolve_pins: Sequence[str] = (),
    timeout: float = 3.0,
    call: bool = True,
) -> TurnReport:
    """The whole check, synchronously (the CLI and the pytest fixture use this)."""
    creds = credentials(user, password, secret)
    opts = CheckOptions(timeout=timeout, ca=ca, insecure=insecure)
    pins = parse_pins(resolve_pins)
    return asyncio.run(run_checks(urls, creds, opts, transports=transports, pins=pins, call=call))


__all__ = ["check_turn", "credentials", "parse_pins", "plan", "run_checks"]
