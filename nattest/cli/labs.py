"""Lab commands: up, down, status, plugins, exec, shell."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click

from nattest.cli import main
from nattest.cli.common import backend_option, escape, handle_errors, out
from nattest.cli.evidence import capture_running, evidence_for, evidence_options
from nattest.cli.impair import impair_option, impaired
from nattest.errors import UsageError
from nattest.services import SIGNALING_MODULE


def _print_labs(names: list[str]) -> None:
    from nattest.backends import records
    from nattest.backends.status import lab_status
    from nattest.report.status import print_status

    print_status(out.real, [lab_status(records.load(n)) for n in names])


@main.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--name", help="Lab name (default: derived from the topology).")
@click.option("--no-services", is_flag=True, help="Do not start coturn and signaling.")
@impair_option
@evidence_options
@backend_option
@handle_errors
def up(
    topology: str,
    name: str | None,
    no_services: bool,
    backend: str | None,
    impairs: tuple[str, ...],
    capture: bool,
    results_dir: str,
) -> None:
    """Build TOPOLOGY and leave it up; prints its name and nodes.

    With --capture, a tcpdump in every node writes RESULTS/<lab>/pcap/<node>.pcap until
    `nattest down` (readable while it grows)."""
    from nattest.backends import get_backend, records

    if not no_services:  # the signaling server's imports overlap loading and building
        get_backend(backend).warm([SIGNALING_MODULE])

    from nattest.lab import build_lab, terminate_as_interrupt
    from nattest.model.load import load_topology

    topo = impaired(load_topology(topology), impairs)
    evidence = evidence_for(capture, results_dir)
    t0 = time.perf_counter()
    with terminate_as_interrupt():
        lab = build_lab(
            topo,
            records.check_lab_name(name) if name else None,
            services=not no_services,
            backend=backend,
            source=str(Path(topology).resolve()),
        )
        pcaps = capture_running(lab, evidence) if capture else None
    took = time.perf_counter() - t0
    out.print(f"lab [bold]{lab.name}[/] up in {took:.3f} s ({escape(topo.description)})")
    _print_labs([lab.name])
    if pcaps is not None:
        out.print(
            f"capturing in every node: {escape(str(pcaps))}/<node>.pcap",
            highlight=False,
            soft_wrap=True,
        )
    out.print(f"next: nattest exec {lab.name} <node> -- <command>   |   nattest down {lab.name}")


@main.command()
@click.argument("name", required=False)
@click.option("--all", "all_", is_flag=True, help="Tear down every lab on this machine.")
@handle_errors
def down(name: str | None, all_: bool) -> None:
    """Tear down lab NAME (or --all): processes, namespaces/containers, files."""
    from nattest.backends import records
    from nattest.lab import collect_lab, collect_strays

    if bool(name) == all_:
        raise UsageError("give a lab name or --all")
    names = records.all_names() if all_ else [records.check_lab_name(name or "")]
    for n in names:
        collect_lab(n)
        click.echo(f"lab {n} down")
    strays = collect_strays() if all_ else []
    for n in strays:
        click.echo(f"lab {n} down (it had no record: what it left behind)")
    if all_ and not names and not strays:
        click.echo("no labs")


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def status(name: str | None, as_json: bool) -> None:
    """Show labs: nodes, addresses, NAT behaviours, services."""
    from nattest.backends import records
    from nattest.backends.status import lab_status

    names = [records.check_lab_name(name)] if name else records.all_names()
    if as_json:
        click.echo(json.dumps([lab_status(records.load(n)) for n in names], indent=2))
    elif not names:
        out.print("no labs")
    else:
        _print_labs(names)


@main.command()
@handle_errors
def plugins() -> None:
    """List the registered backends and peer kinds."""
    from nattest import backends, peers

    for what, registry in (("backends", backends.BACKENDS), ("peer kinds", peers.PEERS)):
        out.print(f"[bold]{what}[/]")
        for n in registry.names():
            out.print(f"  {n:10} {registry.get(n).summary}")


def _in_node(name: str, node: str, argv: list[str], *, interactive: bool = False) -> None:
    from nattest.lab import attach_lab

    lab = attach_lab(name)
    command = lab.host_argv(node, argv, interactive=interactive)
    env = {**os.environ, "NATTEST_LAB": name, "NATTEST_NODE": node}
    if interactive:
        env["PS1"] = f"[{name}/{node}] \\w# "
    os.execvpe(command[0], command, env)


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("name")
@click.argument("node")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@handle_errors
def exec(name: str, node: str, command: tuple[str, ...]) -> None:
    """Run COMMAND inside NODE of lab NAME; its exit code is passed through."""
    _in_node(name, node, list(command[1:] if command and command[0] == "--" else command))


@main.command()
@click.argument("name")
@click.argument("node")
@handle_errors
def shell(name: str, node: str) -> None:
    """Interactive shell inside NODE of lab NAME."""
    sh = os.environ.get("SHELL", "/bin/bash")
    _in_node(name, node, [sh, "--norc"] if sh.endswith("bash") else [sh], interactive=True)
