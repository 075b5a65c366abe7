"""The matrix's live progress bar (stderr): cells done, failures, the last cell's pair."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from nattest.matrix.verdict import MatrixCell


@contextlib.contextmanager
def matrix_progress(console: Console, total: int) -> Iterator[Callable[[MatrixCell], None]]:
    """A bar for `total` cells; yields the callback to call as each cell finishes."""
    failed = 0
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]matrix[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed[/]"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("cells", total=total, failed=0, last="")

        def done(cell: MatrixCell) -> None:
            nonlocal failed
            failed += 0 if cell.ok else 1
            progress.update(task, advance=1, failed=failed, last=f"{cell.id}: {cell.observed}")

        yield done


__all__ = ["matrix_progress"]
