"""`--capture` / `--results` on `nattest call`, `up` and `matrix`: offered, and refused with
exit code 2 naming what to install, before anything is built, when tcpdump is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nattest.backends.netns import NetnsBackend
from tests.unit.test_cli import BuildAttempted, run, usage_error

SYMMETRIC = Path(__file__).parents[2] / "topologies" / "symmetric.yaml"
pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def no_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private lab registry; a tripwire on building; tcpdump nowhere on this PATH."""
    path = tmp_path / "run"
    path.mkdir()
    monkeypatch.setenv("NATTEST_RUNDIR", str(path))
    monkeypatch.delenv("NATTEST_BACKEND", raising=False)

    def tripwire(*args: Any, **kwargs: Any) -> Any:
        raise BuildAttempted("a unit test tried to build a lab")

    monkeypatch.setattr(NetnsBackend, "up", tripwire)
    monkeypatch.setattr("nattest.evidence.capture.shutil.which", lambda name: None)
    return path


@pytest.mark.parametrize("command", ["call", "up", "matrix"])
def test_capture_and_results_are_offered(command: str) -> None:
    out = run(command, "--help").stdout
    assert "--capture" in out and "--results" in out


@pytest.mark.parametrize(
    "args",
    [
        ("call", "--pair", "open:open", "--capture"),
        ("up", str(SYMMETRIC), "--capture", "--no-services"),
        ("matrix", "--configs", "open", "--policies", "all", "--capture"),
    ],
)
def test_capture_without_tcpdump_is_a_usage_error(args: tuple[str, ...], no_lab: Path) -> None:
    err = usage_error(*args)
    assert "--capture needs tcpdump: apt-get install tcpdump" in err
    assert list(no_lab.iterdir()) == []  # nothing recorded, nothing built


def test_plugin_options_and_ini_reach_the_header(pytester: pytest.Pytester) -> None:
    help_text = pytester.runpytest_subprocess("--help")
    help_text.stdout.fnmatch_lines(["*--nattest-capture*", "*--nattest-results*"])
    pytester.makeini("[pytest]\nnattest_capture = true\nnattest_results = kept\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"nattest: * capture=True results={pytester.path}/kept *"])
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "kept").exists()  # no lab test, nothing kept
