"""The whole aiortc matrix on the docker backend: the same 67 cells, judged against the same
expectation table as on netns (the labs are the same plan, so the verdicts must be too)."""

from __future__ import annotations

import pytest

from nattest.matrix.run import MatrixOptions, plan_cells, run_matrix


@pytest.mark.slow
@pytest.mark.alone
def test_the_matrix_on_containers_has_the_netns_verdicts() -> None:
    opts = MatrixOptions(backend="docker")
    table = opts.table()
    result = run_matrix(plan_cells(table), opts, table)
    assert len(result.cells) == 67
    differ = [f"{c.id}: {c.status} {c.error or ''}" for c in result.cells if c.verdict == "differs"]
    assert not differ, "\n".join(differ)
    # a deviation is aiortc's first-success nomination of a relay: still a direct path found
    for cell in result.cells:
        if cell.verdict == "deviation":
            assert cell.result is not None and cell.result.direct_path, cell.id
