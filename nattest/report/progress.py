"""The matrix's live progress bar (stderr): cells done, deviations and cells that differ,
the last cell's verdict and pair."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from nattest.matrix.verdict import SYMBOLS, MatrixCell


@contextlib.contextmanager
def matrix_progress(console: Console, total: int) -> Iterator[Callable[[MatrixCell], None]]:
    """A bar for `total` cells; yields the callback to call as each cell finishes."""
    counts = {"deviation": 0, "differs": 0}
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]matrix[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[dark_orange]~{task.fields[deviation]}[/] [red]✘{task.fields[differs]}[/]"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("cells", total=total, last="", deviation=0, differs=0)

        def done(cell: MatrixCell) -> None:
            if cell.verdict in counts:
                counts[cell.verdict] += 1
            last = f"{SYMBOLS[cell.status]} {cell.id}: {cell.observed}"
            progress.update(
                task,
                advance=1,
                last=escape(last),
                deviation=counts["deviation"],
                differs=counts["differs"],
            )

        yield done


__all__ = ["matrix_progress"]
