"""``python -m nattest.peers.aiortc``: run one peer of a lab call and write its PeerResult JSON.

Exit status 0 when the call connected and media flowed both ways (audio and video frames
decoded, every data-channel message echoed intact), 1 otherwise, 2 on bad arguments. The
result file is always written (atomically), even on failure; a watchdog guarantees the
process ends even if aiortc hangs on teardown. The TURN password comes from the
environment variable NATTEST_TURN_CREDENTIAL, never from argv. NATTEST_DEBUG=1: debug logs.
"""

from __future__ import annotations

import argparse
import logging
import os

from nattest.call.result import PeerResult
from nattest.peers.agent_cli import (
    failed,
    parse_args,
    run_agent,
    setup_logging,
    write_result,
)
from nattest.peers.aiortc.config import PeerConfig
from nattest.peers.base import CREDENTIAL_ENV
from nattest.services.urls import parse_stun_url, parse_turn_url

WARM_IMPORTS = ("nattest.peers.aiortc.agent",)
"""What ``main`` imports late; a warm start has it imported already (``zygote``)."""
LOGGER = "nattest.peers.aiortc"


def _options(p: argparse.ArgumentParser) -> None:
    """aiortc's own options."""
    p.add_argument(
        "--turn-insecure", action="store_true", help="turns: do not verify the server certificate"
    )
    p.add_argument(
        "--no-turn-preflight",
        action="store_true",
        help="skip the TURN allocation made before the call",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args("python -m nattest.peers.aiortc", __doc__, argv, _options)
    setup_logging(("aiortc", "aioice", "websockets"))
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
        write_result(args.result, failed(args, str(exc), "aiortc"))
        return 1
    if cfg.turn is not None and cfg.turn_credential is None:
        logging.getLogger(LOGGER).warning(
            "[%s] --turn given but %s is not set: TURN will refuse the allocation",
            cfg.name,
            CREDENTIAL_ENV,
        )

    from nattest.peers.aiortc.agent import PeerAgent  # aiortc import deferred: fast --help

    async def go() -> PeerResult:  # the agent is made inside the event loop
        return await PeerAgent(cfg).run()

    return run_agent(args, go, cfg.connect_timeout + cfg.duration, LOGGER, "aiortc")


if __name__ == "__main__":
    raise SystemExit(main())
