"""Run one real call between two peers of a running lab and return its CallResult.

Each peer is its own process (`python -m nattest.peer`) started inside its node, because
aioice gathers the interfaces of the namespace it runs in. They meet on the lab's
signaling server, use the lab's STUN and TURN servers, and write PeerResult JSON files
that are merged here. The TURN password reaches them through the environment only.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from nattest.backends.base import Lab
from nattest.backends.netns import python_argv
from nattest.errors import LabError, UsageError
from nattest.lab import LabServices
from nattest.nat import Firewall
from nattest.peer import merge_call
from nattest.result import CallResult, PeerResult, Policy, Transport
from nattest.topology import Topology

SLACK = 30.0
"""Seconds a peer may take beyond connect timeout + duration (start-up, teardown)."""


@dataclass(frozen=True)
class CallSpec:
    """How to run a call."""

    policy: Policy = "all"
    """iceTransportPolicy of both peers."""
    turn_transport: Transport = "udp"
    """Transport to the TURN server (udp, tcp, tls)."""
    peer_transports: dict[str, Transport] = field(default_factory=dict)
    """Per-peer override of `turn_transport` (a UDP-blocked peer needs tcp or tls)."""
    stun: bool = True
    """Give the peers the lab's STUN server."""
    turn: bool = True
    """Give the peers the lab's TURN server."""
    duration: float = 2.0
    """Seconds of media after connecting."""
    connect_timeout: float = 10.0
    """Seconds ICE + DTLS may take before the peer reports failure."""
    video_size: str | None = None
    """`WxH` of the synthetic video (peer default 640x480)."""

    def transport_for(self, peer: str) -> Transport:
        """The TURN transport of one peer."""
        return self.peer_transports.get(peer, self.turn_transport)


def tcp_turn_overrides(topology: Topology, transport: Transport = "udp") -> dict[str, Transport]:
    """Peers that must reach TURN over TCP: behind a firewall that drops UDP, when the
    call would otherwise use TURN over UDP."""
    if transport != "udp":
        return {}
    out: dict[str, Transport] = {}
    for host, spec in topology.hosts.items():
        walls = [spec.firewall, *(topology.nats[n].firewall for n in topology.behind(host))]
        if any(w in (Firewall.UDP_BLOCKED, Firewall.TCP_443_ONLY) for w in walls):
            out[host] = "tcp"
    return out


def _peer_argv(
    lab: Lab, services: LabServices, spec: CallSpec, name: str, role: str, room: str, out: Path
) -> tuple[list[str], dict[str, str]]:
    if not services.signaling_url:
        raise UsageError(f"lab {lab.name}: no signaling server (a server with `signaling`)")
    args = [
        "--name",
        name,
        "--role",
        role,
        "--signaling",
        services.signaling_url,
        "--room",
        room,
        "--policy",
        spec.policy,
        "--duration",
        str(spec.duration),
        "--connect-timeout",
        str(spec.connect_timeout),
        "--result",
        str(out),
    ]
    env = dict(os.environ)
    if spec.stun and services.turn_address:
        args += ["--stun", services.stun_url()]
    if spec.turn and services.turn_address:
        transport = spec.transport_for(name)
        user, password = services.turn_credentials(name)
        args += ["--turn", services.turn_url(transport), "--turn-username", user]
        if transport == "tls" and services.turn_cert:
            env["SSL_CERT_FILE"] = services.turn_cert  # trust the lab's own certificate
        env["NATTEST_TURN_CREDENTIAL"] = password
    elif spec.policy == "relay":
        raise UsageError("policy relay needs a TURN server")
    if spec.video_size:
        args += ["--video-size", spec.video_size]
    return python_argv("nattest.peer", *args), env


def run_call(
    lab: Lab, spec: CallSpec | None = None, caller: str | None = None, callee: str | None = None
) -> CallResult:
    """Run a call from `caller` to `callee` (default: the topology's peers)."""
    spec = spec or CallSpec()
    default_caller, default_callee = lab.topology.call_peers()
    caller, callee = caller or default_caller, callee or default_callee
    for name in (caller, callee):
        if name not in lab.topology.hosts:
            raise UsageError(
                f"no host {name!r} in {lab.topology.name} (hosts: {', '.join(lab.topology.hosts)})"
            )
    services = LabServices.load(lab.workdir)
    room = uuid.uuid4().hex[:8]
    folder = lab.workdir / "calls" / room
    folder.mkdir(parents=True)
    if caller == callee:
        raise UsageError(f"caller and callee are both {caller!r}: a call needs two hosts")
    roles = {"callee": callee, "caller": caller}  # the callee joins the room first
    procs: list[subprocess.Popen[bytes]] = []
    deadline = time.monotonic() + spec.connect_timeout + spec.duration + SLACK
    try:
        for role, name in roles.items():
            argv, env = _peer_argv(lab, services, spec, name, role, room, folder / f"{name}.json")
            with (folder / f"{name}.log").open("wb") as log:
                procs.append(lab.spawn(name, argv, stdout=log, stderr=log, env=env))
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    results = {role: _read_result(name, role, folder, spec) for role, name in roles.items()}
    return merge_call(
        lab.topology.name,
        results["caller"],
        results["callee"],
        policy=spec.policy,
        turn_transport=spec.transport_for(caller),
        lab_setup=lab.timings.get("network"),
    )


def _read_result(name: str, role: str, folder: Path, spec: CallSpec) -> PeerResult:
    """The peer's result; a failed one (with its log tail) when it wrote none."""
    try:
        return PeerResult.model_validate(json.loads((folder / f"{name}.json").read_text()))
    except (OSError, ValueError):
        log = folder / f"{name}.log"
        tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
        reason = f"peer agent wrote no result; log tail: {' | '.join(tail) or '(empty)'}"
        return PeerResult(name=name, role=role, policy=spec.policy, outcome="failed", reason=reason)  # type: ignore[arg-type]


def save_call(call: CallResult, path: Path) -> None:
    """Write a CallResult as JSON (webrtc-internals names)."""
    try:
        path.write_text(call.to_json())
    except OSError as e:
        raise LabError(f"cannot write {path}: {e.strerror}") from e
