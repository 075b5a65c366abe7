"""``python -m nattest.peers.chromium``: run one peer of a lab call in a headless Chromium
and write its PeerResult JSON.

Same command line, result file, exit status and watchdog as every nattest peer agent
(``nattest.peers.agent_cli``): 0 when the call connected and media flowed both ways, 1
otherwise, 2 on bad arguments. Chromium's own log goes to ``<name>-chromium.log`` next to
the result. The TURN password comes from NATTEST_TURN_CREDENTIAL, never from argv.
"""

from __future__ import annotations

from nattest.peers.agent_cli import parse_args, run_agent, setup_logging

WARM_IMPORTS = ("nattest.peers.chromium.agent",)
"""What ``main`` imports late; a warm start has it imported already (``zygote``)."""
LOGGER = "nattest.peers.chromium"


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args("python -m nattest.peers.chromium", __doc__, argv)
    setup_logging(("websockets",))
    from nattest.peers.chromium.agent import LOAD_TIMEOUT, PAGE_GRACES, ChromiumAgent

    limit = LOAD_TIMEOUT + args.connect_timeout + args.duration + PAGE_GRACES
    return run_agent(args, ChromiumAgent(args).run, limit, LOGGER, "chromium")


if __name__ == "__main__":
    raise SystemExit(main())
