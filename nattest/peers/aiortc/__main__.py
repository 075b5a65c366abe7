"""``python -m nattest.peers.aiortc``: run one peer of a lab call and write its PeerResult JSON.

Exit status 0 when the call connected and media flowed both ways (audio and video frames
decoded, every data-channel message echoed intact), 1 otherwise, 2 on bad arguments. The
result file is always written (atomically), even on failure; a watchdog guarantees the
process ends even if aiortc hangs on teardown. The TURN password comes from the
environment variable NATTEST_TURN_CREDENTIAL, never from argv. NATTEST_DEBUG=1: debug logs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
from pathlib import Path

from nattest.call.result import PeerResult
from nattest.peers.aiortc.config import CREDENTIAL_ENV, PeerConfig
from nattest.services.urls import parse_stun_url, parse_turn_url

WARM_IMPORTS = ("nattest.peers.aiortc.agent",)
"""What ``main`` imports late; a warm start has it imported already (``zygote``)."""
WATCHDOG_MARGIN = 40.0
"""Seconds beyond the agent's own limits before the watchdog ends the process."""

_write_lock = threading.Lock()
_written = False


def write_result(path: Path, result: PeerResult) -> None:
    """Write the result once, atomically (tmp file + rename)."""
    global _written
    with _write_lock:
        if _written:
            return
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(result.to_json() + "\n")
        tmp.replace(path)
        _written = True


def _video_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad video size '{text}', expected WxH") from None
    return w, h


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The CLI contract used by the orchestrator."""
    p = argparse.ArgumentParser(prog="python -m nattest.peers.aiortc", description=__doc__)
    p.add_argument("--name", required=True, help="node name, e.g. alice")
    p.add_argument("--role", required=True, choices=("caller", "callee"))
    p.add_argument("--signaling", required=True, help="ws://IP:PORT")
    p.add_argument("--room", required=True)
    p.add_argument("--stun", help="stun:IP:PORT")
    p.add_argument("--turn", help="turn:IP:PORT?transport=udp|tcp or turns:IP:PORT?transport=tcp")
    p.add_argument("--turn-username")
    p.add_argument(
        "--turn-insecure", action="store_true", help="turns: do not verify the server certificate"
    )
    p.add_argument(
        "--no-turn-preflight",
        action="store_true",
        help="skip the TURN allocation made before the call",
    )
    p.add_argument("--policy", choices=("all", "relay"), default="all")
    p.add_argument("--duration", type=float, default=2.0, help="seconds of media")
    p.add_argument("--connect-timeout", type=float, default=15.0)
    p.add_argument(
        "--video-size",
        type=_video_size,
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
    p.add_argument("--result", required=True, type=Path, help="PeerResult JSON file")
    return p.parse_args(argv)


def _failed(args: argparse.Namespace, reason: str) -> PeerResult:
    return PeerResult(
        name=args.name, role=args.role, policy=args.policy, outcome="failed", reason=reason
    )


def _watchdog(args: argparse.Namespace, seconds: float) -> threading.Timer:
    def fire() -> None:
        logging.getLogger("nattest.peers.aiortc").error(
            "[%s] watchdog: still running after %g s", args.name, seconds
        )
        write_result(args.result, _failed(args, f"peer agent hung: killed after {seconds:g} s"))
        os._exit(1)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    debug = os.environ.get("NATTEST_DEBUG") == "1"
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(message)s",
    )
    for noisy in ("aiortc", "aioice", "websockets"):
        logging.getLogger(noisy).setLevel(logging.INFO if debug else logging.WARNING)
    try:
        cfg = PeerConfig(
            name=args.name,
            role=args.role,
            signaling=args.signaling,
            room=args.room,
            stun=parse_stun_url(args.stun) if args.stun else None,
            turn=parse_turn_url(args.turn) if args.turn else None,
            turn_username=args.turn_username,
            turn_credential=os.environ.get(CREDENTIAL_ENV),
            turn_insecure=args.turn_insecure,
            turn_preflight=not args.no_turn_preflight,
            policy=args.policy,
            duration=args.duration,
            connect_timeout=args.connect_timeout,
            video_size=args.video_size,
            video=args.video,
            clock_zero=args.clock_zero,
        )
    except ValueError as exc:
        write_result(args.result, _failed(args, str(exc)))
        return 1
    if cfg.turn is not None and cfg.turn_credential is None:
        logging.getLogger("nattest.peers.aiortc").warning(
            "[%s] --turn given but %s is not set: TURN will refuse the allocation",
            cfg.name,
            CREDENTIAL_ENV,
        )

    from nattest.peers.aiortc.agent import PeerAgent  # aiortc import deferred: fast --help

    timer = _watchdog(args, cfg.connect_timeout + cfg.duration + WATCHDOG_MARGIN)

    async def go() -> PeerResult:
        return await PeerAgent(cfg).run()

    try:
        result = asyncio.run(go())
    except Exception as exc:  # the result file must always be written
        result = _failed(args, f"internal error: {type(exc).__name__}: {exc}")
    write_result(args.result, result)
    timer.cancel()
    ok = result.outcome == "connected" and result.media.ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
