"""The connectivity matrix as a parametrized test: one real call per cell.

Select cells with -k, e.g. `pytest tests/lab/test_matrix.py -k "symmetric--port-restricted-cone"`
(Chromium's cells are `chromium-chromium:<cell id>`).
`nattest matrix` runs the same cells concurrently with reports (what `make test-nat` runs).
A cell that fails keeps its evidence in `results/<cell id>/` (`--nattest-results`; pcaps
with `--nattest-capture`), as `nattest matrix` does.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from nattest.backends.netns import namespaces
from nattest.evidence.session import TestEvidence
from nattest.matrix.expectations import Expectation, load_expectations, table_name
from nattest.matrix.run import MatrixOptions, plan_cells, run_cell
from nattest.pytest_plugin import judge_cell
from nattest.report.call import summary

from .conftest import assert_nothing_left

KIND_PAIRS = [("aiortc", "aiortc"), ("chromium", "chromium")]
"""The full matrix per kind pair, each judged by its own table (docs/matrix.md): aiortc on
both sides, and Chromium on both sides against libwebrtc's own matrix. (The mixed tables are
confirmed by `nattest matrix --caller chromium --callee aiortc` and the other way round;
their scenarios are in test_chromium.py.)"""
PLAN = [
    (caller, callee, exp)
    for caller, callee in KIND_PAIRS
    for exp in plan_cells(load_expectations(table_name(caller, callee)))
]


def _param(caller: str, callee: str, exp: Expectation) -> object:
    kinds = "" if (caller, callee) == ("aiortc", "aiortc") else f"{caller}-{callee}:"
    marks = [pytest.mark.slow]
    if "chromium" in (caller, callee):
        marks.append(pytest.mark.alone)  # two browsers: the CPU to themselves
    return pytest.param(caller, callee, exp, id=f"{kinds}{exp.id}", marks=marks)


@pytest.mark.parametrize(("caller", "callee", "exp"), [_param(*p) for p in PLAN])
def test_cell(
    caller: str,
    callee: str,
    exp: Expectation,
    nattest_strict: bool,
    nattest_evidence: TestEvidence,
) -> None:
    table = load_expectations(table_name(caller, callee))
    links = namespaces.host_links()
    evidence = replace(nattest_evidence.options, strict=nattest_strict)
    options = MatrixOptions(duration=0.5, evidence=evidence, caller_kind=caller, callee_kind=callee)
    cell = run_cell(exp, options)
    assert cell.lab is not None
    assert_nothing_left(cell.lab, links)
    assert cell.error is None, f"{exp.id}: {cell.error}"
    assert cell.result is not None
    judge_cell(cell, nattest_strict, f"{table.rule_text(exp)}\n\n{summary(cell.result)}")
