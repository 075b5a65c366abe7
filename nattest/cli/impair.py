"""Impairments from the command line: the `--impair LINK=OPTIONS` option of `up` and `call`,
and `nattest impair`, which changes a running lab."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from nattest.cli import main
from nattest.cli.common import handle_errors, out

if TYPE_CHECKING:
    from nattest.model.topology import Topology

F = TypeVar("F", bound=Callable[..., Any])

IMPAIR_HELP = (
    "LINK=OPTIONS, e.g. nat-a:wan=delay:100ms,loss:5% (repeatable). Options: delay, jitter, "
    "loss, burst, duplicate, reorder, rate; prefix egress. or ingress. for one direction."
)


def impair_option(fn: F) -> F:
    """`--impair LINK=OPTIONS` (repeatable); the command applies them with ``impaired``
    (inside its error handling, so a bad value is `error: ...`, exit code 2)."""
    return click.option(
        "--impair", "impairs", multiple=True, metavar="LINK=OPTIONS", help=IMPAIR_HELP
    )(fn)


def impaired(topo: Topology, impairs: tuple[str, ...]) -> Topology:
    """The topology with the `--impair` values applied (UsageError naming a bad value or
    an unknown link)."""
    from nattest.model.impair import parse_link_impairment

    for arg in impairs:
        link, imp = parse_link_impairment(arg)
        topo = topo.with_impairment(link, imp)
    return topo


@main.command()
@click.argument("name")
@click.argument("link")
@click.argument("options", required=False)
@click.option("--clear", is_flag=True, help="Remove the link's impairment.")
@handle_errors
def impair(name: str, link: str, options: str | None, clear: bool) -> None:
    """Change LINK of running lab NAME: `nattest impair demo nat-a:wan loss:20%`."""
    from nattest.errors import UsageError
    from nattest.lab import attach_lab
    from nattest.model.impair import parse_impairment

    if bool(options) == clear:
        raise UsageError("give the link's OPTIONS (e.g. delay:100ms,loss:5%) or --clear")
    imp = None if clear else parse_impairment(options or "")
    lab = attach_lab(name)
    lab.impair(link, imp)
    node, ifname = lab.topology.resolve_link(link)
    now = lab.topology.impairment(node, ifname)
    out.print(f"{node}:{ifname}: {now.describe() if now else 'none'}")


__all__ = ["impair_option", "impaired"]
