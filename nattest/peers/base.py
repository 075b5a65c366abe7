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

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Literal

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

    @abstractmethod
    def read_result(self, launch: PeerLaunch, exit_code: int | None) -> PeerResult:
        """The PeerResult of a finished (or killed: `exit_code` None) peer. Never raises for
        a peer that failed: a missing or malformed result is a failed PeerResult whose
        reason says which, with the log tail."""

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


__all__ = ["PeerKind", "PeerLaunch", "exit_text", "failed_result", "log_tail"]
