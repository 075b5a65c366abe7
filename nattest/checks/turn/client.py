"""The TURN client side of a check: aioice's public TURN client protocols, driven one
transaction at a time so each failure is caught where it happens.

The stages (run by ``stages.check_target``), for one server address and transport:

1. **connect**: UDP needs none; TCP connects; TLS completes the handshake, verifying the
   chain (``--ca``, else the system store) and the name (SNI = the URL's host);
2. **binding**: a STUN Binding on that connection (RFC 8489): the mapped address;
3. **allocate**: an unauthenticated Allocate must draw 401 with REALM and NONCE (RFC 8656
   7.2, RFC 8489 9.2), then the signed one gets the relayed address and lifetime;
4. **relay**: a second allocation on a new connection; each binds a channel to the other's
   relayed address (a permission, RFC 8656 12) and data goes A → B → A through the relay.

A failure raises ``StageFailed`` with its raw error and a failure kind
(``StepResult.failure``) that ``diagnose`` turns into words. Secrets never enter one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

from aioice import stun
from aioice.turn import (
    TurnClientTcpProtocol,
    TurnClientUdpProtocol,
    make_integrity_key,
)

from nattest.call.result import Transport
from nattest.services.tls import insecure_client_context
from nattest.services.urls import IceServerUrl

REQUESTED_TRANSPORT_UDP = 0x11000000
"""REQUESTED-TRANSPORT value for UDP (RFC 8656 14.7)."""
LIFETIME = 600
"""Seconds of allocation asked for."""
ERROR_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    420: "Unknown Attribute",
    437: "Allocation Mismatch",
    438: "Stale Nonce",
    440: "Address Family not Supported",
    441: "Wrong Credentials",
    442: "Unsupported Transport Protocol",
    443: "Peer Address Family Mismatch",
    486: "Allocation Quota Reached",
    500: "Server Error",
    508: "Insufficient Capacity",
}
"""STUN/TURN error codes (RFC 8489 14.8, RFC 8656 19)."""

Failure = Literal[
    "dns",
    "refused",
    "timeout",
    "reset",
    "tls-untrusted",
    "tls-name",
    "tls-expired",
    "tls",
    "error-code",
    "no-challenge",
    "rejected-credentials",
    "bad-response",
    "permission",
    "no-data",
]


@dataclass(frozen=True)
class Credentials:
    """What authenticates the allocations (never printed)."""

    username: str | None = None
    """Long-term username, or the REST `expiry:user` one."""
    password: str | None = field(default=None, repr=False)
    """Long-term password, or the REST HMAC."""
    mode: Literal["long-term", "rest", "none"] = "none"
    """How they were given."""


@dataclass(frozen=True)
class Target:
    """One URL over one transport, at one resolved address."""

    url: IceServerUrl
    """The URL as given (its host may be a name)."""
    transport: Transport
    """udp, tcp or tls."""
    address: str
    """IP the host resolved to (or was pinned to)."""

    @property
    def server(self) -> tuple[str, int]:
        """(ip, port) to connect to."""
        return self.address, self.url.port

    @property
    def label(self) -> str:
        """The URL as checked, with this transport."""
        if self.transport == "tls":
            return f"turns:{self.url.host}:{self.url.port}?transport=tcp"
        return f"turn:{self.url.host}:{self.url.port}?transport={self.transport}"


@dataclass(frozen=True)
class CheckOptions:
    """How to check."""

    timeout: float = 3.0
    """Seconds per stage."""
    ca: str | None = None
    """PEM file of the CA (or certificate) to trust for TLS, instead of the system store."""
    insecure: bool = False
    """TLS: accept any certificate (the connect stage still reports what it was)."""


class StageFailed(Exception):
    """A stage failed: what to record."""

    def __init__(
        self, failure: Failure, detail: str, code: int | None = None, raw: str | None = None
    ) -> None:
        super().__init__(detail)
        self.failure: Failure = failure
        self.detail = detail
        self.code = code
        self.raw = raw


class _Udp(TurnClientUdpProtocol):
    """aioice's UDP client, remembering an ICMP port unreachable (down, not filtered)."""

    refused: Exception | None = None

    def error_received(self, exc: Exception) -> None:
        self.refused = exc


