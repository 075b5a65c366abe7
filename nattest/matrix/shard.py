"""The matrix beyond one machine: a deterministic 1/N of the cells, and shards merged back.

``nattest matrix --shard K/N`` runs ``shard_cells(plan, K, N)``: the plan is dealt out
round-robin, its longest cells first (a udp-blocked peer waits out aioice's ≈5 s STUN
timeout), so every shard gets a similar share of the slow cells; the same plan and N give
the same shards on every machine. Each shard's JSON report carries a ``ShardInfo`` (K, N and
the ids of the whole plan). ``merge_results`` checks the shards belong together and puts
their cells back in plan order: the merged report is the unsharded one apart from timings
(and the machine, taken from the first shard). A shard whose report is missing leaves its
cells *not run*, so the merged run differs and says which shards are missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from nattest.errors import UsageError
from nattest.matrix.expectations import Expectation, Expectations
from nattest.matrix.verdict import MatrixCell, MatrixResult, ShardInfo, evaluate


def parse_shard(text: str) -> tuple[int, int]:
    """`2/4` → (2, 4); UsageError naming the value otherwise."""
    k_text, sep, n_text = text.partition("/")
    try:
        k, n = int(k_text), int(n_text)
    except ValueError:
        k = n = 0
    if not sep or not 1 <= k <= n:
        raise UsageError(f"--shard {text!r}: expected K/N with 1 ≤ K ≤ N, e.g. 2/4")
    return k, n


def cost(exp: Expectation) -> int:
    """A cell's relative length: its number of udp-blocked peers (each waits ≈5 s)."""
    return [exp.caller, exp.callee].count("udp-blocked")


def shard_cells(plan: Sequence[Expectation], k: int, n: int) -> list[Expectation]:
    """Shard `k` of `n` (1-based) of `plan`, in plan order."""
    if not 1 <= k <= n:
        raise UsageError(f"shard {k}/{n}: expected 1 ≤ K ≤ N")
    dealt = sorted(range(len(plan)), key=lambda i: (-cost(plan[i]), i))
    mine = {i for turn, i in enumerate(dealt) if turn % n == k - 1}
    return [e for i, e in enumerate(plan) if i in mine]


def merge_results(
    runs: Sequence[MatrixResult], sources: Sequence[str], table: Expectations
) -> tuple[MatrixResult, list[str]]:
    """One run from the shards' runs (`sources` name them in errors), and warnings
    (missing shards). UsageError when they do not belong together or repeat a cell."""
    if not runs:
        raise UsageError("report merge: no reports given")
    first = runs[0]
    planned: list[str] | None = None
    total: int | None = None
    seen_shards: dict[int, str] = {}
    cells: dict[str, MatrixCell] = {}
    for run, source in zip(runs, sources, strict=True):
        if run.impairments != first.impairments:
            raise UsageError(
                f"{source}: run with impairments {run.impairments or 'none'}, {sources[0]} "
                f"with {first.impairments or 'none'}: not the same matrix"
            )
        kinds = (run.table, run.caller_kind, run.callee_kind)
        if kinds != (first.table, first.caller_kind, first.callee_kind):
            raise UsageError(
                f"{source}: judged by table {run.table} ({run.caller_kind} → "
                f"{run.callee_kind}), {sources[0]} by {first.table}: not the same matrix"
            )
        if run.shard is not None:
            if planned is None:
                planned, total = run.shard.planned, run.shard.of
            elif (run.shard.planned, run.shard.of) != (planned, total):
                raise UsageError(f"{source}: shard of another plan than {sources[0]}")
            if run.shard.index in seen_shards:
                raise UsageError(
                    f"{source}: shard {run.shard.index}/{run.shard.of} again "
                    f"(also {seen_shards[run.shard.index]})"
                )
            seen_shards[run.shard.index] = source
        for cell in run.cells:
            if cell.id in cells:
                raise UsageError(f"{source}: cell {cell.id} is in two reports")
            cells[cell.id] = cell
    order = planned or [c.id for run in runs for c in run.cells]
    unknown = sorted(set(cells) - set(order))
    if unknown:
        raise UsageError(f"cell {unknown[0]} is not in the shards' plan")
    warnings = []
    if total is not None:
        missing = sorted(set(range(1, total + 1)) - set(seen_shards))
        if missing:
            names = ", ".join(f"{k}/{total}" for k in missing)
            warnings.append(f"no report for shard {names}: its cells are marked not run")
    merged = [cells.get(cell_id) or evaluate(table[cell_id]) for cell_id in order]
    grid = table.configs_used(merged)
    return (
        first.model_copy(
            update={
                "cells": merged,
                "configs": grid,
                "started": min(r.started for r in runs),
                "wall_time": max(r.wall_time for r in runs),
                "shard": None,
            }
        ),
        warnings,
    )


__all__ = ["ShardInfo", "cost", "merge_results", "parse_shard", "shard_cells"]
