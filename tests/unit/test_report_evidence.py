"""Reports point at the evidence failing cells kept: relative links in the HTML page (that
resolve to the files, wherever the page is written), a line in the terminal list, the
folder in the JSON. Passing cells link nothing."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from urllib.parse import unquote

import pytest
from rich.console import Console

from nattest.evidence.model import Evidence
from nattest.matrix.verdict import MatrixResult
from nattest.report import from_json, render_html, to_json, write_html
from nattest.report.html_links import evidence_href
from nattest.report.terminal import render_failures
from tests.fixtures.recorded_matrix import ERROR, MISMATCH, sample_matrix

FILES = [
    "cell.json",
    "call.json",
    "calls/ab12/alice.log",
    "pcap/alice.pcap",
    "pcap/nat-a.pcap",
    "repro.sh",
    "nt-mx-1-nat-a.nft",
]


def _with_evidence(results: Path) -> MatrixResult:
    run = sample_matrix()
    cells = [
        c.model_copy(update={"evidence": Evidence(folder=str(results / c.id), files=FILES)})
        if c.id in (MISMATCH, ERROR)
        else c
        for c in run.cells
    ]
    return run.model_copy(update={"cells": cells})


@pytest.mark.parametrize(
    ("folder", "file", "base", "href"),
    [
        ("results/a--b--all", "pcap/alice.pcap", "results", "a--b--all/pcap/alice.pcap"),
        ("results/a--b--all", "", "results", "a--b--all/"),
        ("results/a--b--all", "call.json", "out/html", "../../results/a--b--all/call.json"),
        ("results/x y", "calls/r/bob.log", "results", "x%20y/calls/r/bob.log"),
        ("/abs/results/c", "repro.sh", None, "/abs/results/c/repro.sh"),
    ],
)
def test_evidence_href(folder: str, file: str, base: str | None, href: str) -> None:
    assert evidence_href(folder, file, base) == href


def test_html_links_each_failing_cell_to_its_files(tmp_path: Path) -> None:
    results = tmp_path / "results"
    run = _with_evidence(results)
    for c in run.cells:
        if c.evidence is not None:
            for f in c.evidence.files:
                (Path(c.evidence.folder) / f).parent.mkdir(parents=True, exist_ok=True)
                (Path(c.evidence.folder) / f).write_text("x")
    for page_dir in (results, tmp_path / "reports" / "html"):
        page_dir.mkdir(parents=True, exist_ok=True)
        page = write_html(run, page_dir / "matrix.html").read_text()
        hrefs = [unquote(unescape(h)) for h in re.findall(r'href="([^"#][^"]*)"', page)]
        assert hrefs, "no evidence link"
        for href in hrefs:
            assert not href.startswith("/"), href  # relative: the folder can move with it
            assert (page_dir / href).exists(), href
        for cell_id in (MISMATCH, ERROR):
            folder = evidence_href(str(results / cell_id), base=page_dir)
            assert page.count(f'href="{folder}"') == 2  # in "Not as expected" and the cell
            assert f'href="{folder}pcap/alice.pcap"' in page
        assert len(hrefs) == 2 * (2 + len(FILES))  # nothing for the cells that pass


def test_html_lists_pcaps_first() -> None:
    page = render_html(_with_evidence(Path("results")), base="results")
    block = page[page.index(f"{MISMATCH}/pcap/alice.pcap") :]
    assert block.index("pcap/nat-a.pcap") < block.index("cell.json")


def test_terminal_names_the_evidence_folder() -> None:
    console = Console(width=200, record=True)
    console.print(render_failures(_with_evidence(Path("results"))))
    text = console.export_text()
    assert f"evidence: results/{MISMATCH}/, 2 pcaps" in text
    assert text.count("evidence: ") == 2


def test_evidence_survives_the_json_round_trip() -> None:
    run = _with_evidence(Path("results"))
    back = from_json(to_json(run))
    cell = next(c for c in back.cells if c.id == MISMATCH)
    assert cell.evidence == Evidence(folder=f"results/{MISMATCH}", files=FILES)
    assert cell.evidence.pcaps() == ["pcap/alice.pcap", "pcap/nat-a.pcap"]
    assert sum(c.evidence is not None for c in back.cells) == 2
