"""Lab records and names: unique across processes, claimed atomically, found from any shell."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from nattest.backends import records
from nattest.errors import LabError, LabExists, UsageError


@pytest.fixture(autouse=True)
def rundir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "run"
    monkeypatch.setenv("NATTEST_RUNDIR", str(path))
    return path


@pytest.mark.parametrize(
    ("stem", "prefix"),
    [
        ("symmetric", "symmetric-"),
        ("t-gw1", "t-gw1-"),
        ("Symmetric NAT!!", "symmetric-"),
        ("", "lab-"),
        ("-x-", "x-"),
        ("a" * 40, "a" * 10 + "-"),
    ],
)
def test_new_names_are_valid_and_keep_the_stem(stem: str, prefix: str) -> None:
    name = records.new_lab_name(stem)
    assert records.check_lab_name(name) == name and len(name) <= 16
    assert name.startswith(prefix) and len(name) == len(prefix) + records.SUFFIX_LEN


def test_new_names_are_unique() -> None:
    names = {records.new_lab_name("t-gw1") for _ in range(1000)}
    assert len(names) == 1000


@pytest.mark.parametrize("bad", ["", "-a", "a-", "UPPER", "a_b", "x" * 17])
def test_bad_names_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="lab name"):
        records.check_lab_name(bad)


def test_create_load_save_remove(rundir: Path) -> None:
    rec = records.LabRecord(name="demo", topology_source="x.yaml", namespaces=["nt-demo-a"])
    folder = records.create(rec)
    assert folder == rundir / "demo" and stat.S_IMODE(folder.stat().st_mode) == 0o700
    loaded = records.load("demo")
    assert loaded.namespaces == ["nt-demo-a"] and loaded.created > 0 and loaded.backend == "netns"
    loaded.services = {"turn": "turn:203.0.113.2:3478?transport=udp"}
    records.save(loaded)
    assert records.load("demo").services == loaded.services
    assert records.all_names() == ["demo"]
    with pytest.raises(LabExists, match="already exists"):
        records.create(records.LabRecord(name="demo"))
    records.remove("demo")
    assert records.all_names() == [] and not folder.exists()


def test_unknown_lab_lists_the_running_ones() -> None:
    records.create(records.LabRecord(name="one"))
    with pytest.raises(LabError, match=r"no lab named 'two' \(running labs: one\)"):
        records.load("two")
