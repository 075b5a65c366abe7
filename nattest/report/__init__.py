"""Renderers only: a MatrixResult, a CallResult or a lab's status in, text or a file out.

- ``terminal``: the colour grid and the cells that differ (rich);
- ``junit``, ``jsonout``, ``html``: JUnit XML, JSON, one self-contained HTML page;
- ``call``: a call as plain text (CLI, pytest assertion messages, JUnit system-out);
- ``status``: the `nattest status` table of running labs.

Every renderer is pure; the ``write_*`` helpers only write the file they are given::

    print_report(console, run); write_junit(run, "matrix.xml"); write_html(run, "matrix.html")

Judging cells is ``nattest.matrix.verdict``, not a renderer's job.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nattest.report.call import summary
    from nattest.report.html import render_html, write_html
    from nattest.report.jsonout import from_json, read_json, to_json, write_json
    from nattest.report.junit import junit_xml, write_junit
    from nattest.report.terminal import print_report, render_failures, render_grid

_HOME = {
    "summary": "call",
    "render_html": "html",
    "write_html": "html",
    "from_json": "jsonout",
    "read_json": "jsonout",
    "to_json": "jsonout",
    "write_json": "jsonout",
    "junit_xml": "junit",
    "write_junit": "junit",
    "print_report": "terminal",
    "render_failures": "terminal",
    "render_grid": "terminal",
}
"""Where each name lives: imported on first use, so `nattest up` (which prints a status
table) does not load the HTML and JUnit renderers."""


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'nattest.report' has no attribute {name!r}")
    return getattr(importlib.import_module(f"nattest.report.{_HOME[name]}"), name)


__all__ = [
    "from_json",
    "junit_xml",
    "print_report",
    "read_json",
    "render_failures",
    "render_grid",
    "render_html",
    "summary",
    "to_json",
    "write_html",
    "write_json",
    "write_junit",
]
