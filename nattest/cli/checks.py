"""`nattest verify-nat`: RFC 5780 checks of a lab's NATs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from nattest.cli import main
from nattest.cli.common import backend_option, escape, handle_errors, out


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
