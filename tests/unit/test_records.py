"""Lab records (`nattest.backends.records`): generated names, the name rule, and the
create/load/save/remove round trip in a private NATTEST_RUNDIR."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from nattest.backends import records
from nattest.backends.records import LabRecord
from nattest.errors import LabError, LabExists, UsageError

SUFFIX = re.compile(r"-[a-z0-9]{5}$")


@pytest.fixture(autouse=True)
def rundir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private registry folder (not created yet: `create` must make it)."""
    path = tmp_path / "run"
    monkeypatch.setenv("NATTEST_RUNDIR", str(path))
    return path


# --- new_lab_name --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stem", "prefix"),
    [
        ("symmetric", "symmetric"),
        ("double-nat", "double-nat"),
        ("port-restricted-cone", "port-restr"),
        ("mx", "mx"),
        ("t-gw1", "t-gw1"),
        ("Symmetric NAT!!", "symmetric"),
        ("", "lab"),
        ("---", "lab"),
        ("!!!", "lab"),
        ("  spaced  out ", "spaced-ou"),  # cut to 10, then stripped
        ("a" * 40, "a" * 10),
        ("Ünïcode", "n-code"),
        ("under_score", "under-scor"),
        ("9lives", "9lives"),
    ],
)
def test_new_lab_name_keeps_cleaned_prefix(stem: str, prefix: str) -> None:
    """A valid name ≤ 16 characters: the cleaned stem, a dash, five random characters."""
    name = records.new_lab_name(stem)
    assert len(name) <= 16
    assert records.check_lab_name(name) == name
    assert records.LAB_NAME_RE.match(name)
    assert SUFFIX.search(name)
    assert name[: -len("-xxxxx")] == prefix


def test_new_lab_name_is_unique() -> None:
    """1000 names from one stem are 1000 different names."""
    names = {records.new_lab_name("symmetric") for _ in range(1000)}
    assert len(names) == 1000


def test_new_lab_name_never_ends_prefix_with_dash() -> None:
    """A stem cut right after a dash does not give `stem--xxxxx`."""
    name = records.new_lab_name("abcdefghi-jklmnop")  # cut at 10 chars: "abcdefghi-"
    assert name.startswith("abcdefghi-")
    assert "--" not in name


# --- check_lab_name ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "0", "a-b", "demo", "a" * 16, "x1-y2-z3"])
def test_check_lab_name_accepts(name: str) -> None:
    """Good names come back unchanged."""
    assert records.check_lab_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-a", "a-", "-", "A", "Demo", "a_b", "a.b", " a", "a b", "a" * 17, "é"]
)
def test_check_lab_name_rejects(name: str) -> None:
    """Bad names are a UsageError (exit 2) that quotes the name and states the rule."""
    with pytest.raises(UsageError) as info:
        records.check_lab_name(name)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert f"lab name {name!r}" in message
    assert "1-16 lowercase letters, digits and '-'" in message


# --- the registry --------------------------------------------------------------------------


def test_rundir_follows_environment(rundir: Path) -> None:
    """NATTEST_RUNDIR is the registry; a lab's folder is under it."""
    assert records.rundir() == rundir
    assert records.lab_dir("demo") == rundir / "demo"


def test_rundir_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without NATTEST_RUNDIR: /run/nattest."""
    monkeypatch.delenv("NATTEST_RUNDIR")
    assert records.rundir() == Path("/run/nattest")


def test_empty_registry(rundir: Path) -> None:
    """No folder yet: no labs, and nothing is created by asking."""
    assert records.all_names() == []
    assert not rundir.exists()


def test_round_trip(rundir: Path) -> None:
    """create → load → save → load → all_names → remove."""
    record = LabRecord(
        name="demo",
        topology_source="/tmp/symmetric.yaml",
        topology={"name": "symmetric"},
        namespaces=["nt-demo-alice", "nt-demo-bob"],
        owner_pid=1234,
    )
    folder = records.create(record)
    assert folder == rundir / "demo"
    assert (folder / "lab.json").is_file()
    assert record.created > 0, "create stamps the creation time"

    loaded = records.load("demo")
    assert loaded == record
    assert loaded.backend == "netns"

    loaded.services = {"turn": "turn:203.0.113.2:3478"}
    records.save(loaded)
    assert records.load("demo").services == {"turn": "turn:203.0.113.2:3478"}
    assert not (folder / "lab.json.tmp").exists(), "save replaces atomically, no temp left"
    assert json.loads((folder / "lab.json").read_text())["namespaces"] == record.namespaces

    records.create(LabRecord(name="alpha"))
    assert records.all_names() == ["alpha", "demo"]

    records.remove("demo")
    assert not folder.exists()
    assert records.all_names() == ["alpha"]
    records.remove("demo")  # forgetting twice is harmless


def test_create_keeps_given_created_time() -> None:
    """A record that already has a creation time keeps it."""
    records.create(LabRecord(name="old", created=42.0))
    assert records.load("old").created == 42.0


def test_lab_folder_is_private(rundir: Path) -> None:
    """The lab folder is mode 0700 (it holds TURN secrets and logs)."""
    folder = records.create(LabRecord(name="demo"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_create_twice_is_lab_exists() -> None:
    """The second claim of a name fails with LabExists, a usage error naming the lab."""
    records.create(LabRecord(name="demo", owner_pid=1))
    with pytest.raises(LabExists) as info:
        records.create(LabRecord(name="demo", owner_pid=2))
    assert isinstance(info.value, UsageError)
    assert info.value.exit_code == 2
    assert "lab 'demo' already exists" in str(info.value)
    assert "nattest down demo" in str(info.value)
    assert records.load("demo").owner_pid == 1, "the first record is untouched"


def test_load_unknown_names_running_labs() -> None:
    """`load` of a lab that is not there: LabError listing the running labs."""
    with pytest.raises(LabError, match=r"no lab named 'nosuch' \(running labs: none\)"):
        records.load("nosuch")
    records.create(LabRecord(name="beta"))
    records.create(LabRecord(name="alpha"))
    with pytest.raises(LabError, match=r"\(running labs: alpha, beta\)"):
        records.load("nosuch")


def test_folder_without_record_is_not_a_lab(rundir: Path) -> None:
    """A folder with no lab.json (say a half-removed one) is not listed."""
    (rundir / "stray").mkdir(parents=True)
    (rundir / "stray" / "lab.json.tmp").write_text("{}")
    assert records.all_names() == []
    with pytest.raises(LabError):
        records.load("stray")


def test_corrupt_record_is_a_lab_error(rundir: Path) -> None:
    """A lab.json that is not a record is reported as a LabError naming the lab."""
    (rundir / "demo").mkdir(parents=True)
    (rundir / "demo" / "lab.json").write_text('{"name": 3')
    with pytest.raises(LabError, match="demo"):
        records.load("demo")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"name": "demo", "namespaces": "nt-demo-a"}', "field 'namespaces': expected list of str"),
        ('{"name": "demo", "owner_pid": true}', "field 'owner_pid': expected int"),
        ('{"name": "demo", "colour": 1}', "unknown field 'colour'"),
        ('{"backend": "netns"}', "field 'name' is missing"),
        ("[1]", "not a JSON object"),
    ],
)
def test_record_fields_are_checked(rundir: Path, text: str, reason: str) -> None:
    (rundir / "demo").mkdir(parents=True)
    (rundir / "demo" / "lab.json").write_text(text)
    with pytest.raises(LabError, match=re.escape(reason)):
        records.load("demo")
