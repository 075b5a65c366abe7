"""What every peer agent's command line shares: its arguments, its one result file, its
watchdog and its logs. The host side builds the argv with ``base.agent_arguments``; each
kind's ``__main__`` parses it here and adds its own options.

The TURN password is never an argument: it comes in the environment variable
``base.CREDENTIAL_ENV``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from nattest.call.result import PeerResult
from nattest.peers.base import CAPABILITIES

WATCHDOG_MARGIN = 40.0
"""Seconds beyond the agent's own limits before the watchdog ends the process."""

_write_lock = threading.Lock()
_written = False


def write_result(path: Path, result: PeerResult) -> None:
    """Write the result once, atomically (tmp file + rename): the first call wins."""
    global _written
    with _write_lock:
        if _written:
            return
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(result.to_json() + "\n")
        tmp.replace(path)
        _written = True


def video_size(text: str) -> tuple[int, int]:
    """`WxH` as (w, h)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad video size '{text}', expected WxH") from None
    return w, h


def parse_args(
    prog: str,
    description: str | None,
    argv: list[str] | None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """The CLI contract used by the orchestrator (``base.agent_arguments``), plus the
    kind's own options added by `extra`."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--name", required=True, help="node name, e.g. alice")
    p.add_argument("--role", required=True, choices=("caller", "callee"))
    p.add_argument("--signaling", required=True, help="ws://IP:PORT")
    p.add_argument("--room", required=True)
    p.add_argument("--stun", help="stun:IP:PORT")
    p.add_argument("--turn", help="turn:IP:PORT?transport=udp|tcp or turns:IP:PORT?transport=tcp")
    p.add_argument("--turn-username")
    p.add_argument("--policy", choices=("all", "relay"), default="all")
    p.add_argument("--duration", type=float, default=2.0, help="seconds of media")
    p.add_argument("--connect-timeout", type=float, default=15.0)
    p.add_argument(
        "--video-size",
        type=video_size,
        default=(640, 480),
        help="WxH of the synthetic video (default 640x480)",
    )
    p.add_argument(
        "--video",
        choices=("pattern", "noise"),
        default="pattern",
        help="synthetic video: a moving bar, or noise (the sender's full bitrate)",
    )
    p.add_argument(
        "--clock-zero",
        type=float,
        help="CLOCK_MONOTONIC seconds of the call's start: timeline times count from it",
    )
    p.add_argument(
        "--peer-can",
        action="append",
        choices=CAPABILITIES,
        default=[],
        help="what the other side's kind can do (repeatable)",
    )
    p.add_argument("--result", required=True, type=Path, help="PeerResult JSON file")
    if extra is not None:
        extra(p)
    return p.parse_args(argv)


def failed(args: argparse.Namespace, reason: str, kind: str) -> PeerResult:
    """A failed PeerResult of this agent (a peer of kind `kind`)."""
    return PeerResult(
        name=args.name,
        role=args.role,
        kind=kind,
        policy=args.policy,
        outcome="failed",
        reason=reason,
    )


def start_watchdog(
    args: argparse.Namespace, seconds: float, logger: str, kind: str
) -> threading.Timer:
    """End the process after `seconds` with a failed result saying it hung (the result
    file must exist even when the stack hangs on teardown)."""

    def fire() -> None:
        logging.getLogger(logger).error(
            "[%s] watchdog: still running after %g s", args.name, seconds
        )
        write_result(
            args.result, failed(args, f"peer agent hung: killed after {seconds:g} s", kind)
        )
        os._exit(1)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def run_agent(
    args: argparse.Namespace,
    call: Callable[[], Coroutine[Any, Any, PeerResult]],
    limit: float,
    logger: str,
    kind: str,
) -> int:
    """Run one agent's call under the watchdog (`limit` + WATCHDOG_MARGIN seconds), write
    its result whatever happens, and give the exit status: 0 when it connected and media
    flowed both ways, else 1."""
    timer = start_watchdog(args, limit + WATCHDOG_MARGIN, logger, kind)
    try:
        result = asyncio.run(call())
    except Exception as exc:  # the result file must always be written
        result = failed(args, f"internal error: {type(exc).__name__}: {exc}", kind)
    write_result(args.result, result)
    timer.cancel()
    return 0 if result.outcome == "connected" and result.media.ok else 1


def setup_logging(noisy: tuple[str, ...]) -> bool:
    """Logs to stderr (the peer's log file); NATTEST_DEBUG=1: debug, also of `noisy`."""
    debug = os.environ.get("NATTEST_DEBUG") == "1"
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(message)s",
    )
    for name in noisy:
        logging.getLogger(name).setLevel(logging.INFO if debug else logging.WARNING)
    return debug


__all__ = [
    "WATCHDOG_MARGIN",
    "failed",
    "parse_args",
    "run_agent",
    "setup_logging",
    "start_watchdog",
    "video_size",
    "write_result",
]
