"""The seam every peer kind plugs into: how one side of a call runs inside its node.

A ``PeerKind`` turns a ``PeerLaunch`` (what this peer must do: role, signaling room, ICE
servers, policy, where to write its result) into a command run inside the peer's node,
then turns what that command left behind into a ``PeerResult``. It also says how its
selected pair becomes the libwebrtc-typed pair a CallResult reports, and which expectation
table judges it in the matrix. Register one under the entry-point group ``nattest.peers``.

Secrets: ``PeerLaunch.turn_password`` must reach the peer through its environment only,
never argv (any user can read argv in /proc) and never a file other than the lab's.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import ValidationError

from nattest.call.result import CandidatePair, PeerResult, Policy, Role, Transport

if TYPE_CHECKING:
    from nattest.backends.base import Lab, Process


@dataclass(frozen=True)
class PeerLaunch:
    """What one peer of a call is told to do (pure data, built by ``nattest.call.run``)."""

    name: str
    """Node (host) name of the peer, also its signaling name (`alice`)."""
    role: Role
    """caller sends the offer; callee answers."""
    room: str
    """Signaling room of the call."""
    signaling_url: str
    """`ws://IP:PORT` of the lab's signaling server."""
    policy: Policy
    """iceTransportPolicy."""
    duration: float
    """Seconds of media after connecting."""
    connect_timeout: float
    """Seconds from start to connected before the peer reports failure."""
    result_path: Path
    """Where the peer writes its raw result (in the lab folder, visible inside the node)."""
    log_path: Path
    """Where its stdout and stderr go."""
    stun_url: str | None = None
    """`stun:IP:PORT`, or None for no STUN server."""
    turn_url: str | None = None
    """`turn:...`/`turns:...`, or None for no TURN server."""
    turn_transport: Transport | None = None
    """Transport of `turn_url` (udp, tcp, tls)."""
    turn_username: str | None = None
    """TURN username (static or REST `expiry:user`)."""
    turn_password: str = field(default="", repr=False)
    """TURN password: a secret. Environment only; never argv, logs or results."""
    turn_cert: str | None = None
    """PEM file of the certificate a `turns:` client must trust (the lab's own)."""
    video_size: str | None = None
    """`WxH` of the synthetic video, None for the kind's default."""
    video: Literal["pattern", "noise"] = "pattern"
    """Synthetic video content: `pattern` (a moving bar) or `noise` (incompressible, so
    the sender wants all the bitrate it may have)."""
    clock_zero: float | None = None
    """CLOCK_MONOTONIC seconds of the call's start: the peer times its timeline from it
    (``StateEvent.t``), the clock faults are scheduled on. None: from its own start."""
    peer_capabilities: frozenset[str] = frozenset()
    """What the other side's kind can do (``PeerKind.capabilities``): `trickle` (it takes
    candidates trickled in `ice` messages, so an SDP may go before gathering ends),
    `ice-restart` (it answers a new offer mid-call)."""


CREDENTIAL_ENV = "NATTEST_TURN_CREDENTIAL"
"""Environment variable that carries the TURN password to a peer agent."""
CAPABILITIES = ("trickle", "ice-restart")
"""Capabilities a kind may declare (``PeerKind.capabilities``)."""


def agent_arguments(launch: PeerLaunch) -> tuple[list[str], dict[str, str]]:
    """The arguments every nattest peer agent takes (``nattest.peers.agent_cli``), none
    secret, and its environment (the TURN password, the lab certificate to trust)."""
    args = [
        *("--name", launch.name, "--role", launch.role),
        *("--signaling", launch.signaling_url, "--room", launch.room),
        *("--policy", launch.policy, "--duration", str(launch.duration)),
        *("--connect-timeout", str(launch.connect_timeout), "--result", str(launch.result_path)),
    ]
    # the host's own values of these must never reach a peer that was not given them
    env = {k: v for k, v in os.environ.items() if k not in (CREDENTIAL_ENV, "SSL_CERT_FILE")}
    if launch.stun_url:
        args += ["--stun", launch.stun_url]
    if launch.turn_url:
        args += ["--turn", launch.turn_url, "--turn-username", launch.turn_username or ""]
        env[CREDENTIAL_ENV] = launch.turn_password
        if launch.turn_transport == "tls" and launch.turn_cert:
            env["SSL_CERT_FILE"] = launch.turn_cert  # trust the lab's own certificate
    if launch.video_size:
        args += ["--video-size", launch.video_size]
    if launch.video != "pattern":
        args += ["--video", launch.video]
    if launch.clock_zero is not None:
        args += ["--clock-zero", repr(launch.clock_zero)]
    for capability in sorted(launch.peer_capabilities):
        args += ["--peer-can", capability]
    return args, env


