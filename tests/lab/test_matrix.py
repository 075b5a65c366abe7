"""The connectivity matrix as a parametrized test: one real call per cell.

Select cells with -k, e.g. `pytest tests/lab/test_matrix.py -k "symmetric--port-restricted-cone"`.
`nattest matrix` runs the same cells concurrently with reports (what `make test-nat` runs).
"""

from __future__ import annotations

import pytest

from nattest.backends.netns import namespaces
from nattest.matrix.expectations import Expectation, load_expectations
from nattest.matrix.run import MatrixOptions, plan_cells, run_cell
from nattest.pytest_plugin import judge_cell
from nattest.report.call import summary

from .conftest import assert_nothing_left

TABLE = load_expectations()
CELLS = plan_cells(TABLE)


@pytest.mark.slow
@pytest.mark.parametrize("exp", CELLS, ids=[e.id for e in CELLS])
def test_cell(exp: Expectation, nattest_strict: bool) -> None:
    links = namespaces.host_links()
    cell = run_cell(exp, MatrixOptions(duration=0.5))
    assert cell.lab is not None
    assert_nothing_left(cell.lab, links)
    assert cell.error is None, f"{exp.id}: {cell.error}"
    assert cell.result is not None
    judge_cell(cell, nattest_strict, f"{TABLE.rule_text(exp)}\n\n{summary(cell.result)}")
