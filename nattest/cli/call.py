"""`nattest call`: one real call between a topology's two peers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from nattest.cli import main
from nattest.cli.common import backend_option, handle_errors, out, peer_kind_options
from nattest.cli.evidence import CallEvidence, evidence_for, evidence_options
from nattest.cli.impair import impair_option, impaired


@main.command()
@click.argument("topology", required=False, type=click.Path(dir_okay=False))
@click.option("--pair", help="CALLER:CALLEE configurations: build the standard two-peer lab.")
@click.option("--policy", type=click.Choice(["all", "relay"]), default="all", show_default=True)
@click.option(
    "--turn-transport",
    type=click.Choice(["udp", "tcp", "tls"]),
    default="udp",
    show_default=True,
    help="Transport to TURN (a udp-blocked peer always uses tcp).",
)
@click.option("--duration", type=float, default=2.0, show_default=True, help="Seconds of media.")
@click.option("--connect-timeout", type=float, default=10.0, show_default=True)
@click.option(
    "--video",
    type=click.Choice(["pattern", "noise"]),
    default="pattern",
    show_default=True,
    help="Synthetic video: a moving bar, or noise whose bitrate follows the sender's "
    "bandwidth estimate (see an --impair rate limit at work).",
)
@click.option("--video-size", metavar="WxH", help="Synthetic video size (peer default 640x480).")
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="Write the CallResult.")
@click.option("--keep", is_flag=True, help="Leave the lab up afterwards (to poke into it).")
@click.option("--name", help="Lab name.")
@click.option(
    "--at",
    "faults",
    multiple=True,
    metavar="TIME:ACTION TARGET",
    help="A fault during the call, repeatable: 3s:cut nat-a, 20s:restore nat-a, "
    "1500ms:kill turn, 2s:flush nat-a (TIME since the peers were launched).",
)
@peer_kind_options
@impair_option
@evidence_options
@backend_option
@handle_errors
def call(
    topology: str | None,
    pair: str | None,
    json_file: str | None,
    keep: bool,
    name: str | None,
    backend: str | None,
    impairs: tuple[str, ...],
    capture: bool,
    results_dir: str,
    **spec: Any,
) -> None:
    """Run one real call between the topology's two peers and print what happened.

    A failed call keeps its evidence (peer logs, CallResult, rulesets, repro.sh) in
    RESULTS/<lab>/; with --capture, every call keeps it, with a pcap per node."""
    from nattest.backends import records
    from nattest.call.faults import check_faults, parse_faults
    from nattest.call.run import peer_kinds, run_call, save_call, warm_peers
    from nattest.call.spec import CallSpec, call_topology
    from nattest.lab import open_lab
    from nattest.report.call import summary

    topo = impaired(call_topology(topology, pair), impairs)
    faults = parse_faults(spec.pop("faults"), "--at")
    call_spec = CallSpec(**spec, faults=faults)
    check_faults(topo, call_spec.schedule)  # bad --at targets: exit 2, nothing built
    evidence = evidence_for(capture, results_dir)
    warm_peers(peer_kinds(call_spec), backend)  # usage errors before anything is built
    with open_lab(
        topo,
        records.check_lab_name(name) if name else None,
        keep=keep,
        backend=backend,
        source=topology or "",
    ) as lab:
        with CallEvidence(lab, evidence) as kept:
            result = kept.result = run_call(lab, call_spec)
        if keep:
            out.print(
                f"lab [bold]{lab.name}[/] kept: nattest exec {lab.name} <node> -- ... ; "
                f"nattest down {lab.name}"
            )
    click.echo(summary(result))
    kept.report()
    if json_file:
        save_call(result, Path(json_file))
    sys.exit(0 if result.connected and result.media_ok else 1)
