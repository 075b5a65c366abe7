"""`nattest check-turn` in a terminal: a table per URL and transport (✔/✘ per stage, its
time and what it found), then each diagnosis: the problem in plain words, the raw code,
the fix. Symbols carry the verdict without colour; no secret is part of a report."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from nattest.checks.turn.model import Diagnosis, TransportCheck, TurnReport


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _diagnosis(d: Diagnosis) -> Text:
    text = Text("  ✘ ", style="bold red")
    text.append(d.problem)
    text.append(f" [{d.id}]", style="dim")
    text.append("\n    fix: ", style="bold")
    text.append(d.fix)
    return text


def render_check(check: TransportCheck) -> RenderableType:
    """One URL over one transport."""
    verdict = Text("✔ works", style="bold green") if check.ok else Text("✘ fails", style="bold red")
    title = Text(check.url, style="bold")
    if check.server:
        title.append(f"  ({check.server})", style="dim")
    title.append("  ")
    title.append(verdict)
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, header_style="bold")
    for name in ("stage", "", "time", "what happened"):
        table.add_column(name, no_wrap=name != "what happened")
    for step in check.steps:
        mark = Text("✔", style="green") if step.ok else Text("✘", style="bold red")
        detail = step.detail + (
            f" ({step.raw})" if step.raw and step.raw not in step.detail else ""
        )
        table.add_row(step.step, mark, _ms(step.seconds), detail)
    parts: list[RenderableType] = [title, table]
    parts += [_diagnosis(d) for d in check.diagnoses]
    return Group(*parts)


def print_turn_report(console: Console, report: TurnReport) -> None:
    """Every check, the diagnoses across transports, and a summary line."""
    for check in report.checks:
        console.print(render_check(check))
    for d in report.diagnoses:
        console.print(_diagnosis(d))
    good = sum(c.ok for c in report.checks)
    who = f"user {report.username}" if report.username else "no credentials"
    line = (
        f"{good}/{len(report.checks)} transports work · {report.auth} credentials ({who}) · "
        f"{report.wall_time:.2f} s"
    )
    console.print(Text(line, style="bold green" if report.ok else "bold red"))


__all__ = ["print_turn_report", "render_check"]
