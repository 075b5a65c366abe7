"""TURN preflight: one allocation (RFC 8656 7) before the call, to say *why* relay fails.

aioice gathering fails silently (a 401 just means no relay candidate). The preflight makes
the same allocation with aioice's public TURN client and reports ``ok`` or the error in
network words, e.g.
``TURN allocate failed: 401 Unauthorized (turn:203.0.113.10:3478?transport=udp)``.
The allocation is released right away. The password is never part of the message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl

from aioice import stun
from aioice.turn import create_turn_endpoint

from nattest.services.urls import IceServerUrl

log = logging.getLogger("nattest.peers.aiortc.turn")

PREFLIGHT_TIMEOUT = 5.0
"""Seconds before the preflight gives up (aioice's own gathering timeout is 5 s too)."""


async def turn_preflight(
    url: IceServerUrl,
    username: str | None,
    password: str | None,
    tls: ssl.SSLContext | None = None,
    timeout: float = PREFLIGHT_TIMEOUT,
) -> str:
    """Allocate once on ``url``; return ``ok`` or why it failed."""
    where = f"({url})"
    ssl_arg: bool | ssl.SSLContext = (tls or True) if url.scheme == "turns" else False
    try:
        transport, _ = await asyncio.wait_for(
            create_turn_endpoint(
                asyncio.DatagramProtocol,
                server_addr=(url.host, url.port),
                username=username,
                password=password,
                ssl=ssl_arg,
                transport=url.transport or "udp",
            ),
            timeout,
        )
    except stun.TransactionFailed as exc:
        code, reason = exc.response.attributes.get("ERROR-CODE", (0, "error"))
        return f"TURN allocate failed: {code} {reason} {where}"
    except (stun.TransactionTimeout, TimeoutError):
        return f"TURN allocate failed: no answer within {timeout:g} s {where}"
    except ssl.SSLError as exc:
        return f"TURN allocate failed: TLS handshake: {exc.reason or exc} {where}"
    except ConnectionRefusedError:
        return f"TURN allocate failed: connection refused (nothing listens on {url.port}) {where}"
    except OSError as exc:
        # asyncio's connect errors carry "Connect call failed (...)" as strerror: use errno
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return f"TURN allocate failed: {reason} {where}"
    transport.close()
    return "ok"
