"""The matrix as JUnit XML, for CI: one testcase per cell.

Layout of the common JUnit schema (Jenkins/Ant ``junit-10.xsd``, which GitLab, GitHub
actions and Jenkins read)::

    <testsuites name="nattest" tests= failures= errors= time=>
      <testsuite name="nattest.matrix" tests= failures= errors= skipped= time= timestamp= hostname=>
        <properties><property name= value=/>...</properties>
        <testcase classname="nattest.matrix" name="<cell id>" time=>
          <properties><property name="verdict" value="as expected|deviation|differs"/>
            <property name="selected_pair" value=.../></properties>
          <failure message="<why>" type="ExpectationMismatch">why + call summary</failure>
          | <failure message="<why>" type="Deviation">...</failure>   (strict only)
          | <error message="<error>" type="LabError">...</error>
          | <skipped message="not run"/>
          <system-out>verdict, why, expected, observed, timings, the call</system-out>
        </testcase>

Every cell stays a testcase with its id as name. A deviation passes (its verdict is in the
properties and system-out) unless the run is strict, where it is a failure.
      </testsuite>
    </testsuites>
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from nattest.matrix.verdict import MatrixCell, MatrixResult
from nattest.report.call import summary

CLASSNAME = "nattest.matrix"
"""classname of every testcase (and name of the testsuite)."""


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot carry, even escaped."""


def _clean(text: str) -> str:
    """Text safe for an XML attribute or element (invalid characters become U+FFFD)."""
    return _NOT_XML.sub("\ufffd", text)


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _cell_time(cell: MatrixCell) -> float:
    return cell.timings.get("total", 0.0)


def _details(cell: MatrixCell) -> str:
    exp = cell.expectation
    lines = [
        cell.why or "as expected",
        "",
        f"expected: {exp.describe()} (rule {exp.rule}, basis {exp.basis}, "
        f"{'confirmed' if exp.confirmed else 'not yet confirmed by a real run'})",
        f"observed: {cell.observed}" + (f" ({cell.path})" if cell.path else ""),
    ]
    if cell.timings:
        lines.append("timings: " + ", ".join(f"{k} {v:.3f} s" for k, v in cell.timings.items()))
    if cell.result is not None:
        lines += ["", summary(cell.result)]
    return "\n".join(lines)


def _testcase(cell: MatrixCell, strict: bool) -> ET.Element:
    case = ET.Element(
        "testcase", classname=CLASSNAME, name=cell.id, time=_seconds(_cell_time(cell))
    )
    props = ET.SubElement(case, "properties")
    ET.SubElement(props, "property", name="verdict", value=cell.verdict)
    ET.SubElement(props, "property", name="selected_pair", value=_clean(cell.observed))
    status = cell.status
    if status == "deviation" and strict:
        failure = ET.SubElement(case, "failure", message=_clean(cell.why), type="Deviation")
        failure.text = _clean(_details(cell))
    elif status == "mismatch":
        failure = ET.SubElement(
            case, "failure", message=_clean(cell.why), type="ExpectationMismatch"
        )
        failure.text = _clean(_details(cell))
    elif status == "error":
        error = ET.SubElement(case, "error", message=_clean(cell.error or ""), type="LabError")
        error.text = _clean(_details(cell))
    elif status == "missing":
        ET.SubElement(case, "skipped", message="not run")
    out = ET.SubElement(case, "system-out")
    out.text = _clean(f"verdict: {cell.verdict}\n" + _details(cell))
    return case


def junit_element(result: MatrixResult, strict: bool = False) -> ET.Element:
    """The `<testsuites>` element of a matrix run (`strict`: deviations are failures)."""
    counts = result.counts()
    tests = str(len(result.cells))
    failed = counts["mismatch"] + (counts["deviation"] if strict else 0)
    failures, errors = str(failed), str(counts["error"])
    time = _seconds(result.wall_time)
    root = ET.Element(
        "testsuites", name="nattest", tests=tests, failures=failures, errors=errors, time=time
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name=CLASSNAME,
        tests=tests,
        failures=failures,
        errors=errors,
        skipped=str(counts["missing"]),
        time=time,
        timestamp=result.started.replace(tzinfo=None, microsecond=0).isoformat(),
        hostname=result.machine.hostname or "localhost",
    )
    props = ET.SubElement(suite, "properties")
    machine = {"system": result.machine.system, "python": result.machine.python}
    machine.update(result.machine.versions)
    for key, value in machine.items():
        if value:
            ET.SubElement(props, "property", name=key, value=value)
    ET.SubElement(props, "property", name="strict", value=str(strict).lower())
    ET.SubElement(props, "property", name="summary", value=result.summary_line())
    for cell in result.cells:
        suite.append(_testcase(cell, strict))
    return root


def junit_xml(result: MatrixResult, strict: bool = False) -> str:
    """JUnit XML text of a matrix run (UTF-8 declaration included)."""
    root = junit_element(result, strict)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def write_junit(result: MatrixResult, path: str | Path, strict: bool = False) -> Path:
    """Write the JUnit XML file; returns its path."""
    p = Path(path)
    p.write_text(junit_xml(result, strict), encoding="utf-8")
    return p
