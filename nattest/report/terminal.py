"""The matrix in a terminal: a rich colour grid, the relay-only row, a legend, the failures.

Rows are callers, columns callees; each cell shows the selected pair from the caller's
point of view (`srflx↔prflx`), `FAILED` when the call did not connect, or `ERROR` when the
lab could not run it. Green: as expected; red: differs (the expected pair is shown under
it); yellow: lab error. The CLI prints; this module only builds renderables.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from nattest.matrix.verdict import MatrixCell, MatrixResult, Status

SHORT_NAMES = {
    "open": "open",
    "full-cone": "full",
    "restricted-cone": "restricted",
    "port-restricted-cone": "port-restr.",
    "symmetric": "symmetric",
    "double-cone": "double-cone",
    "symmetric-then-cone": "sym→cone",
    "udp-blocked": "udp-blocked",
}
"""Column labels (the full names label the rows)."""

STYLES: dict[Status, str] = {
    "ok": "green",
    "mismatch": "bold red",
    "error": "yellow",
    "missing": "dim",
}
"""Style of a cell per status."""

LEGEND = (
    "[green]■ as expected[/]  [bold red]■ differs[/] (expected below)  [yellow]■ lab error[/]"
    "  [dim]· not run[/]   cell = selected pair, caller's local ↔ remote candidate type"
)
"""The one-line legend (rich markup)."""


def short_name(config: str) -> str:
    """Column label of a configuration."""
    return SHORT_NAMES.get(config, config)


def cell_text(cell: MatrixCell | None) -> Text:
    """One grid cell: the observed pair in its status colour, the expectation when it differs."""
    if cell is None:
        return Text("·", style="dim")
    text = Text(cell.observed, style=STYLES[cell.status])
    if cell.status == "mismatch":
        text.append(f"\n≠ {' | '.join(cell.expectation.pair) or 'no connection'}", "dim red")
    return text


def _grid_table(result: MatrixResult) -> Table:
    configs = result.grid_configs()
    table = Table(
        title="Connectivity matrix (policy all)",
        title_justify="left",
        show_lines=True,
        header_style="bold",
    )
    table.add_column("caller ↓  callee →", style="bold", no_wrap=True)
    for callee in configs:
        table.add_column(short_name(callee), justify="center", no_wrap=True)
    for caller in configs:
        row = [cell_text(result.cell(caller, callee)) for callee in configs]
        table.add_row(caller, *row)
    return table


def _relay_table(result: MatrixResult) -> Table | None:
    cells = result.relay_row()
    if not cells:
        return None
    table = Table(
        title="Relay only (iceTransportPolicy relay)",
        title_justify="left",
        show_lines=True,
        header_style="bold",
    )
    table.add_column("caller → callee", style="bold", no_wrap=True)
    for c in cells:
        table.add_column(f"TURN {c.turn_transport}", justify="center", no_wrap=True)
    pairs = sorted({f"{c.caller} → {c.callee}" for c in cells})
    for label in pairs:
        table.add_row(
            label,
            *(cell_text(c) if f"{c.caller} → {c.callee}" == label else Text("") for c in cells),
        )
    return table


def render_grid(result: MatrixResult) -> RenderableType:
    """The grid, the relay-only row and the legend, as one renderable."""
    parts: list[RenderableType] = [_grid_table(result)]
    relay = _relay_table(result)
    if relay is not None:
        parts.append(relay)
    parts.append(Text.from_markup(LEGEND))
    return Group(*parts)


def render_failures(result: MatrixResult) -> RenderableType:
    """One line per cell that is not as expected, with the short reason."""
    bad = result.not_ok()
    if not bad:
        return Text("Every cell as expected.", style="green")
    lines = Text()
    for i, c in enumerate(bad):
        if i:
            lines.append("\n")
        mark = "!" if c.status == "error" else "✗"
        lines.append(f"{mark} ", STYLES[c.status])
        lines.append(c.id, "bold")
        lines.append(f": {c.why}")
        if not c.expectation.confirmed and c.status == "mismatch":
            lines.append("  (expectation not yet confirmed by a real run)", "dim")
    return lines


def print_report(console: Console, result: MatrixResult) -> None:
    """Print the grid, the failures and a summary line."""
    console.print(render_grid(result))
    console.print()
    console.print(render_failures(result))
    counts = result.counts()
    style = "green" if counts["ok"] == len(result.cells) else "bold red"
    console.print(Text(result.summary_line(), style=style))
