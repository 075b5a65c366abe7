"""Start a lab's services where its topology puts them, readiness proven, no sleeps.

coturn (TURN + STUN, on every address of the node so RFC 5780 discovery works) and the
WebSocket signaling server. Their credentials are made per lab, kept in the lab's folder
(mode 600, ``LabServices``) and never printed or logged; the lab's record gets the URLs.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import time

from nattest.backends import records
from nattest.backends.base import Lab
from nattest.errors import LabError
from nattest.services import SIGNALING_MODULE
from nattest.services.coturn import TurnConfig, TurnServer
from nattest.services.credentials import TURN_USER, LabServices

SIGNALING_PORT = 8443
"""Port of the WebSocket signaling server."""
SIGNALING_DELAY = 0.05
"""One-way delay (s) of messages relayed by the signaling server. A real offer or answer
crosses the internet; delivered instantly, the answer reaches the caller before the
callee's own first checks have opened its NAT's filter, the caller's first direct check is
dropped, and aioice (first-success nomination, no re-check of an in-progress pair) then
often ends on a relayed pair: an artefact of a zero-latency lab (docs/matrix.md)."""


def start_services(lab: Lab) -> LabServices:
    """Start coturn and signaling where the topology puts them; readiness proven, no sleeps."""
    t = lab.topology
    services = LabServices()
    # Signaling is a Python process (a fork where the backend starts Python warm, else
    # ~0.1 s of imports): spawn it first, start coturn meanwhile, then wait for it.
    sig_node = t.server_with("signaling")
    sig_address = t.node_address(sig_node) if sig_node else None
    if sig_node is not None and sig_address is not None:
        args = ["--host", sig_address, "--port", str(SIGNALING_PORT)]
        with (lab.workdir / "signaling.log").open("ab") as log_file:
            lab.spawn_python(
                sig_node,
                SIGNALING_MODULE,
                [*args, "--delay", str(SIGNALING_DELAY)],
                log=log_file,
            )
        services = LabServices(signaling_url=f"ws://{sig_address}:{SIGNALING_PORT}")
    turn_node = t.server_with("turn")
    if turn_node is not None:
        server = t.servers[turn_node]
        addresses = [str(a) for a in server.addresses]
        rest = server.auth == "rest"
        cfg = TurnConfig(
            addresses=addresses,
            workdir=lab.workdir / "coturn" / turn_node,
            users={} if rest else {TURN_USER: secrets.token_hex(12)},
            rest_secret=secrets.token_hex(16) if rest else None,
            max_allocate_lifetime=server.allocation_lifetime,
        )
        TurnServer(cfg).start(lab, turn_node)
        services = LabServices(
            turn_address=addresses[0],
            turn_password=cfg.users.get(TURN_USER, ""),
            rest_secret=cfg.rest_secret or "",
            signaling_url=services.signaling_url,
            turn_cert=str(cfg.cert_path),
        )
    if sig_node is not None and sig_address is not None:
        wait_tcp(lab, sig_node, (sig_address, SIGNALING_PORT), what="signaling server")
    services.save(lab.workdir)
    rec = records.load(lab.name)
    rec.services = {
        k: v
        for k, v in {
            "turn": services.turn_url("udp") if services.turn_address else None,
            "turns": services.turn_url("tls") if services.turn_address else None,
            "signaling": services.signaling_url,
        }.items()
        if v
    }
    records.save(rec)
    return services


READY_TIMEOUT = 15.0
"""Seconds a service may take to accept connections: a ceiling, never waited out when it
starts (a cold Python in a container on a loaded 2-core machine took more than 5 s)."""


def wait_tcp(
    lab: Lab, node: str, addr: tuple[str, int], what: str, timeout: float = READY_TIMEOUT
) -> None:
    """Poll until a TCP connect to `addr` from inside `node` succeeds."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.closing(lab.socket(node, socket.AF_INET, socket.SOCK_STREAM)) as s:
            s.settimeout(0.2)
            try:
                s.connect(addr)
                return
            except OSError as e:
                if time.monotonic() > deadline:
                    raise LabError(
                        f"{what} on {node} ({addr[0]}:{addr[1]}) not accepting connections "
                        f"after {timeout} s: {e}; see {lab.workdir}"
                    ) from e
        time.sleep(0.005)


__all__ = ["SIGNALING_DELAY", "SIGNALING_MODULE", "SIGNALING_PORT", "start_services", "wait_tcp"]