class PeerKind(ABC):
    """One WebRTC stack that can run a side of a call (registered in `nattest.peers`)."""

    name: ClassVar[str]
    """Name users pass to `--caller` / `--callee` (`aiortc`)."""
    summary: ClassVar[str]
    """One line for `--help` and errors."""
    expectations: ClassVar[str]
    """Name of the expectation table that judges this kind in the matrix
    (``nattest/data/expectations/<name>.yaml``)."""
    python_modules: ClassVar[tuple[str, ...]] = ()
    """nattest modules this kind starts with ``Lab.spawn_python`` (warmed before a call:
    ``Backend.warm``)."""
    capabilities: ClassVar[frozenset[str]] = frozenset()
    """What this kind can do for the other side (``CAPABILITIES``), told to it in
    ``PeerLaunch.peer_capabilities``."""
    matrix_jobs: ClassVar[int] = 12
    """Cells `nattest matrix` runs at once by default with this kind on a side (the
    smallest of the two kinds'): a call that mostly waits takes many, a browser few."""

    def check(self) -> None:
        """Raise UsageError saying what to install when this kind cannot run here."""
        return None  # usable everywhere unless a kind says otherwise

    @abstractmethod
    def command(self, lab: Lab, launch: PeerLaunch) -> tuple[list[str], dict[str, str]]:
        """(argv, environment) that run this peer inside `launch.name`'s node."""

    def start(self, lab: Lab, launch: PeerLaunch, log: IO[Any]) -> Process:
        """Start the peer inside its node, stdout and stderr to `log` (the default: run
        ``command`` with ``Lab.spawn``; a kind written in Python may start warm with
        ``Lab.spawn_python``)."""
        argv, env = self.command(lab, launch)
        return lab.spawn(launch.name, argv, stdout=log, stderr=log, env=env)

    def read_result(self, launch: PeerLaunch, exit_code: int | None) -> PeerResult:
        """The PeerResult of a finished (or killed: `exit_code` None) peer. Never raises for
        a peer that failed: a missing or malformed result is a failed PeerResult whose
        reason says which, with the log tail. (The default: the PeerResult JSON the agent
        wrote at ``launch.result_path``.)"""
        path, how = launch.result_path, exit_text(exit_code)
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            reason = f"peer agent wrote no result ({how}); log tail: {log_tail(launch.log_path)}"
            return failed_result(launch, self.name, reason)
        except OSError as e:
            return failed_result(launch, self.name, f"cannot read {path}: {e.strerror}")
        try:
            return PeerResult.model_validate_json(text)
        except ValidationError as e:
            first = e.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            reason = (
                f"peer agent wrote an invalid result {path} ({how}): {where}: {first['msg']}"
                f" ({e.error_count()} error(s)); log tail: {log_tail(launch.log_path)}"
            )
            return failed_result(launch, self.name, reason)

    def reported_pair(self, me: PeerResult, other: PeerResult) -> CandidatePair | None:
        """`me`'s selected pair typed as libwebrtc's getStats reports it (the default: as
        the peer reported it, for kinds that already speak libwebrtc)."""
        return me.selected_pair


def log_tail(path: Path, lines: int = 5) -> str:
    """The last lines of a peer's log joined with ` | ` (`(empty)` when there are none)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:]) or "(empty)"


class PythonAgentKind(PeerKind):
    """A kind whose agent is a nattest module taking every agent's command line
    (``agent_arguments`` → ``nattest.peers.agent_cli``), started warm where the backend can
    (``Lab.spawn_python``)."""

    module: ClassVar[str]
    """The module a node runs (``python -m``); also in ``python_modules``."""

    def command(self, lab: Lab, launch: PeerLaunch) -> tuple[list[str], dict[str, str]]:
        """The agent's argv (no secret in it) and its environment (the TURN password)."""
        args, env = agent_arguments(launch)
        return lab.python_argv(launch.name, self.module, *args), env

    def start(self, lab: Lab, launch: PeerLaunch, log: IO[Any]) -> Process:
        """``Lab.spawn_python`` of the module (warm: its imports already done)."""
        args, env = agent_arguments(launch)
        return lab.spawn_python(launch.name, self.module, args, log=log, env=env)


def failed_result(launch: PeerLaunch, kind: str, reason: str) -> PeerResult:
    """A PeerResult for a peer that produced none (or an unreadable one)."""
    return PeerResult(
        name=launch.name,
        role=launch.role,
        kind=kind,
        policy=launch.policy,
        outcome="failed",
        reason=reason,
    )


def exit_text(exit_code: int | None) -> str:
    """`exit code 1`, `killed by signal 9`, `killed at the call's deadline` (None)."""
    if exit_code is None:
        return "killed at the call's deadline"
    if exit_code < 0:
        return f"killed by signal {-exit_code}"
    return f"exit code {exit_code}"


__all__ = [
    "CAPABILITIES",
    "CREDENTIAL_ENV",
    "PeerKind",
    "PeerLaunch",
    "PythonAgentKind",
    "agent_arguments",
    "exit_text",
    "failed_result",
    "log_tail",
]
