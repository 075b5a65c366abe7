"""The matrix in a terminal, readable in an 80-column CI log without colour.

Rows are callers, columns callees, each labelled with a short name (legend printed once).
A cell is a verdict symbol and the selected pair in one-letter candidate types, caller's
view: ``✔ S↔P`` as expected, ``~ R↔H`` a deviation (works, but not the pair a standard
agent selects), ``✘ R↔R`` differs, ``✘ FAIL`` no connection, ``✘ ERR`` the lab could not
run it. Colour repeats the symbol (green, amber, red) and is never the only signal. The
long explanations go in a list below the grid, each deviation rule's reasoning once. The
CLI prints; this module only builds renderables.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from nattest.matrix.verdict import SYMBOLS, MatrixCell, MatrixResult, Status

SHORT_NAMES = {
    "open": "open",
    "full-cone": "full",
    "restricted-cone": "restr",
    "port-restricted-cone": "port",
    "symmetric": "sym",
    "double-cone": "dbl",
    "symmetric-then-cone": "sym+c",
    "udp-blocked": "noUDP",
}
"""Row and column labels (≤ 5 characters; the legend gives the full names)."""
TYPE_LETTERS = {"host": "H", "srflx": "S", "prflx": "P", "relay": "R"}
"""One-letter candidate types of the grid (RFC 8445 5.1.1)."""

STYLES: dict[Status, str] = {
    "ok": "green",
    "deviation": "dark_orange",
    "mismatch": "bold red",
    "error": "bold red",
    "missing": "dim",
}
"""Colour of a cell per status."""


def short_name(config: str) -> str:
    """Row/column label of a configuration."""
    return SHORT_NAMES.get(config, config[:5])


def short_pair(pair: str) -> str:
    """`srflx↔prflx` → `S↔P`."""
    return "↔".join(TYPE_LETTERS.get(t, t[:1].upper()) for t in pair.split("↔"))


def cell_label(cell: MatrixCell) -> str:
    """`✔ S↔P`, `~ R↔H`, `✘ FAIL`, `✘ ERR`, `·`."""
    observed = cell.observed
    if cell.status == "missing":
        return SYMBOLS["missing"]
    shown = {"ERROR": "ERR", "FAILED": "FAIL", "no pair": "?"}.get(observed)
    return f"{SYMBOLS[cell.status]} {shown or short_pair(observed)}"


def cell_text(cell: MatrixCell | None) -> Text:
    """One grid cell in its verdict colour."""
    if cell is None:
        return Text("·", style="dim")
    return Text(cell_label(cell), style=STYLES[cell.status])


def _table() -> Table:
    return Table(
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        header_style="bold",
    )


def _grid_table(result: MatrixResult) -> Table:
    configs = result.grid_configs()
    table = _table()
    table.add_column("", style="bold", no_wrap=True)
    for callee in configs:
        table.add_column(short_name(callee), no_wrap=True)
    for caller in configs:
        row = [cell_text(result.cell(caller, callee)) for callee in configs]
        table.add_row(short_name(caller), *row)
    return table


def _relay_lines(result: MatrixResult) -> Text | None:
    cells = result.relay_row()
    if not cells:
        return None
    text = Text("Relay only (iceTransportPolicy relay):", style="bold")
    pairs = sorted({(c.caller, c.callee) for c in cells})
    for caller, callee in pairs:
        text.append(f"\n{short_name(caller)} → {short_name(callee)}  ")
        for c in cells:
            if (c.caller, c.callee) == (caller, callee):
                text.append(f" TURN {c.turn_transport} ")
                text.append(cell_label(c), STYLES[c.status])
    return text


def legend(result: MatrixResult) -> Text:
    """The symbols, the pair letters and the short names, once."""
    text = Text()
    for status, label in (
        ("ok", "as expected"),
        ("deviation", "deviation (works, but not the standard pair)"),
        ("mismatch", "differs"),
    ):
        text.append(f"{SYMBOLS[status]} {label}", STYLES[status])  # type: ignore[index]
        text.append("   ")
    text.append("\ncell = selected pair, caller's local↔remote: H host, S srflx, P prflx, R relay")
    names = [f"{short_name(c)}={c}" for c in result.grid_configs() if short_name(c) != c]
    if names:
        text.append("\n" + ", ".join(names), "dim")
    return text


def render_grid(result: MatrixResult) -> RenderableType:
    """The grid, the relay-only row and the legend, as one renderable."""
    kinds = f"{result.caller_kind} → {result.callee_kind}"
    title = Text(f"Connectivity matrix, {kinds}, policy all", style="bold")
    title.append(" (rows: caller, columns: callee)", style="dim")
    if result.impairments:
        title.append(f"\n{result.impairment_line()}", style="bold yellow")
    parts: list[RenderableType] = [title, _grid_table(result)]
    relay = _relay_lines(result)
    if relay is not None:
        parts.append(relay)
    parts.append(legend(result))
    return Group(*parts)


def render_failures(result: MatrixResult) -> RenderableType:
    """One line per cell that is not as expected, then each deviation rule's reasoning."""
    bad = result.not_ok()
    if not bad:
        return Text("Every cell as expected.", style="green")
    lines = Text()
    for c in sorted(bad, key=lambda c: c.status != "deviation"):
        lines.append(f"{SYMBOLS[c.status]} ", STYLES[c.status])
        lines.append(c.id, "bold")
        lines.append(f": {c.why}")
        if not c.expectation.confirmed and c.status == "mismatch":
            lines.append("  (expectation not yet confirmed by a real run)", "dim")
        if c.evidence is not None:
            pcaps = f", {len(c.evidence.pcaps())} pcaps" if c.evidence.pcaps() else ""
            lines.append(f"\n    evidence: {c.evidence.folder.rstrip('/')}/{pcaps}", "dim")
        lines.append("\n")
    rules = sorted({c.expectation.deviation_rule or "" for c in bad if c.deviation} - {""})
    for rule in rules:
        lines.append(f"rule {rule}", "bold dark_orange")
        lines.append(f" (docs/matrix.md#{rule}): {result.rules.get(rule, '')}\n", "dim")
    lines.rstrip()
    return lines


def print_report(console: Console, result: MatrixResult, strict: bool = False) -> None:
    """Print the grid, the cells not as expected and a summary line (red when the run
    fails: a cell differs, or with `strict` a deviation)."""
    console.print(render_grid(result))
    console.print()
    console.print(render_failures(result))
    failed = result.failures(strict)
    style = "bold red" if failed else "dark_orange" if result.not_ok() else "green"
    line = result.summary_line() + (" · strict: deviations fail" if strict else "")
    console.print(Text(line, style=style))
