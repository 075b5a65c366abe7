"""Reports of a matrix run: terminal grid, JUnit XML, JSON and one self-contained HTML page.

Every renderer is pure (a MatrixResult in, text or a rich renderable out); the ``write_*``
helpers only write the file they are given::

    cell = evaluate(table.get("symmetric", "port-restricted-cone"), call_result)
    run = MatrixResult(cells=[cell, ...], configs=table.configs, started=..., wall_time=...)
    print_report(console, run); write_junit(run, "matrix.xml"); write_html(run, "matrix.html")
"""

from nattest.report.html import render_html, write_html
from nattest.report.jsonout import from_json, read_json, to_json, write_json
from nattest.report.junit import junit_xml, write_junit
from nattest.report.model import (
    TIMING_KEYS,
    MachineInfo,
    MatrixCell,
    MatrixResult,
    call_timings,
    evaluate,
)
from nattest.report.terminal import print_report, render_failures, render_grid

__all__ = [
    "TIMING_KEYS",
    "MachineInfo",
    "MatrixCell",
    "MatrixResult",
    "call_timings",
    "evaluate",
    "from_json",
    "junit_xml",
    "print_report",
    "read_json",
    "render_failures",
    "render_grid",
    "render_html",
    "to_json",
    "write_html",
    "write_json",
    "write_junit",
]