TurnProtocol = _Udp | TurnClientTcpProtocol


def error_text(response: stun.Message) -> tuple[int, str]:
    """(code, `code reason`) of an error response, the reason filled in from RFC names."""
    code, reason = response.attributes.get("ERROR-CODE", (0, ""))
    return code, f"{code} {reason or ERROR_NAMES.get(code, '')}".strip()


def tls_context(opts: CheckOptions) -> ssl.SSLContext:
    """The client context: `--insecure` accepts anything, else verify chain and name."""
    if opts.insecure:
        return insecure_client_context()
    return ssl.create_default_context(cafile=opts.ca)


def _tls_failure(exc: ssl.SSLError) -> StageFailed:
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        message = exc.verify_message or str(exc)
        failure: Failure = "tls"
        if code in (18, 19, 20, 21):
            failure = "tls-untrusted"
        elif code in (62, 64):  # hostname / IP address mismatch
            failure = "tls-name"
        elif code == 10:
            failure = "tls-expired"
        return StageFailed(failure, f"certificate refused: {message}", code, f"verify code {code}")
    return StageFailed("tls", f"TLS handshake failed: {exc.reason or exc}", raw=str(exc))


def _os_failure(exc: OSError, where: str) -> StageFailed:
    if isinstance(exc, ConnectionRefusedError):
        return StageFailed("refused", f"connection refused: nothing listens on {where}")
    if isinstance(exc, ConnectionResetError):
        return StageFailed("reset", f"connection reset by {where}")
    # no route, host unreachable, timed out: nothing answered (not "nothing listens")
    return StageFailed("timeout", exc.strerror or str(exc))


async def open_client(
    target: Target, creds: Credentials, opts: CheckOptions
) -> tuple[TurnProtocol, str]:
    """A connected aioice TURN client protocol, and what the connection was (for TLS: the
    version and the certificate's subject). StageFailed on any failure."""
    loop = asyncio.get_running_loop()
    where = f"{target.address}:{target.url.port}"
    args: dict[str, Any] = {
        "server": target.server,
        "username": creds.username,
        "password": creds.password,
        "lifetime": LIFETIME,
        "channel_refresh_time": 300,
    }
    try:
        if target.transport == "udp":
            _, udp = await loop.create_datagram_endpoint(
                lambda: _Udp(**args), remote_addr=target.server
            )
            return udp, "UDP (no handshake)"
        ssl_ctx = tls_context(opts) if target.transport == "tls" else None
        transport, tcp = await asyncio.wait_for(
            loop.create_connection(
                lambda: TurnClientTcpProtocol(**args),
                host=target.address,
                port=target.url.port,
                ssl=ssl_ctx,
                server_hostname=target.url.host.strip("[]") if ssl_ctx else None,
            ),
            opts.timeout,
        )
    except TimeoutError:
        raise StageFailed("timeout", f"no answer from {where} within {opts.timeout:g} s") from None
    except ssl.SSLError as e:
        raise _tls_failure(e) from None
    except OSError as e:
        raise _os_failure(e, where) from None
    if ssl_ctx is None:
        return tcp, "TCP connected"
    tls = transport.get_extra_info("ssl_object")
    cert = tls.getpeercert() if tls is not None and not opts.insecure else None
    subject = _subject(cert) if cert else "not verified (--insecure)"
    return tcp, f"{tls.version() if tls else 'TLS'}, certificate {subject}"


def _subject(cert: dict[str, Any]) -> str:
    names = [v for kind, v in cert.get("subjectAltName", ()) if kind in ("DNS", "IP Address")]
    return "for " + ", ".join(names) if names else "without subject names"


