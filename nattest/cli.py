"""`nattest` command line: bring labs up and down, poke into nodes, verify NATs, run calls.

A thin front door: each command parses its options, calls the library and hands the
result to a renderer (``nattest.report``). Exit codes: 0 success, 1 a check or call failed,
2 usage error (bad file, option, name), 130 interrupted. The CLI prints; the library logs
(NATTEST_DEBUG=1 shows debug logs).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from functools import partial, wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from nattest.backends import records
from nattest.errors import NattestError, UsageError

F = TypeVar("F", bound=Callable[..., Any])
out = Console()
err = Console(stderr=True)


def handle_errors(fn: F) -> F:
    """Turn NattestError into `error: ...` and its exit code; no traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NattestError as e:
            # the message is text, not markup: `[alice] ...` must print as it is
            err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted: lab torn down")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def backend_option(fn: F) -> F:
    """`--backend NAME` (default: $NATTEST_BACKEND, else netns)."""
    return click.option(
        "--backend",
        envvar="NATTEST_BACKEND",
        help="How the lab is built (default: netns); `nattest plugins` lists the backends.",
    )(fn)


def peer_kind_options(fn: F) -> F:
    """`--caller KIND` and `--callee KIND`: the peer kind of each side."""
    for side in ("callee", "caller"):
        fn = click.option(
            f"--{side}",
            f"{side}_kind",
            default="aiortc",
            show_default=True,
            help=f"Peer kind of the {side}; `nattest plugins` lists them.",
        )(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nattest")
def main() -> None:
    """NAT traversal and ICE connectivity lab: real kernel NATs, coturn and WebRTC calls."""
    level = logging.DEBUG if os.environ.get("NATTEST_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, format="%(name)s: %(message)s")


def _print_labs(names: list[str]) -> None:
    from nattest.backends.status import lab_status
    from nattest.report.status import print_status

    print_status(out, [lab_status(records.load(n)) for n in names])


@main.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--name", help="Lab name (default: derived from the topology).")
@click.option("--no-services", is_flag=True, help="Do not start coturn and signaling.")
@backend_option
@handle_errors
def up(topology: str, name: str | None, no_services: bool, backend: str | None) -> None:
    """Build TOPOLOGY and leave it up; prints its name and nodes."""
    from nattest.lab import build_lab, terminate_as_interrupt
    from nattest.model.load import load_topology

    topo = load_topology(topology)
    t0 = time.perf_counter()
    with terminate_as_interrupt():
        lab = build_lab(
            topo,
            records.check_lab_name(name) if name else None,
            services=not no_services,
            backend=backend,
            source=str(Path(topology).resolve()),
        )
    took = time.perf_counter() - t0
    out.print(f"lab [bold]{lab.name}[/] up in {took:.3f} s ({escape(topo.description)})")
    _print_labs([lab.name])
    out.print(f"next: nattest exec {lab.name} <node> -- <command>   |   nattest down {lab.name}")


@main.command()
@click.argument("name", required=False)
@click.option("--all", "all_", is_flag=True, help="Tear down every lab on this machine.")
@handle_errors
def down(name: str | None, all_: bool) -> None:
    """Tear down lab NAME (or --all): processes, namespaces/containers, files."""
    from nattest.lab import collect_lab

    if bool(name) == all_:
        raise UsageError("give a lab name or --all")
    names = records.all_names() if all_ else [records.check_lab_name(name or "")]
    for n in names:
        collect_lab(n)
        out.print(f"lab {n} down")
    if all_ and not names:
        out.print("no labs")


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def status(name: str | None, as_json: bool) -> None:
    """Show labs: nodes, addresses, NAT behaviours, services."""
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


@main.command("verify-nat")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@backend_option
@handle_errors
def verify_nat(target: str, as_json: bool, backend: str | None) -> None:
    """RFC 5780 check of every NAT of a lab (NAME) or of a TOPOLOGY file (own lab)."""
    from nattest.checks.verify import verify_lab
    from nattest.lab import attach_lab, open_lab
    from nattest.model.load import load_topology

    if target.endswith((".yaml", ".yml")) or Path(target).is_file():
        with open_lab(load_topology(target), backend=backend, source=target) as lab:
            reports = verify_lab(lab)
    else:
        reports = verify_lab(attach_lab(target))
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reports], indent=2))
    else:
        for r in reports:
            mark = "[green]ok[/]" if r.ok else "[red]MISMATCH[/]"
            out.print(
                f"{mark} {r.nat} (from {r.host}, through {' → '.join(r.chain)}): "
                f"declared {r.declared.text()}; observed {r.observed_text()}"
            )
            for line in r.diff:
                out.print(f"    {escape(line)}", highlight=False)
    sys.exit(0 if all(r.ok for r in reports) else 1)


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
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="Write the CallResult.")
@click.option("--keep", is_flag=True, help="Leave the lab up afterwards (to poke into it).")
@click.option("--name", help="Lab name.")
@peer_kind_options
@backend_option
@handle_errors
def call(
    topology: str | None,
    pair: str | None,
    json_file: str | None,
    keep: bool,
    name: str | None,
    backend: str | None,
    **spec: Any,
) -> None:
    """Run one real call between the topology's two peers and print what happened."""
    from nattest.backends import get_backend
    from nattest.call.run import peer_kinds, run_call, save_call
    from nattest.call.spec import CallSpec, call_topology
    from nattest.lab import open_lab
    from nattest.report.call import summary

    topo = call_topology(topology, pair)
    call_spec = CallSpec(**spec)
    peer_kinds(call_spec)  # usage errors before anything is built
    get_backend(backend)
    with open_lab(
        topo,
        records.check_lab_name(name) if name else None,
        keep=keep,
        backend=backend,
        source=topology or "",
    ) as lab:
        result = run_call(lab, call_spec)
        if keep:
            out.print(
                f"lab [bold]{lab.name}[/] kept: nattest exec {lab.name} <node> -- ... ; "
                f"nattest down {lab.name}"
            )
    click.echo(summary(result))
    if json_file:
        save_call(result, Path(json_file))
    sys.exit(0 if result.connected and result.media_ok else 1)


