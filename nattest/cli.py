"""`nattest` command line: bring labs up and down, poke into nodes, verify NATs, run calls.

Exit codes: 0 success, 1 a check or call failed, 2 usage error (bad file, option, name).
The CLI prints; the library logs (NATTEST_DEBUG=1 shows debug logs).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from nattest import registry
from nattest.errors import NattestError, UsageError

F = TypeVar("F", bound=Callable[..., Any])
out = Console()
err = Console(stderr=True)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise UsageError("labs need root (network namespaces, nftables): run as root or with sudo")


def handle_errors(fn: F) -> F:
    """Turn NattestError into `error: ...` and its exit code; no traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NattestError as e:
            err.print(f"[bold red]error:[/] {e}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted: lab torn down")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nattest")
def main() -> None:
    """NAT traversal and ICE connectivity lab: real kernel NATs, coturn and aiortc calls."""
    level = logging.DEBUG if os.environ.get("NATTEST_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, format="%(name)s: %(message)s")


def _load(path: str) -> Any:
    from nattest.topology import load_topology

    return load_topology(path)


@main.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--name", help="Lab name (default: derived from the topology).")
@click.option("--no-services", is_flag=True, help="Do not start coturn and signaling.")
@handle_errors
def up(topology: str, name: str | None, no_services: bool) -> None:
    """Build TOPOLOGY and leave it up; prints its name and nodes."""
    from nattest.lab import build_lab, terminate_as_interrupt

    topo = _load(topology)
    if name:
        registry.check_lab_name(name)
    _require_root()
    t0 = time.perf_counter()
    with terminate_as_interrupt():
        lab = build_lab(topo, name, services=not no_services, source=str(Path(topology).resolve()))
    out.print(
        f"lab [bold]{lab.name}[/] up in {time.perf_counter() - t0:.3f} s ({topo.description})"
    )
    _print_status([registry.load(lab.name)])
    out.print(f"next: nattest exec {lab.name} <node> -- <command>   |   nattest down {lab.name}")


@main.command()
@click.argument("name", required=False)
@click.option("--all", "all_", is_flag=True, help="Tear down every lab on this machine.")
@handle_errors
def down(name: str | None, all_: bool) -> None:
    """Tear down lab NAME (or --all): processes, namespaces, files."""
    from nattest.backends.netns import down_recorded

    if bool(name) == all_:
        raise UsageError("give a lab name or --all")
    _require_root()
    names = registry.all_names() if all_ else [registry.check_lab_name(name or "")]
    for n in names:
        down_recorded(n)
        out.print(f"lab {n} down")
    if all_ and not names:
        out.print("no labs")


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def status(name: str | None, as_json: bool) -> None:
    """Show labs: nodes, addresses, NAT behaviours, services."""
    records = [registry.load(name)] if name else [registry.load(n) for n in registry.all_names()]
    if as_json:
        click.echo(json.dumps([_status_data(r) for r in records], indent=2))
    elif not records:
        out.print("no labs")
    else:
        _print_status(records)


def _status_data(rec: registry.LabRecord) -> dict[str, Any]:
    from nattest.backends.plan import ns_name
    from nattest.topology import parse_topology

    topo = parse_topology(rec.topology, rec.topology_source or rec.name)
    nodes = []
    for node in topo.nodes():
        kind = "nat" if node in topo.nats else "host" if node in topo.hosts else "server"
        entry: dict[str, Any] = {
            "node": node,
            "kind": kind,
            "namespace": ns_name(rec.name, node),
            "addresses": {f"{ifn}": [] for ifn, _, _ in topo.attachments(node)},
        }
        for ifn, net, addr in topo.attachments(node):
            entry["addresses"][ifn].append(f"{addr} ({net})")
        if kind == "nat":
            entry["behavior"] = topo.nats[node].label
            firewall = topo.nats[node].firewall
            if firewall is not None:
                entry["firewall"] = firewall.value
        if kind == "host":
            entry["behind"] = topo.behind(node)
        nodes.append(entry)
    alive = _pid_alive(rec.owner_pid)
    return {
        "name": rec.name,
        "backend": rec.backend,
        "topology": topo.name,
        "source": rec.topology_source,
        "age_s": round(time.time() - rec.created, 1),
        "builder_running": alive,
        "services": rec.services,
        "nodes": nodes,
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _print_status(records: list[registry.LabRecord]) -> None:
    for rec in records:
        d = _status_data(rec)
        table = Table(title=f"lab {d['name']} — {d['topology']} ({d['backend']}, {d['age_s']} s)")
        for col in ("node", "kind", "addresses", "behaviour / path"):
            table.add_column(col)
        for n in d["nodes"]:
            addrs = "\n".join(f"{ifn} {', '.join(a)}" for ifn, a in n["addresses"].items())
            extra = n.get("behavior", "")
            if n.get("firewall"):
                extra += f" + firewall {n['firewall']}"
            if n["kind"] == "host":
                extra = "behind " + (" → ".join(n["behind"]) or "nothing (public)")
            table.add_row(n["node"], n["kind"], addrs, extra)
        out.print(table)
        for svc, url in d["services"].items():
            out.print(f"  {svc}: {url}")


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("name")
@click.argument("node")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@handle_errors
def exec(name: str, node: str, command: tuple[str, ...]) -> None:
    """Run COMMAND inside NODE of lab NAME; its exit code is passed through."""
    from nattest.backends.netns import reattach

    _require_root()
    ns = reattach(name).ns(node)
    argv = list(command[1:] if command and command[0] == "--" else command)
    os.execvp("ip", ["ip", "netns", "exec", ns, *argv])


@main.command()
@click.argument("name")
@click.argument("node")
@handle_errors
def shell(name: str, node: str) -> None:
    """Interactive shell inside NODE of lab NAME."""
    from nattest.backends.netns import reattach

    _require_root()
    ns = reattach(name).ns(node)
    sh = os.environ.get("SHELL", "/bin/bash")
    env = {**os.environ, "PS1": f"[{name}/{node}] \\w# ", "NATTEST_LAB": name, "NATTEST_NODE": node}
    os.execvpe(
        "ip",
        ["ip", "netns", "exec", ns, sh, "--norc"]
        if sh.endswith("bash")
        else ["ip", "netns", "exec", ns, sh],
        env,
    )


@main.command("verify-nat")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def verify_nat(target: str, as_json: bool) -> None:
    """RFC 5780 check of every NAT of a lab (NAME) or of a TOPOLOGY file (own lab)."""
    from nattest.backends.netns import reattach
    from nattest.lab import open_lab
    from nattest.verify import verify_lab

    _require_root()
    if target.endswith((".yaml", ".yml")) or Path(target).is_file():
        topo = _load(target)
        with open_lab(topo, services=True, source=target) as lab:
            reports = verify_lab(lab)
    else:
        reports = verify_lab(reattach(registry.check_lab_name(target)))
    failed = [r for r in reports if not r.ok]
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reports], indent=2))
    else:
        for r in reports:
            mark = "[green]ok[/]" if r.ok else "[red]MISMATCH[/]"
            chain = " → ".join(r.chain)
            out.print(
                f"{mark} {r.nat} (from {r.host}, through {chain}): "
                f"declared {r.declared.text()}; observed {r.observed_text()}"
            )
            for line in r.diff:
                out.print(f"    {line}")
    sys.exit(1 if failed else 0)


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
@handle_errors
def call(
    topology: str | None,
    pair: str | None,
    policy: str,
    turn_transport: str,
    duration: float,
    connect_timeout: float,
    json_file: str | None,
    keep: bool,
    name: str | None,
) -> None:
    """Run one real call between the topology's two peers and print what happened."""
    from nattest.call import run_call, save_call
    from nattest.lab import open_lab
    from nattest.peer import summary

    topo, spec = _call_setup(topology, pair, policy, turn_transport, duration, connect_timeout)
    if name:
        registry.check_lab_name(name)
    _require_root()
    with open_lab(topo, name, keep=keep, source=topology or "") as lab:
        result = run_call(lab, spec)
        if keep:
            out.print(
                f"lab [bold]{lab.name}[/] kept: nattest exec {lab.name} alice -- ... ; "
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
@handle_errors
def matrix(
    configs: str | None,
    policies: str,
    jobs: int,
    duration: float,
    json_file: str | None,
    junit_file: str | None,
    html_file: str | None,
) -> None:
    """Run the connectivity matrix: one real call per cell, judged against the table."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from nattest.expectations import load_expectations
    from nattest.lab import terminate_as_interrupt
    from nattest.matrix import MatrixOptions, plan_cells, run_matrix
    from nattest.report import print_report, write_html, write_json, write_junit

    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: give 1 or more")
    table = load_expectations()
    cells = plan_cells(
        table,
        [c.strip() for c in configs.split(",")] if configs else None,
        [p.strip() for p in policies.split(",")],  # type: ignore[misc]
    )
    _require_root()
    failed = 0
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]matrix[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed[/]"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task("cells", total=len(cells), failed=0, last="")

        def done(cell: Any) -> None:
            nonlocal failed
            failed += 0 if cell.ok else 1
            progress.update(task, advance=1, failed=failed, last=f"{cell.id}: {cell.observed}")

        with terminate_as_interrupt():
            result = run_matrix(cells, MatrixOptions(jobs=jobs, duration=duration), table, done)
    print_report(out, result)
    for path, write in (
        (json_file, write_json),
        (junit_file, write_junit),
        (html_file, write_html),
    ):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            write(result, path)
            out.print(f"wrote {path}")
    sys.exit(0 if result.counts().get("ok", 0) == len(result.cells) else 1)


def _call_setup(
    topology: str | None,
    pair: str | None,
    policy: str,
    turn_transport: str,
    duration: float,
    connect_timeout: float,
) -> tuple[Any, Any]:
    from nattest.call import CallSpec, tcp_turn_overrides
    from nattest.configs import pair_topology

    if bool(topology) == bool(pair):
        raise UsageError("give a TOPOLOGY file or --pair CALLER:CALLEE (one of them)")
    if pair:
        caller, sep, callee = pair.partition(":")
        if not sep:
            raise UsageError(f"--pair {pair!r}: expected CALLER:CALLEE, e.g. symmetric:full-cone")
        topo = pair_topology(caller, callee)
    else:
        topo = _load(str(topology))
    overrides = tcp_turn_overrides(topo, turn_transport)  # type: ignore[arg-type]
    spec = CallSpec(
        policy=policy,  # type: ignore[arg-type]
        turn_transport=turn_transport,  # type: ignore[arg-type]
        peer_transports=overrides,
        duration=duration,
        connect_timeout=connect_timeout,
    )
    return topo, spec


if __name__ == "__main__":  # pragma: no cover
    main()
