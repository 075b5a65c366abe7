"""The connectivity matrix: every ordered pair of endpoint configurations, one real call each.

Each cell builds its own standard two-peer lab (`configs.pair_topology`), runs one call,
tears the lab down and is judged against the expectations table (data:
`nattest/data/expectations.yaml`). Cells run concurrently: labs are isolated by their
name prefix, and a cell's work is mostly waiting on its peer processes.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime

from nattest.call import CallSpec, run_call, tcp_turn_overrides
from nattest.configs import CONFIGS, check_config, pair_topology
from nattest.errors import NattestError, UsageError
from nattest.expectations import Expectation, Expectations, load_expectations
from nattest.lab import build_lab
from nattest.report.model import MachineInfo, MatrixCell, MatrixResult, call_timings, evaluate
from nattest.result import Policy
from nattest.topology import Topology

_labs = itertools.count()


@dataclass(frozen=True)
class MatrixOptions:
    """How to run the cells."""

    duration: float = 0.5
    """Seconds of media per call (enough for frames and data-channel echoes)."""
    connect_timeout: float = 20.0
    """Seconds from a peer's start to connected. A UDP-blocked peer's gathering waits out
    aioice's STUN timeout (≈5 s), and with two of them the answer comes ≈10 s in."""
    jobs: int = 8
    """Cells running at once."""
    video_size: str | None = "320x240"
    """Synthetic video per call: smaller than the peer's 640x480 default, because 67 calls
    encode and decode VP8 on two cores; the path and the media verdicts are the same."""


def plan_cells(
    table: Expectations,
    configs: Iterable[str] | None = None,
    policies: Iterable[Policy] = ("all", "relay"),
) -> list[Expectation]:
    """The cells to run: configs × configs for policy all, the relay-only row for relay."""
    chosen = [check_config(c) for c in configs] if configs else list(table.configs)
    wanted = set(policies)
    unknown = wanted - {"all", "relay"}
    if unknown:
        raise UsageError(f"unknown policy {sorted(unknown)[0]!r} (expected all or relay)")
    cells: list[Expectation] = []
    if "all" in wanted:
        cells += [table.get(a, b) for a in chosen for b in chosen]
    if "relay" in wanted:
        cells += [e for e in table.relay_row() if e.caller in chosen and e.callee in chosen]
    if not cells:
        raise UsageError(
            "no cells to run: the relay-only row uses "
            + ", ".join(sorted({e.caller for e in table.relay_row()}))
        )
    return cells


def cell_spec(exp: Expectation, opts: MatrixOptions, topology: Topology) -> CallSpec:
    """CallSpec of a cell: a udp-blocked peer reaches TURN over TCP when the cell uses UDP."""
    transport = exp.turn_transport or "udp"
    return CallSpec(
        policy=exp.policy,
        turn_transport=transport,
        peer_transports=tcp_turn_overrides(topology, transport),
        duration=opts.duration,
        connect_timeout=opts.connect_timeout,
        video_size=opts.video_size,
    )


def run_cell(exp: Expectation, opts: MatrixOptions) -> MatrixCell:
    """Build the cell's lab, run its call, tear the lab down, judge the result."""
    t0 = time.perf_counter()
    name = f"mx{os.getpid() % 1000}-{next(_labs)}"
    try:
        lab = build_lab(pair_topology(exp.caller, exp.callee), name)
    except NattestError as e:
        return evaluate(exp, error=str(e))
    setup = time.perf_counter() - t0
    try:
        result = run_call(lab, cell_spec(exp, opts, lab.topology))
    except NattestError as e:
        return evaluate(exp, error=str(e))
    finally:
        lab.down()
    timings = call_timings(result, total=time.perf_counter() - t0)
    timings["lab_setup"] = round(setup, 4)
    return evaluate(exp, result, timings=timings)


def run_matrix(
    cells: list[Expectation],
    opts: MatrixOptions | None = None,
    table: Expectations | None = None,
    on_done: Callable[[MatrixCell], None] | None = None,
) -> MatrixResult:
    """Run every cell, `opts.jobs` at a time; `on_done` is called as each finishes."""
    opts = opts or MatrixOptions()
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    done: dict[str, MatrixCell] = {}
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs), thread_name_prefix="cell") as pool:
        # longest first: a udp-blocked peer waits out aioice's STUN timeout (≈5 s) before
        # it offers or answers; started last, those cells would be the run's tail
        longest_first = sorted(cells, key=lambda e: -[e.caller, e.callee].count("udp-blocked"))
        futures = {pool.submit(run_cell, exp, opts): exp for exp in longest_first}
        for fut in as_completed(futures):
            cell = fut.result()
            done[cell.id] = cell
            if on_done is not None:
                on_done(cell)
    configs = (table or load_expectations()).configs
    grid = [c for c in configs if any(c in (e.caller, e.callee) for e in cells)]
    return MatrixResult(
        cells=[done[e.id] for e in cells],
        configs=grid,
        started=started,
        wall_time=round(time.perf_counter() - t0, 3),
        machine=MachineInfo.here(coturn=_coturn_version()),
    )


def _coturn_version() -> str:
    import subprocess

    try:
        out = subprocess.run(["turnserver", "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (
        (out.stdout or out.stderr).strip().splitlines()[0]
        if (out.stdout or out.stderr)
        else "unknown"
    )


__all__ = ["CONFIGS", "MatrixOptions", "cell_spec", "plan_cells", "run_cell", "run_matrix"]
