"""`nattest matrix --impair`: every cell's lab gets the impairment, reports say so, and
shards run on other links do not merge."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from rich.console import Console

from nattest import cli
from nattest.errors import UsageError
from nattest.matrix.expectations import load_expectations
from nattest.matrix.run import MatrixOptions, cell_topology, impairment_summary, plan_cells
from nattest.matrix.shard import merge_results
from nattest.model.impair import parse_impairment
from nattest.report import from_json, render_grid, render_html, to_json
from tests.fixtures.recorded_matrix import sample_matrix

TABLE = load_expectations()


def test_every_cell_gets_the_impairment() -> None:
    opts = MatrixOptions(impairments=("alice=delay:50ms", "nat-bob:wan=loss:1%"))
    for exp in plan_cells(TABLE):
        t = cell_topology(exp, opts)
        assert t.impairment("alice", "eth0") == parse_impairment("delay:50ms"), exp.id
        assert t.impairment("nat-bob", "wan") == parse_impairment("loss:1%"), exp.id
    assert impairment_summary(opts) == {"alice": "delay 50ms", "nat-bob:wan": "loss 1%"}


def test_bad_impairments_are_usage_errors_before_any_cell_runs() -> None:
    runner = CliRunner()
    for arg, message in [("carol=delay:1ms", "no link 'carol'"), ("alice=delay:1", "not a time")]:
        result = runner.invoke(cli.main, ["matrix", "--impair", arg])
        assert result.exit_code == 2, result.output
        assert message in result.output
    with pytest.raises(UsageError, match="no link 'carol'"):
        cell_topology(plan_cells(TABLE)[0], MatrixOptions(impairments=("carol=delay:1ms",)))


def test_reports_say_the_links_were_impaired() -> None:
    run = sample_matrix().model_copy(update={"impairments": {"alice": "delay 50ms"}})
    assert run.impairment_line() == "impaired links: alice delay 50ms"
    assert sample_matrix().impairment_line() == ""
    console = Console(record=True, width=80, color_system=None)
    console.print(render_grid(run))
    assert "impaired links: alice delay 50ms" in console.export_text()
    assert "impaired links: alice delay 50ms" in render_html(run)
    assert "impaired links" not in render_html(sample_matrix())
    assert from_json(to_json(run)).impairments == {"alice": "delay 50ms"}


def test_shards_on_other_links_do_not_merge() -> None:
    clean = sample_matrix()
    bad = clean.model_copy(update={"impairments": {"alice": "delay 50ms"}})
    with pytest.raises(UsageError, match=r"run with impairments none, a\.json with"):
        merge_results([bad, clean], ["a.json", "b.json"], TABLE)
