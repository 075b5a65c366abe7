"""Bring a topology up as a running lab, with its services, and always take it down.

    topo = load_topology("topologies/symmetric.yaml")   # touches nothing
    with open_lab(topo) as lab:                          # builds; tears down on any exit
        lab.exec("alice", ["ip", "addr"])

Services run on the topology's server nodes: coturn (TURN + STUN, on every address of the
node so RFC 5780 discovery works) and the WebSocket signaling server. Their credentials are
made per lab, kept in the lab's folder (mode 600) and never printed or logged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import secrets
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from nattest import registry
from nattest.backends.base import Lab
from nattest.backends.netns import NetnsLab, python_argv
from nattest.errors import LabError, UsageError
from nattest.topology import Topology

log = logging.getLogger("nattest.lab")

SIGNALING_PORT = 8443
"""Port of the WebSocket signaling server."""
SIGNALING_DELAY = 0.05
"""One-way delay (s) of messages relayed by the signaling server. A real offer or answer
crosses the internet; delivered instantly, the answer reaches the caller before the
callee's own first checks have opened its NAT's filter, the caller's first direct check is
dropped, and aioice (first-success nomination, no re-check of an in-progress pair) then
often ends on a relayed pair: an artefact of a zero-latency lab (docs/matrix.md)."""
TURN_USER = "nattest"
"""Long-term credential username of every lab's coturn."""


@dataclass(frozen=True)
class LabServices:
    """How to reach a lab's services. `turn_password`/`rest_secret` are secrets: never print."""

    turn_address: str | None = None
    """First public address of the TURN node."""
    turn_port: int = 3478
    """TURN/STUN UDP and TCP port."""
    turns_port: int = 5349
    """TURN over TLS port."""
    turn_user: str = TURN_USER
    """Long-term credential username."""
    turn_password: str = ""
    """Long-term credential password (secret)."""
    rest_secret: str = ""
    """TURN REST API shared secret (secret); set when the TURN node uses `auth: rest`."""
    signaling_url: str | None = None
    """ws://address:port of the signaling server."""
    turn_cert: str = ""
    """The TURN node's self-signed certificate: what a `turns:` client must trust."""

    def turn_credentials(self, user: str = "peer") -> tuple[str, str]:
        """(username, password) for a client: static, or REST time-limited (RFC-less
        coturn convention `expiry:user`, HMAC-SHA1 of the secret)."""
        if self.rest_secret:
            from nattest.services.coturn import rest_credentials

            return rest_credentials(self.rest_secret, user)
        return self.turn_user, self.turn_password

    def turn_url(self, transport: str = "udp") -> str:
        """`turn:203.0.113.2:3478?transport=udp`, or `turns:...:5349?transport=tcp` for tls."""
        if transport == "tls":
            return f"turns:{self.turn_address}:{self.turns_port}?transport=tcp"
        return f"turn:{self.turn_address}:{self.turn_port}?transport={transport}"

    def stun_url(self) -> str:
        """`stun:203.0.113.2:3478`."""
        return f"stun:{self.turn_address}:{self.turn_port}"

    def save(self, workdir: Path) -> None:
        """Write to the lab folder, readable by root only."""
        path = workdir / "services.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def load(cls, workdir: Path) -> LabServices:
        """Read what `save` wrote (an empty LabServices when the lab has none)."""
        try:
            return cls(**json.loads((workdir / "services.json").read_text()))
        except FileNotFoundError:
            return cls()


def default_lab_name(topology: Topology) -> str:
    """A unique, short lab name derived from the topology (`symmetric-3fa2`)."""
    return f"{topology.name[:11].rstrip('-')}-{uuid.uuid4().hex[:4]}"


def start_services(lab: Lab) -> LabServices:
    """Start coturn and signaling where the topology puts them; readiness proven, no sleeps."""
    from nattest.services.coturn import TurnConfig, TurnServer

    t = lab.topology
    services = LabServices()
    # Signaling is a Python process (~0.1 s to start): spawn it first, start coturn
    # while it imports, then wait for it.
    sig_node = t.server_with("signaling")
    sig_address = t.node_address(sig_node) if sig_node else None
    if sig_node is not None and sig_address is not None:
        with (lab.workdir / "signaling.log").open("ab") as log_file:
            lab.spawn(
                sig_node,
                python_argv(
                    "nattest.signaling",
                    "--host",
                    sig_address,
                    "--port",
                    str(SIGNALING_PORT),
                    "--delay",
                    str(SIGNALING_DELAY),
                ),
                stdout=log_file,
                stderr=log_file,
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
    rec = registry.load(lab.name)
    rec.services = {
        k: v
        for k, v in {
            "turn": services.turn_url("udp") if services.turn_address else None,
            "turns": services.turn_url("tls") if services.turn_address else None,
            "signaling": services.signaling_url,
        }.items()
        if v
    }
    registry.save(rec)
    return services


def wait_tcp(lab: Lab, node: str, addr: tuple[str, int], what: str, timeout: float = 5.0) -> None:
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


def build_lab(
    topology: Topology,
    name: str | None = None,
    *,
    services: bool = True,
    backend: str = "netns",
    source: str = "",
) -> Lab:
    """Build a lab and start its services; on failure nothing is left. Caller must down()."""
    if backend != "netns":
        raise UsageError(f"backend {backend!r} is not available (available: netns)")
    lab = NetnsLab.up(topology, name or default_lab_name(topology), source=source)
    try:
        if services:
            t0 = time.perf_counter()
            start_services(lab)
            lab.timings["services"] = time.perf_counter() - t0
    except BaseException:
        lab.down()
        raise
    return lab


@contextlib.contextmanager
def open_lab(
    topology: Topology,
    name: str | None = None,
    *,
    services: bool = True,
    backend: str = "netns",
    keep: bool = False,
    source: str = "",
) -> Iterator[Lab]:
    """Build a lab for the body; tear it down afterwards (unless `keep`), also on Ctrl-C."""
    with terminate_as_interrupt():
        lab = build_lab(topology, name, services=services, backend=backend, source=source)
        try:
            yield lab
        finally:
            if not keep:
                lab.down()


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so `finally` blocks tear labs down."""

    def raise_interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    try:
        old = {s: signal.signal(s, raise_interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
