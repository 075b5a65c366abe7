"""The aiortc peer kind: aiortc + aioice running one side of a call in a Python process.

Inside the node (one peer per process: aioice gathers the interfaces of the namespace it
runs in)::

    python -m nattest.peers.aiortc --name alice --role caller --signaling ws://IP:PORT \\
        --room r1 [--stun stun:IP:PORT] [--turn turn:IP:PORT?transport=udp] \\
        [--turn-username U] [--policy all|relay] --result alice.json

(the TURN password comes from ``NATTEST_TURN_CREDENTIAL``). Modules: ``agent`` (the call),
``config`` (what it is told), ``collect`` (aiortc objects → results), ``ice_adapter`` (the
only reader of aioice internals), ``media``, ``signal_client``, ``turn`` (TURN preflight).

This module is the host side, ``AiortcPeer``: it imports no aiortc.
"""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Any

from pydantic import ValidationError

from nattest.call.result import CandidatePair, PeerResult
from nattest.peers.aiortc.config import CREDENTIAL_ENV
from nattest.peers.base import PeerKind, PeerLaunch, exit_text, failed_result, log_tail

if TYPE_CHECKING:
    from nattest.backends.base import Lab, Process

MODULE = "nattest.peers.aiortc"
"""The module a node runs (``python -m``)."""


class AiortcPeer(PeerKind):
    """aiortc 1.16 / aioice 0.13, judged against aiortc's own expectations."""

    name = "aiortc"
    summary = "aiortc + aioice (Python), one process per peer"
    expectations = "aiortc"
    python_modules = (MODULE,)

    def command(self, lab: Lab, launch: PeerLaunch) -> tuple[list[str], dict[str, str]]:
        """The agent's argv (no secret in it) and its environment (the TURN password)."""
        args, env = self.arguments(launch)
        return lab.python_argv(launch.name, MODULE, *args), env

    def start(self, lab: Lab, launch: PeerLaunch, log: IO[Any]) -> Process:
        """Warm where the backend can (aiortc already imported): ``Lab.spawn_python``."""
        args, env = self.arguments(launch)
        return lab.spawn_python(launch.name, MODULE, args, log=log, env=env)

    def arguments(self, launch: PeerLaunch) -> tuple[list[str], dict[str, str]]:
        """The agent's arguments (no secret in them) and its environment."""
        args = [
            *("--name", launch.name, "--role", launch.role),
            *("--signaling", launch.signaling_url, "--room", launch.room),
            *("--policy", launch.policy, "--duration", str(launch.duration)),
            *(
                "--connect-timeout",
                str(launch.connect_timeout),
                "--result",
                str(launch.result_path),
            ),
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
        return args, env

    def read_result(self, launch: PeerLaunch, exit_code: int | None) -> PeerResult:
        """The agent's PeerResult JSON; a failed one saying what is wrong with it."""
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
        """`me`'s selected pair with the local candidate typed the way libwebrtc reports it.

        aioice keeps the host candidate as the local side of a pair even behind a NAT (the
        srflx candidate is pruned to its base, RFC 8445 6.1.2.4). libwebrtc instead adopts
        the mapped address of the check's response: the matching srflx candidate, or a new
        peer-reflexive one. The other peer's remote candidate *is* that mapped address.
        """
        pair = me.selected_pair
        if pair is None or other.selected_pair is None or pair.local.type == "relay":
            return pair
        seen = other.selected_pair.remote
        match = next(
            (c for c in me.local_candidates if (c.address, c.port) == (seen.address, seen.port)),
            None,
        )
        local = match or seen.model_copy(update={"type": "prflx", "url": None})
        return pair.model_copy(update={"local": local})


__all__ = ["MODULE", "AiortcPeer"]
