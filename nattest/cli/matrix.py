"""`nattest matrix` and `nattest report merge`: the connectivity matrix and its reports."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nattest.cli import main
from nattest.cli.common import F, backend_option, err, escape, handle_errors, out, peer_kind_options
from nattest.cli.evidence import evidence_for, evidence_options
from nattest.cli.impair import impair_option
from nattest.errors import UsageError

if TYPE_CHECKING:
    from nattest.matrix.verdict import MatrixResult


def strict_option(fn: F) -> F:
    """`--strict`: deviations fail the run too."""
    return click.option(
        "--strict",
        is_flag=True,
        help="Deviations fail the run too (a working call on another pair than a standard "
        "agent selects, e.g. a relay while a direct pair succeeded).",
    )(fn)


@main.command()
@click.option("--configs", help="Comma-separated endpoint configurations (default: all 8).")
@click.option(
    "--policies",
    default="all,relay",
    show_default=True,
    help="all: every ordered pair; relay: the relay-only row (udp, tcp, tls).",
)
@click.option(
    "--jobs",
    type=int,
    default=None,
    help="Cells running at once (default: 12 for aiortc, which mostly waits on its peers; "
    "3 with a chromium side).",
)
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
@strict_option
@click.option(
    "--shard",
    metavar="K/N",
    help="Run only shard K of N: a deterministic 1/N of the cells (merge the JSON reports "
    "with `nattest report merge`).",
)
@evidence_options
@impair_option
@peer_kind_options
@backend_option
@handle_errors
def matrix(
    configs: str | None,
    policies: str,
    jobs: int | None,
    json_file: str | None,
    junit_file: str | None,
    html_file: str | None,
    strict: bool,
    shard: str | None,
    capture: bool,
    results_dir: str,
    impairs: tuple[str, ...],
    **options: Any,
) -> None:
    """Run the connectivity matrix: one real call per cell, judged against the table.

    Each cell is as expected (✔), a deviation (~: works, but not the pair a standard agent
    selects) or differs (✘). Exit code 1 when a cell differs (with --strict, also when one
    deviates), 2 for usage errors. A cell that differs keeps its evidence (peer logs,
    CallResult, rulesets, repro.sh; with --capture, a pcap per node) in RESULTS/<cell id>/,
    linked from the HTML report."""
    from nattest.lab import terminate_as_interrupt
    from nattest.matrix.run import MatrixOptions, cell_topology, plan_cells, run_matrix
    from nattest.matrix.shard import ShardInfo, parse_shard, shard_cells
    from nattest.report.progress import matrix_progress

    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs {jobs}: give 1 or more")
    part = parse_shard(shard) if shard else None
    evidence = evidence_for(capture, results_dir, strict=strict)
    opts = MatrixOptions(jobs=jobs, evidence=evidence, impairments=impairs, **options)
    table = opts.table()
    cells = plan_cells(
        table,
        [c.strip() for c in configs.split(",")] if configs else None,
        [p.strip() for p in policies.split(",")],  # type: ignore[misc]
    )
    for exp in cells:  # a bad impairment or link is a usage error before any cell runs
        cell_topology(exp, opts)
    info = None
    if part is not None:
        info = ShardInfo(index=part[0], of=part[1], planned=[e.id for e in cells])
        cells = shard_cells(cells, *part)
        if not cells:
            raise UsageError(
                f"--shard {shard}: no cells in this shard ({len(info.planned)} planned)"
            )
    with matrix_progress(err.real, len(cells)) as on_done, terminate_as_interrupt():
        result = run_matrix(cells, opts, table, on_done, shard=info)
    _report(result, strict, json_file, junit_file, html_file)


def _report(
    result: MatrixResult,
    strict: bool,
    json_file: str | None,
    junit_file: str | None,
    html_file: str | None,
) -> None:
    """Print the run, write the report files asked for, exit 1 when the run fails."""
    from nattest.report import print_report, write_html, write_json, write_junit

    print_report(out.real, result, strict)
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


@main.group()
def report() -> None:
    """Work with saved matrix reports (JSON written by `nattest matrix --json`)."""


@report.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="Merged JSON.")
@click.option("--junit", "junit_file", type=click.Path(dir_okay=False), help="JUnit XML.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="HTML report.")
@strict_option
@handle_errors
def merge(
    reports: tuple[str, ...],
    json_file: str | None,
    junit_file: str | None,
    html_file: str | None,
    strict: bool,
) -> None:
    """Merge the JSON reports of `nattest matrix --shard K/N` runs into one report.

    Each cell must appear once; a shard with no report leaves its cells not run (and the
    merged run fails). Exit codes as `nattest matrix`."""
    from nattest.matrix.expectations import load_expectations
    from nattest.matrix.shard import merge_results

    runs = [_read_report(path) for path in reports]
    merged, warnings = merge_results(runs, list(reports), load_expectations(runs[0].table))
    for warning in warnings:
        err.print(f"[bold dark_orange]warning:[/] {escape(warning)}", highlight=False)
    _report(merged, strict, json_file, junit_file, html_file)


def _read_report(path: str) -> MatrixResult:
    from pydantic import ValidationError

    from nattest.report import read_json

    try:
        return read_json(path)
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror}") from None
    except (ValidationError, ValueError) as e:
        first = str(e).splitlines()[0]
        raise UsageError(f"{path}: not a nattest matrix JSON report ({first})") from None
