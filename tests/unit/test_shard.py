"""Sharding and merging the matrix: every cell in exactly one shard, the merged report the
unsharded one apart from timings, and clear errors for reports that do not belong together."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from nattest import cli
from nattest.errors import UsageError
from nattest.matrix.expectations import load_expectations
from nattest.matrix.run import plan_cells
from nattest.matrix.shard import cost, merge_results, parse_shard, shard_cells
from nattest.matrix.verdict import MatrixResult, ShardInfo
from nattest.report import junit_xml, render_html, to_json, write_json
from tests.fixtures.recorded_matrix import sample_matrix

TABLE = load_expectations()
PLAN = plan_cells(TABLE)


def _shards(run: MatrixResult, n: int) -> list[MatrixResult]:
    """The recorded run cut as `nattest matrix --shard K/N` would have run it."""
    planned = [e.id for e in PLAN]
    out = []
    for k in range(1, n + 1):
        ids = {e.id for e in shard_cells(PLAN, k, n)}
        out.append(
            run.model_copy(
                update={
                    "cells": [c for c in run.cells if c.id in ids],
                    "shard": ShardInfo(index=k, of=n, planned=planned),
                    "wall_time": run.wall_time / n + k,
                    "started": run.started + timedelta(seconds=k),
                }
            )
        )
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 67, 80])
def test_every_cell_in_exactly_one_shard(n: int) -> None:
    seen = [e.id for k in range(1, n + 1) for e in shard_cells(PLAN, k, n)]
    assert sorted(seen) == sorted(e.id for e in PLAN)
    assert len(seen) == len(set(seen)) == 67


def test_shards_are_deterministic_and_balanced() -> None:
    shards = [shard_cells(PLAN, k, 4) for k in range(1, 5)]
    assert shards == [shard_cells(list(PLAN), k, 4) for k in range(1, 5)]
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    slow = [sum(cost(e) for e in s) for s in shards]  # udp-blocked peers per shard
    assert max(slow) - min(slow) <= 2, slow
    for s in shards:  # plan order inside a shard
        assert s == [e for e in PLAN if e in s]


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "2/0", "-1/3", "1/2/3"])
def test_bad_shard_values(text: str) -> None:
    with pytest.raises(UsageError, match=rf"--shard '{text}': expected K/N"):
        parse_shard(text)


def test_merged_is_the_unsharded_run_apart_from_timings() -> None:
    run = sample_matrix()
    shards = _shards(run, 4)
    merged, warnings = merge_results(shards[::-1], ["d", "c", "b", "a"], TABLE)
    assert warnings == []
    assert merged.cells == run.cells  # same cells, same verdicts, plan order
    assert merged.summary_line().split(" · ")[0] == run.summary_line().split(" · ")[0]
    assert merged.started == min(s.started for s in shards)
    assert merged.wall_time == max(s.wall_time for s in shards)
    assert merged.shard is None
    same = merged.model_copy(update={"wall_time": run.wall_time, "started": run.started})
    assert to_json(same) == to_json(run)
    assert junit_xml(same) == junit_xml(run)
    assert render_html(same) == render_html(run)


def test_missing_shard_leaves_its_cells_not_run() -> None:
    shards = _shards(sample_matrix(), 4)
    merged, warnings = merge_results(shards[:3], ["a", "b", "c"], TABLE)
    assert warnings == ["no report for shard 4/4: its cells are marked not run"]
    missing = {e.id for e in shard_cells(PLAN, 4, 4)}
    assert {c.id for c in merged.cells if c.status == "missing"} == missing
    assert len(merged.cells) == 67 and merged.failures()


def test_reports_that_do_not_belong_together() -> None:
    shards = _shards(sample_matrix(), 2)
    with pytest.raises(UsageError, match="b: shard 1/2 again \\(also a\\)"):
        merge_results([shards[0], shards[0]], ["a", "b"], TABLE)
    other = shards[1].model_copy(update={"table": "aiortc+chromium"})
    with pytest.raises(UsageError, match="b: judged by table aiortc\\+chromium"):
        merge_results([shards[0], other], ["a", "b"], TABLE)
    assert shards[1].shard is not None
    replan = shards[1].shard.model_copy(update={"planned": shards[1].shard.planned[:-1]})
    with pytest.raises(UsageError, match="b: shard of another plan than a"):
        merge_results(
            [shards[0], shards[1].model_copy(update={"shard": replan})], ["a", "b"], TABLE
        )
    whole = sample_matrix()
    with pytest.raises(UsageError, match=r"cell .* is in two reports"):
        merge_results([whole, shards[0]], ["all", "a"], TABLE)


def test_cli_report_merge(tmp_path: Path) -> None:
    files = [
        str(write_json(s, tmp_path / f"shard-{i}.json"))
        for i, s in enumerate(_shards(sample_matrix(), 4))
    ]
    html, junit, merged = tmp_path / "m.html", tmp_path / "m.xml", tmp_path / "m.json"
    args = ["report", "merge", *files, "--html", str(html), "--junit", str(junit)]
    result = CliRunner().invoke(cli.main, [*args, "--json", str(merged)])
    assert result.exit_code == 1, result.output  # the sample run has cells that differ
    assert "59/67 as expected, 5 deviations, 3 differ (1 lab error)" in result.output
    assert html.is_file() and junit.is_file()
    assert len(json.loads(merged.read_text())["cells"]) == 67


def test_cli_report_merge_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"cells": 3}')
    result = CliRunner().invoke(cli.main, ["report", "merge", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: not a nattest matrix JSON report" in result.output
    result = CliRunner().invoke(cli.main, ["report", "merge", str(tmp_path / "none.json")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_cli_matrix_bad_shard() -> None:
    result = CliRunner().invoke(cli.main, ["matrix", "--shard", "5/4"])
    assert result.exit_code == 2
    assert "--shard '5/4': expected K/N with 1 ≤ K ≤ N" in result.output


def test_example_workflow_runs_every_shard_and_merges_them() -> None:
    """The GitHub Actions example: shards 1..N each run `--shard K/N`; one job merges."""
    import re

    import yaml

    flow = yaml.safe_load((Path(__file__).parents[2] / ".github/workflows/nat.yml").read_text())
    shards = flow["jobs"]["matrix"]["strategy"]["matrix"]["shard"]
    steps = " ".join(str(s.get("run", "")) for s in flow["jobs"]["matrix"]["steps"])
    (n,) = {int(m) for m in re.findall(r"--shard \$\{\{ matrix.shard \}\}/(\d+)", steps)}
    assert shards == list(range(1, n + 1))
    merge = " ".join(str(s.get("run", "")) for s in flow["jobs"]["report"]["steps"])
    assert "nattest report merge results/shard-*.json" in merge
    assert (
        flow["jobs"]["report"]["needs"] == "matrix" and flow["jobs"]["report"]["if"] == "always()"
    )


def test_cli_strict_fails_on_deviations_only(tmp_path: Path) -> None:
    """A run whose cells all work but five deviate: exit 0, and 1 with --strict."""
    from tests.fixtures.recorded_matrix import recorded_matrix

    clean = recorded_matrix()
    assert clean.verdict_counts() == {"as expected": 62, "deviation": 5, "differs": 0}
    files = [str(write_json(s, tmp_path / f"s{i}.json")) for i, s in enumerate(_shards(clean, 2))]
    relaxed = CliRunner().invoke(cli.main, ["report", "merge", *files])
    assert relaxed.exit_code == 0, relaxed.output
    assert "62/67 as expected, 5 deviations, 0 differ" in relaxed.output
    strict = CliRunner().invoke(cli.main, ["report", "merge", *files, "--strict"])
    assert strict.exit_code == 1 and "strict: deviations fail" in strict.output
