"""`nattest` command line: bring labs up and down, poke into nodes, verify NATs, run calls.

A thin front door: each command parses its options, calls the library and hands the
result to a renderer (``nattest.report``). Exit codes: 0 success, 1 a check or call failed,
2 usage error (bad file, option, name), 130 interrupted. The CLI prints; the library logs
(NATTEST_DEBUG=1 shows debug logs).
"""

from __future__ import annotations

import logging
import os

# The CLI uses no pydantic plug-in; looking for them scans every installed package's
# metadata (≈ 40 ms of each command). A value the user set is kept.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")

import click

from nattest.cli.common import handle_errors

__all__ = ["handle_errors", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nattest")
def main() -> None:
    """NAT traversal and ICE connectivity lab: real kernel NATs, coturn and WebRTC calls."""
    level = logging.DEBUG if os.environ.get("NATTEST_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, format="%(name)s: %(message)s")


# the commands register themselves on `main`; each imports the library only when it runs
from nattest.cli import call, checks, impair, labs, matrix, turn  # noqa: E402,F401
