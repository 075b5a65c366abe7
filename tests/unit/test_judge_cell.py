"""The pytest form of a matrix verdict (``nattest.pytest_plugin.judge_cell``): a deviation
warns, or fails under --nattest-strict; a cell that differs fails; as expected passes."""

from __future__ import annotations

import pytest

from nattest.matrix.verdict import MatrixCell
from nattest.pytest_plugin import NattestDeviation, judge_cell
from tests.fixtures.recorded_matrix import FIRST_SUCCESS, MISMATCH, sample_matrix

pytest_plugins = ["pytester"]


def _cell(cell_id: str) -> MatrixCell:
    return next(c for c in sample_matrix().cells if c.id == cell_id)


def test_as_expected_passes_silently(recwarn: pytest.WarningsRecorder) -> None:
    judge_cell(_cell("symmetric--full-cone--all"), strict=True)
    assert not recwarn.list


def test_deviation_warns_and_fails_when_strict() -> None:
    cell = _cell(FIRST_SUCCESS)
    with pytest.warns(NattestDeviation, match=f"deviation: {FIRST_SUCCESS}: aiortc selected"):
        judge_cell(cell)
    with pytest.raises(pytest.fail.Exception, match="rule first-success"):
        judge_cell(cell, strict=True)


def test_differs_fails_with_details() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"(?s)differs: .*more permissive.*CALL"):
        judge_cell(_cell(MISMATCH), details="CALL")


def test_strict_option_reaches_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(nattest_strict):\n    assert nattest_strict is True\n")
    assert pytester.runpytest("--nattest-strict", "-p", "no:xdist").ret == 0
    pytester.makeini("[pytest]\nnattest_strict = true\n")
    assert pytester.runpytest("-p", "no:xdist").ret == 0