@main.command()
@click.option("--configs", help="Comma-separated endpoint configurations (default: all 8).")
@click.option(
    "--policies",
    default="all,relay",
    show_default=True,
    help="all: every ordered pair; relay: the relay-only row (udp, tcp, tls).",
)
@click.option("--jobs", type=int, default=8, show_default=True, help="Cells running at once.")
@click.option(
    "--duration",
    type=float,
    default=0.5,
    show_default=True,
    help="Seconds of media per call (peers also wait until frames flowed).",
)
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="Every CallResult.")
@click.option("--junit", "junit_file", type=click.Path(dir_okay=False), help="JUnit XML.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="HTML report.")
@click.option(
    "--strict",
    is_flag=True,
    help="Deviations fail the run too (a working call on another pair than a standard "
    "agent selects, e.g. a relay while a direct pair succeeded).",
)
@peer_kind_options
@backend_option
@handle_errors
def matrix(
    configs: str | None,
    policies: str,
    jobs: int,
    json_file: str | None,
    junit_file: str | None,
    html_file: str | None,
    strict: bool,
    **options: Any,
) -> None:
    """Run the connectivity matrix: one real call per cell, judged against the table.

    Each cell is as expected (✔), a deviation (~: works, but not the pair a standard agent
    selects) or differs (✘). Exit code 1 when a cell differs (with --strict, also when one
    deviates), 2 for usage errors."""
    from nattest.lab import terminate_as_interrupt
    from nattest.matrix.run import MatrixOptions, plan_cells, run_matrix
    from nattest.report import print_report, write_html, write_json, write_junit
    from nattest.report.progress import matrix_progress

    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: give 1 or more")
    opts = MatrixOptions(jobs=jobs, **options)
    table = opts.table()
    cells = plan_cells(
        table,
        [c.strip() for c in configs.split(",")] if configs else None,
        [p.strip() for p in policies.split(",")],  # type: ignore[misc]
    )
    with matrix_progress(err, len(cells)) as on_done, terminate_as_interrupt():
        result = run_matrix(cells, opts, table, on_done)
    print_report(out, result, strict)
    for path, write in (
        (json_file, write_json),
        (junit_file, partial(write_junit, strict=strict)),
        (html_file, write_html),
    ):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            write(result, path)
            out.print(f"wrote {escape(path)}")
    sys.exit(1 if result.failures(strict) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
