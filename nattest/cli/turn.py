"""`nattest check-turn`: validate a TURN deployment from here."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from nattest.cli import main
from nattest.cli.common import escape, handle_errors, out
from nattest.errors import UsageError


@main.command("check-turn")
@click.argument("urls", nargs=-1, required=True)
@click.option("--user", help="Long-term username (with --password), or the REST user.")
@click.option(
    "--password",
    envvar="NATTEST_TURN_PASSWORD",
    help="Long-term password (or $NATTEST_TURN_PASSWORD: keeps it out of the shell history).",
)
@click.option(
    "--secret",
    envvar="NATTEST_TURN_SECRET",
    help="REST API shared secret (use-auth-secret): time-limited credentials are made from it "
    "(or $NATTEST_TURN_SECRET).",
)
@click.option("--transports", help="Comma-separated subset of udp,tcp,tls (default: all).")
@click.option("--ca", type=click.Path(dir_okay=False, exists=True), help="PEM CA to trust for TLS.")
@click.option("--insecure", is_flag=True, help="TLS: accept any certificate.")
@click.option(
    "--resolve", "pins", multiple=True, metavar="NAME:IP", help="Pin a name to an address."
)
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="Write the report.")
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds per stage.")
@click.option("--no-call", is_flag=True, help="Skip the relay-only call between two peers.")
@handle_errors
def check_turn(
    urls: tuple[str, ...],
    user: str | None,
    password: str | None,
    secret: str | None,
    transports: str | None,
    ca: str | None,
    insecure: bool,
    pins: tuple[str, ...],
    json_file: str | None,
    timeout: float,
    no_call: bool,
) -> None:
    """Check TURN servers (turn:HOST[:PORT], turns:HOST[:PORT]) over udp, tcp and tls:
    connect, STUN binding, allocate, relay data, a relay-only call; say why one fails.

    Exit code 0 when every transport works, 1 when one fails, 2 for usage errors."""
    from nattest.checks.turn import check_turn as run
    from nattest.report.turn import print_turn_report

    if ca and insecure:
        raise UsageError("give --ca or --insecure, not both")
    if timeout <= 0:
        raise UsageError(f"--timeout {timeout:g}: give a positive number of seconds")
    report = run(
        list(urls),
        user=user,
        password=password,
        secret=secret,
        transports=[t.strip() for t in transports.split(",")] if transports else None,
        ca=ca,
        insecure=insecure,
        resolve_pins=pins,
        timeout=timeout,
        call=not no_call,
    )
    print_turn_report(out.real, report)
    if json_file:
        Path(json_file).parent.mkdir(parents=True, exist_ok=True)
        Path(json_file).write_text(report.to_json() + "\n")
        out.print(f"wrote {escape(json_file)}")
    sys.exit(0 if report.ok else 1)
