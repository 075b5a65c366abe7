"""Reports of a matrix run: terminal grid, JUnit XML, HTML page, JSON round-trip.

The run is a real one, recorded (tests/fixtures/recorded_matrix.py), replayed with one
cell that differs (a direct pair succeeded in a relay cell), one lab error and one failed
call; several direct cells of the recording nominate a relayed pair (aiortc's first
success) and are as expected because their direct pair is on the valid list.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from rich.console import Console

from nattest.matrix.expectations import load_expectations
from nattest.matrix.verdict import MatrixCell, MatrixResult, call_timings, evaluate
from nattest.report import from_json, junit_xml, print_report, render_grid, render_html, to_json
from nattest.report.terminal import cell_text
from tests.fixtures.recorded_matrix import (
    DIRECT_CALL,
    ERROR,
    FAILED,
    FIRST_SUCCESS,
    MISMATCH,
    recorded_cell,
    sample_matrix,
)


@pytest.fixture(scope="module")
def run() -> MatrixResult:
    return sample_matrix()


def _by_id(run: MatrixResult, cell: str) -> MatrixCell:
    return next(c for c in run.cells if c.id == cell)


def test_sample_statuses(run: MatrixResult) -> None:
    assert len(run.cells) == 67
    assert run.counts() == {"ok": 64, "mismatch": 2, "error": 1, "missing": 0}
    direct = recorded_cell(DIRECT_CALL).result
    assert direct is not None and direct.selected_pair is not None
    assert _by_id(run, MISMATCH).observed == direct.selected_pair.short() == "srflx↔srflx"
    assert _by_id(run, FAILED).observed == "FAILED"
    assert _by_id(run, ERROR).observed == "ERROR"
    first = _by_id(run, FIRST_SUCCESS)
    assert (first.status, first.observed, first.path) == ("ok", "host↔relay", "relay")
    assert first.expectation.path == "direct"
    assert first.result is not None and first.result.direct_path


def test_sample_valid_lists_follow_the_table(run: MatrixResult) -> None:
    """The recorded calls are consistent: the nominated pair is valid on both sides, and a
    direct pair succeeded exactly where the table expects a direct path (but in MISMATCH)."""
    for cell in run.cells:
        call = cell.result
        if call is None or not call.connected:
            continue
        for peer in (call.caller, call.callee):
            assert peer.selected_pair in peer.valid_pairs, cell.id
        expected = cell.expectation.path == "direct" or cell.id == MISMATCH
        assert call.direct_path == expected, cell.id


def test_grid_colours_and_text(run: MatrixResult) -> None:
    assert cell_text(_by_id(run, MISMATCH)).style == "bold red"
    assert "≠ relay↔prflx | srflx↔relay | relay↔relay" in cell_text(_by_id(run, MISMATCH)).plain
    assert cell_text(_by_id(run, "symmetric--full-cone--all")).style == "green"
    assert cell_text(_by_id(run, FIRST_SUCCESS)).style == "green"
    assert "≠" not in cell_text(_by_id(run, FIRST_SUCCESS)).plain
    assert cell_text(_by_id(run, ERROR)).style == "yellow"
    console = Console(record=True, width=200, color_system="truecolor")
    console.print(render_grid(run))
    text = console.export_text(clear=False)
    for pair in ("srflx↔srflx", "host↔relay", "prflx↔relay", "FAILED", "ERROR", "TURN tls"):
        assert pair in text
    ansi = console.export_text(styles=True)
    assert re.search(r"\x1b\[1;31m\s*srflx↔srflx", ansi)  # bold red: differs
    assert re.search(r"\x1b\[32m\s*prflx↔srflx", ansi)  # green: as expected
    assert re.search(r"\x1b\[32m\s*host↔relay", ansi)  # green: relayed first success


def test_print_report_lists_failures(run: MatrixResult) -> None:
    console = Console(record=True, width=200)
    print_report(console, run)
    text = console.export_text()
    assert f"✗ {MISMATCH}: expected no direct path (a relay is needed)" in text
    assert "more permissive than declared" in text
    assert FIRST_SUCCESS not in text
    assert f"! {ERROR}: lab error: [nat-a]" in text
    assert "64/67 cells as expected, 2 differ, 1 lab error" in text


def test_junit_parses_and_counts(run: MatrixResult) -> None:
    root = ET.fromstring(junit_xml(run).encode("utf-8"))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("67", "2", "1")
    (suite,) = root.findall("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("skipped")) == (
        "nattest.matrix",
        "67",
        "0",
    )
    assert suite[0].tag == "properties"
    cases = suite.findall("testcase")
    assert {c.get("name") for c in cases} == {c.id for c in run.cells}
    assert {c.get("classname") for c in cases} == {"nattest.matrix"}
    for c in cases:
        float(c.get("time", "x"))
    failures = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failures) == {MISMATCH, FAILED}
    failure = failures[MISMATCH]
    assert failure is not None and failure.get("type") == "ExpectationMismatch"
    assert "but a direct pair succeeded" in (failure.get("message") or "")
    assert "Selected pair" in (failure.text or "")  # the call summary follows the reason
    errors = [c for c in cases if c.find("error") is not None]
    assert [c.get("name") for c in errors] == [ERROR]


def test_html_self_contained_with_every_cell(run: MatrixResult) -> None:
    page = render_html(run)
    assert page.startswith("<!DOCTYPE html>")
    for cell in run.cells:
        assert f'id="cell-{cell.id}"' in page
        assert f'href="#cell-{cell.id}"' in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "<script src" not in page
    for config in run.configs:  # legend: RFC 4787 behaviour of every configuration
        assert f"<td><b>{config}</b></td>" in page
    assert "address-and-port-dependent" in page and "endpoint-independent" in page


def test_html_escapes_result_text() -> None:
    exp = load_expectations().get("full-cone", "full-cone")
    cell = recorded_cell(exp.id)
    assert cell.result is not None
    evil = "<script>alert('sdp')</script> & a=candidate"
    caller = cell.result.caller.model_copy(update={"local_sdp": evil, "reason": "<b>x</b>"})
    call = cell.result.model_copy(update={"caller": caller})
    page = render_html(
        MatrixResult(cells=[evaluate(exp, call)], started=datetime.now(UTC), wall_time=1.0)
    )
    assert "<script>alert" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(&#x27;sdp&#x27;)&lt;/script&gt; &amp; a=candidate" in page


def test_json_round_trip(run: MatrixResult) -> None:
    text = to_json(run)
    assert '"currentRoundTripTime"' in text and '"packetsLost"' in text
    again = from_json(text)
    assert again == run
    assert to_json(again) == text


def test_media_failure_is_not_ok() -> None:
    exp = load_expectations().get("open", "open")
    cell = recorded_cell(exp.id)
    assert cell.ok and cell.result is not None
    callee = cell.result.callee.model_copy(
        update={"media": cell.result.callee.media.model_copy(update={"video_frames": 0})}
    )
    bad = evaluate(exp, cell.result.model_copy(update={"callee": callee}))
    assert not bad.ok and bad.status == "mismatch"
    assert bad.why.startswith("connected as expected, but media did not flow: bob decoded")


def test_call_timings(run: MatrixResult) -> None:
    cell = _by_id(run, "symmetric--full-cone--all")
    assert cell.result is not None
    t = call_timings(cell.result)
    assert set(t) == {"lab_setup", "gathering", "connecting", "media", "total"}
    assert 0 < t["gathering"] < t["total"]
    peers = (cell.result.caller, cell.result.callee)
    slower = max(p.time_to_connected or 0.0 for p in peers)
    assert t["connecting"] == pytest.approx(slower) and 0 < t["connecting"] < t["total"]
