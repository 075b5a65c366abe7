"""The connectivity matrix as a parametrized test: one real call per cell.

Select cells with -k, e.g. `pytest tests/lab/test_matrix.py -k "symmetric--port-restricted-cone"`.
`nattest matrix` runs the same cells concurrently with reports (what `make test-nat` runs).
A cell that fails keeps its evidence in `results/<cell id>/` (`--nattest-results`; pcaps
with `--nattest-capture`), as `nattest matrix` does.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from nattest.backends.netns import namespaces
from nattest.evidence.session import TestEvidence
from nattest.matrix.expectations import Expectation, load_expectations
from nattest.matrix.run import MatrixOptions, plan_cells, run_cell
from nattest.pytest_plugin import judge_cell
from nattest.report.call import summary

from .conftest import assert_nothing_left

TABLE = load_expectations()
CELLS = plan_cells(TABLE)


@pytest.mark.slow
@pytest.mark.parametrize("exp", CELLS, ids=[e.id for e in CELLS])
def test_cell(exp: Expectation, nattest_strict: bool, nattest_evidence: TestEvidence) -> None:
    links = namespaces.host_links()
    evidence = replace(nattest_evidence.options, strict=nattest_strict)
    cell = run_cell(exp, MatrixOptions(duration=0.5, evidence=evidence))
    assert cell.lab is not None
    assert_nothing_left(cell.lab, links)
    assert cell.error is None, f"{exp.id}: {cell.error}"
    assert cell.result is not None
    judge_cell(cell, nattest_strict, f"{TABLE.rule_text(exp)}\n\n{summary(cell.result)}")