async def _request(
    proto: TurnProtocol, request: stun.Message, timeout: float, what: str
) -> stun.Message:
    """One transaction with a deadline; StageFailed naming the error code."""
    try:
        response, _ = await asyncio.wait_for(proto.request_with_retry(request), timeout)
    except stun.TransactionFailed as e:
        code, raw = error_text(e.response)
        raise StageFailed("error-code", f"{what} refused: {raw}", code, raw) from None
    except (TimeoutError, stun.TransactionTimeout):
        raise _no_answer(proto, what, timeout) from None
    except ConnectionError as e:
        raise StageFailed("reset", f"connection lost during the {what}: {e}") from None
    return response


def _no_answer(proto: TurnProtocol, what: str, timeout: float) -> StageFailed:
    """A timeout, unless the kernel saw an ICMP port unreachable (down, not filtered)."""
    if isinstance(proto, _Udp) and proto.refused is not None:
        return StageFailed(
            "refused", "port unreachable: nothing listens there (ICMP)", raw=str(proto.refused)
        )
    return StageFailed("timeout", f"no answer to the {what} within {timeout:g} s")


async def binding(proto: TurnProtocol, opts: CheckOptions) -> tuple[str, int]:
    """Our address as the server sees it (XOR-MAPPED-ADDRESS)."""
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    response = await _request(proto, request, opts.timeout, "STUN Binding")
    mapped = response.attributes.get("XOR-MAPPED-ADDRESS") or response.attributes.get(
        "MAPPED-ADDRESS"
    )
    if not mapped:
        raise StageFailed("bad-response", "the Binding answer has no mapped address")
    return str(mapped[0]), int(mapped[1])


def _allocate_request() -> stun.Message:
    request = stun.Message(message_method=stun.Method.ALLOCATE, message_class=stun.Class.REQUEST)
    request.attributes["LIFETIME"] = LIFETIME
    request.attributes["REQUESTED-TRANSPORT"] = REQUESTED_TRANSPORT_UDP
    return request


async def allocate(proto: TurnProtocol, creds: Credentials, opts: CheckOptions) -> stun.Message:
    """The allocation's success response. First unauthenticated: the 401 must carry REALM
    and NONCE; then signed with the long-term key (RFC 8489 9.2.2)."""
    try:
        first, _ = await asyncio.wait_for(proto.request(_allocate_request()), opts.timeout)
    except stun.TransactionFailed as e:
        challenge = e.response
    except (TimeoutError, stun.TransactionTimeout):
        raise _no_answer(proto, "Allocate", opts.timeout) from None
    except ConnectionError as e:
        raise StageFailed("reset", f"connection lost during the Allocate: {e}") from None
    else:
        return first  # a server without authentication
    code, raw = error_text(challenge)
    if code != 401:
        raise StageFailed("error-code", f"Allocate refused: {raw}", code, raw)
    missing = [a for a in ("REALM", "NONCE") if a not in challenge.attributes]
    if missing:
        raise StageFailed(
            "no-challenge",
            f"401 without {' and '.join(missing)}: the server does not offer long-term credentials",
            401,
            raw,
        )
    if creds.username is None or creds.password is None:
        raise StageFailed("rejected-credentials", "the server wants credentials: none given", 401)
    proto.realm = challenge.attributes["REALM"]
    proto.nonce = challenge.attributes["NONCE"]
    proto.integrity_key = make_integrity_key(creds.username, proto.realm, creds.password)
    try:
        return await _request(proto, _allocate_request(), opts.timeout, "Allocate")
    except StageFailed as e:
        if e.code in (401, 441):
            e.failure = "rejected-credentials"
            e.detail = f"credentials refused ({e.raw}) in realm '{proto.realm}'"
        raise


async def release(proto: TurnProtocol) -> None:
    """Delete the allocation (Refresh with lifetime 0) and close the connection."""
    with contextlib.suppress(Exception):
        request = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
        request.attributes["LIFETIME"] = 0
        await asyncio.wait_for(proto.request_with_retry(request), 1.0)
    with contextlib.suppress(Exception):
        proto.transport.close()


__all__ = [
    "ERROR_NAMES",
    "CheckOptions",
    "Credentials",
    "StageFailed",
    "Target",
    "TurnProtocol",
    "allocate",
    "binding",
    "error_text",
    "open_client",
    "release",
    "tls_context",
]
