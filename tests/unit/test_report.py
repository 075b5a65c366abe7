"""Reports of a matrix run: terminal grid, JUnit XML, HTML page, JSON round-trip.

The run is a real one, recorded (tests/fixtures/recorded_matrix.py), replayed with one
cell that differs (a direct pair succeeded in a relay cell), one lab error and one failed
call; five direct cells of the recording nominate a relayed pair although their direct
pair succeeded (aiortc's first success): deviations, amber, not failures unless strict.
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
from nattest.report.terminal import SHORT_NAMES, cell_text
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
    assert run.counts() == {"ok": 59, "deviation": 5, "mismatch": 2, "error": 1, "missing": 0}
    assert run.verdict_counts() == {"as expected": 59, "deviation": 5, "differs": 3}
    direct = recorded_cell(DIRECT_CALL).result
    assert direct is not None and direct.selected_pair is not None
    assert _by_id(run, MISMATCH).observed == direct.selected_pair.short() == "srflx↔srflx"
    assert _by_id(run, FAILED).observed == "FAILED"
    assert _by_id(run, ERROR).observed == "ERROR"
    first = _by_id(run, FIRST_SUCCESS)
    assert (first.status, first.observed, first.path) == ("deviation", "host↔relay", "relay")
    assert first.expectation.path == "direct"
    assert first.result is not None and first.result.direct_path
    assert first.why == (
        "aiortc selected host↔relay, a relayed pair, although a direct pair succeeded; a "
        "standard agent (RFC 8445, libwebrtc) selects host↔srflx (rule first-success)"
    )
    assert first.passed() and not first.passed(strict=True)
    assert {c.id for c in run.failures()} == {MISMATCH, ERROR, FAILED}
    assert len(run.failures(strict=True)) == 8


def test_deviation_only_for_a_listed_pair_that_works(run: MatrixResult) -> None:
    """A call on the standard pair is as expected; a deviating call whose media failed
    differs (the deviation never hides a failure)."""
    standard = recorded_cell("full-cone--full-cone--all")
    assert standard.ok and standard.result is not None
    assert standard.result.selected_pair is not None
    assert standard.result.selected_pair.short() == standard.expectation.rfc_pair
    first = _by_id(run, FIRST_SUCCESS)
    assert first.result is not None
    callee = first.result.callee.model_copy(
        update={"media": first.result.callee.media.model_copy(update={"audio_frames": 0})}
    )
    broken = evaluate(first.expectation, first.result.model_copy(update={"callee": callee}))
    assert broken.verdict == "differs" and "media did not flow" in broken.why


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


def test_grid_symbols_and_colours(run: MatrixResult) -> None:
    assert cell_text(_by_id(run, MISMATCH)).plain == "✘ S↔S"
    assert cell_text(_by_id(run, MISMATCH)).style == "bold red"
    assert cell_text(_by_id(run, "symmetric--full-cone--all")).plain == "✔ P↔S"
    assert cell_text(_by_id(run, "symmetric--full-cone--all")).style == "green"
    assert cell_text(_by_id(run, FIRST_SUCCESS)).plain == "~ H↔R"
    assert cell_text(_by_id(run, FIRST_SUCCESS)).style == "dark_orange"
    assert cell_text(_by_id(run, ERROR)).plain == "✘ ERR"
    assert cell_text(_by_id(run, FAILED)).plain == "✘ FAIL"
    console = Console(record=True, width=200, color_system="truecolor")
    console.print(render_grid(run))
    text = console.export_text(clear=False)
    for label in ("✘ S↔S", "~ H↔R", "✔ P↔R", "✘ FAIL", "✘ ERR", "TURN tls"):
        assert label in text
    assert "noUDP=udp-blocked" in text and "R relay" in text  # the legend, once
    ansi = console.export_text(styles=True)
    assert re.search(r"\x1b\[1;31m✘ S↔S", ansi)  # bold red: differs
    assert re.search(r"\x1b\[32m✔ P↔S", ansi)  # green: as expected
    assert re.search(r"\x1b\[38;5;208m~ H↔R", ansi)  # amber: deviation


@pytest.mark.parametrize("color", [False, True])
def test_report_fits_80_columns(run: MatrixResult, color: bool) -> None:
    """As in a CI log: 80 columns, no TTY; with or without colour nothing is cut and every
    row of the grid keeps its eight cells."""
    console = Console(record=True, width=80, no_color=not color, force_terminal=color)
    print_report(console, run)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    labels = set(SHORT_NAMES.values())
    rows = [ln for ln in lines if ln.split()[:1] and ln.split()[0] in labels and "✔" in ln]
    rows = [ln for ln in rows if "TURN" not in ln]
    assert len(rows) == 8
    for line in rows:
        assert sum(line.count(sym) for sym in "✔~✘") == 8, line
    assert "…" not in text


def test_print_report_lists_failures(run: MatrixResult) -> None:
    console = Console(record=True, width=200)
    print_report(console, run)
    text = console.export_text()
    assert f"✘ {MISMATCH}: expected no direct path (a relay is needed)" in text
    assert "more permissive than declared" in text
    assert f"~ {FIRST_SUCCESS}: aiortc selected host↔relay" in text
    assert "rule first-success (docs/matrix.md#first-success): Where a direct path" in text
    assert text.count("rule first-success (docs") == 1  # each rule's reasoning once
    assert f"✘ {ERROR}: lab error: [nat-a]" in text
    assert "59/67 as expected, 5 deviations, 3 differ (1 lab error)" in text


def test_strict_summary(run: MatrixResult) -> None:
    console = Console(record=True, width=200)
    print_report(console, run, strict=True)
    assert "strict: deviations fail" in console.export_text()


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
    verdicts = {
        c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")}["verdict"]
        for c in cases
    }
    assert verdicts[FIRST_SUCCESS] == "deviation" and verdicts[MISMATCH] == "differs"
    assert list(verdicts.values()).count("as expected") == 59
    dev = next(c for c in cases if c.get("name") == FIRST_SUCCESS)
    assert "verdict: deviation" in (dev.findtext("system-out") or "")
    failure = failures[MISMATCH]
    assert failure is not None and failure.get("type") == "ExpectationMismatch"
    assert "but a direct pair succeeded" in (failure.get("message") or "")
    assert "Selected pair" in (failure.text or "")  # the call summary follows the reason
    errors = [c for c in cases if c.find("error") is not None]
    assert [c.get("name") for c in errors] == [ERROR]


def test_junit_strict_fails_deviations(run: MatrixResult) -> None:
    root = ET.fromstring(junit_xml(run, strict=True).encode("utf-8"))
    assert root.get("failures") == "7"
    cases = list(root.iter("testcase"))
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    deviation = failed[FIRST_SUCCESS]
    assert deviation is not None and deviation.get("type") == "Deviation"


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


def test_html_shows_deviations_in_amber_with_the_standard_pair(run: MatrixResult) -> None:
    page = render_html(run)
    cell = re.search(rf'<td class="deviation[^"]*"><a href="#cell-{FIRST_SUCCESS}".*?</td>', page)
    assert cell is not None
    assert "~ host↔relay" in cell.group(0) and "standard: host↔srflx" in cell.group(0)
    assert '<span class="pill deviation">~ 5 deviations</span>' in page
    assert "~ deviation: aiortc selected host↔relay" in page
    assert "(docs/matrix.md#first-success): Where a direct path exists" in page


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
    assert '"verdict": "deviation"' in text  # for machines; derived again on reading


def test_media_failure_is_not_ok() -> None:
    exp = load_expectations().get("open", "open")
    cell = recorded_cell(exp.id)
    assert cell.passed() and cell.result is not None
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
