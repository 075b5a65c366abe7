"""`nattest` CLI through click's CliRunner: usage errors exit 2 naming the problem before
anything is built; read-only commands work on an empty registry. No lab is ever built here:
the netns backend's `up` is replaced by a tripwire, and the registry is a temp folder."""

from __future__ import annotations

import subprocess
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from nattest import cli
from nattest.backends.netns import NetnsBackend
from nattest.errors import CommandError
from nattest.model.configs import CONFIGS

TOPOLOGIES = Path(__file__).parents[2] / "topologies"
SYMMETRIC = TOPOLOGIES / "symmetric.yaml"


class BuildAttempted(AssertionError):
    """A unit test reached a backend's `up`: it would have built a lab."""


@pytest.fixture(autouse=True)
def rundir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty private lab registry; the default backend; no real lab can be built."""
    path = tmp_path / "run"
    path.mkdir()
    monkeypatch.setenv("NATTEST_RUNDIR", str(path))
    monkeypatch.delenv("NATTEST_BACKEND", raising=False)
    monkeypatch.delenv("NATTEST_DEBUG", raising=False)

    def tripwire(*args: Any, **kwargs: Any) -> Any:
        raise BuildAttempted("a unit test tried to build a lab")

    monkeypatch.setattr(NetnsBackend, "up", tripwire)
    monkeypatch.setattr(NetnsBackend, "collect", tripwire)
    return path


CLICK = tuple(int(p) for p in metadata.version("click").split(".")[:2])


def _runner() -> CliRunner:
    """A runner keeping stderr apart (the default from click 8.2 on)."""
    if CLICK >= (8, 2):
        return CliRunner()
    return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2


def run(*args: str) -> Result:
    """Invoke `nattest ARGS`; never a traceback, never an unexpected exception."""
    result = _runner().invoke(cli.main, list(args))
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{result.exception!r}\n{everything}"
    )
    return result


def usage_error(*args: str) -> str:
    """Run a command that must be refused as a usage error; its stderr."""
    result = run(*args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stderr.strip(), "a usage error must say what is wrong"
    return result.stderr


def lab_namespaces(prefix: str) -> set[str]:
    """Network namespaces whose name starts with `prefix` (read-only `ip netns list`)."""
    try:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("`ip netns list` unavailable")
    return {line.split()[0] for line in out.stdout.splitlines() if line.startswith(prefix)}


def broken_topology(tmp_path: Path) -> Path:
    """symmetric.yaml with nat-a given an unknown NAT behaviour."""
    text = SYMMETRIC.read_text()
    assert "behavior: symmetric" in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace("behavior: symmetric", "behavior: semi-cone", 1))
    return path


# --- call --------------------------------------------------------------------------------


def test_call_needs_topology_or_pair() -> None:
    """Neither TOPOLOGY nor --pair: say that one of them is needed."""
    err = usage_error("call")
    assert "TOPOLOGY" in err and "--pair" in err


def test_call_pair_without_colon() -> None:
    """`--pair symmetric` names the option and the expected CALLER:CALLEE form."""
    err = usage_error("call", "--pair", "symmetric")
    assert "--pair 'symmetric'" in err
    assert "CALLER:CALLEE" in err


def test_call_pair_unknown_configuration() -> None:
    """An unknown configuration is named, with every known one listed."""
    err = usage_error("call", "--pair", "semi-cone:open")
    assert "unknown configuration 'semi-cone'" in err
    for name in CONFIGS:
        assert name in err


@pytest.mark.parametrize("side", ["--caller", "--callee"])
def test_call_unknown_peer_kind_fails_before_any_lab(
    side: str, rundir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown peer kind is a usage error raised before a backend is even asked to build
    (the tripwire on NetnsBackend.up would turn a build into a failure)."""
    asked: list[str | None] = []
    import nattest.lab

    real = nattest.lab.get_backend

    def spy(name: str | None = None) -> Any:
        asked.append(name)
        return real(name)

    monkeypatch.setattr(nattest.lab, "get_backend", spy)
    err = usage_error("call", "--pair", "open:open", side, "nosuch")
    assert "peer kind 'nosuch' is not available" in err
    assert "aiortc" in err
    assert asked == [], "build_lab ran before the peer kind was validated"
    assert list(rundir.iterdir()) == []


def test_call_bad_lab_name_builds_nothing(rundir: Path) -> None:
    """`call --name BAD_NAME` is refused by the name rule before any lab."""
    err = usage_error("call", "--pair", "open:open", "--name", "BAD_NAME")
    assert "lab name 'BAD_NAME'" in err
    assert list(rundir.iterdir()) == []


# --- up ----------------------------------------------------------------------------------


def test_up_bad_topology_names_file_field_reason(tmp_path: Path) -> None:
    """`<file>: <field>: <reason>` for an unknown NAT behaviour."""
    path = broken_topology(tmp_path)
    err = usage_error("up", str(path))
    assert f"{path}: nats.nat-a.behavior: unknown NAT behaviour 'semi-cone'" in err
    assert "expected one of open, full-cone" in err


def test_up_missing_topology_file(tmp_path: Path) -> None:
    """A file that does not exist is named, with the OS reason."""
    path = tmp_path / "x.yaml"
    err = usage_error("up", str(path))
    assert f"{path}: cannot read: No such file or directory" in err


def test_up_bad_lab_name(rundir: Path) -> None:
    """`--name BAD_NAME` states the lab name rule; nothing is recorded."""
    err = usage_error("up", str(SYMMETRIC), "--name", "BAD_NAME")
    assert "lab name 'BAD_NAME'" in err
    assert "lowercase letters, digits and '-'" in err
    assert list(rundir.iterdir()) == []


def test_up_unknown_backend_builds_nothing(rundir: Path) -> None:
    """`--backend nosuch` fails before anything exists: no namespace, empty registry."""
    name = f"ut-{uuid.uuid4().hex[:8]}"
    prefix = f"nt-{name}"
    before = lab_namespaces(prefix)
    err = usage_error("up", str(SYMMETRIC), "--name", name, "--backend", "nosuch")
    assert "backend 'nosuch' is not available" in err
    assert "netns" in err
    assert lab_namespaces(prefix) == before == set()
    assert list(rundir.iterdir()) == []


def test_up_backend_from_environment(rundir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NATTEST_BACKEND is what --backend defaults to."""
    monkeypatch.setenv("NATTEST_BACKEND", "nosuch")
    err = usage_error("up", str(SYMMETRIC))
    assert "backend 'nosuch' is not available" in err
    assert list(rundir.iterdir()) == []


# --- down, status, matrix ----------------------------------------------------------------


def test_down_needs_name_or_all() -> None:
    """`down` alone: give a lab name or --all."""
    assert "give a lab name or --all" in usage_error("down")


def test_down_name_and_all_together() -> None:
    """A name and --all at once is just as ambiguous."""
    assert "give a lab name or --all" in usage_error("down", "lab", "--all")


def test_down_bad_name() -> None:
    """A name breaking the rule is refused before the registry is read."""
    assert "lab name 'BAD'" in usage_error("down", "BAD")


def test_down_all_without_labs(rundir: Path) -> None:
    """`down --all` on an empty registry says so and succeeds."""
    result = run("down", "--all")
    assert result.exit_code == 0
    assert result.stdout.strip() == "no labs"
    assert list(rundir.iterdir()) == []


def test_matrix_jobs_zero() -> None:
    """`--jobs 0` is refused."""
    assert "--jobs 0: give 1 or more" in usage_error("matrix", "--jobs", "0")


def test_matrix_unknown_policy() -> None:
    """An unknown policy in `--policies` is named."""
    err = usage_error("matrix", "--policies", "all,bogus")
    assert "unknown policy 'bogus'" in err
    assert "all or relay" in err


def test_matrix_unknown_config() -> None:
    """An unknown configuration in `--configs` is named."""
    assert "unknown configuration 'semi-cone'" in usage_error("matrix", "--configs", "semi-cone")


def test_matrix_unknown_peer_kind() -> None:
    """An unknown peer kind is refused before any cell runs."""
    assert "peer kind 'nosuch'" in usage_error("matrix", "--caller", "nosuch")


def test_status_unknown_lab() -> None:
    """`status nosuch` exits 1 and names the running labs (none)."""
    result = run("status", "nosuch")
    assert result.exit_code == 1
    assert "no lab named 'nosuch' (running labs: none)" in result.stderr


def test_status_unknown_lab_lists_running(rundir: Path) -> None:
    """With labs recorded, the message names them."""
    from nattest.backends import records

    records.create(records.LabRecord(name="demo"))
    result = run("status", "nosuch")
    assert result.exit_code == 1
    assert "(running labs: demo)" in result.stderr


def test_status_without_labs() -> None:
    """`status` on an empty registry prints `no labs`."""
    result = run("status")
    assert result.exit_code == 0
    assert result.stdout.strip() == "no labs"


def test_status_json_without_labs() -> None:
    """`status --json` on an empty registry prints an empty JSON list."""
    result = run("status", "--json")
    assert result.exit_code == 0
    assert result.stdout.strip() == "[]"


def test_status_works_without_rundir(rundir: Path) -> None:
    """A registry folder that does not exist yet is an empty registry."""
    rundir.rmdir()
    result = run("status")
    assert result.exit_code == 0
    assert result.stdout.strip() == "no labs"
    assert not rundir.exists()


# --- read-only -----------------------------------------------------------------------------


def test_plugins_lists_backends_and_peer_kinds() -> None:
    """`plugins` lists the netns backend and the aiortc peer kind with their summaries."""
    result = run("plugins")
    assert result.exit_code == 0
    lines = [line.split() for line in result.stdout.splitlines()]
    firsts = [words[0] for words in lines if words]
    assert firsts[0] == "backends"
    assert "netns" in firsts and "aiortc" in firsts
    assert firsts.index("backends") < firsts.index("netns") < firsts.index("peer")
    assert firsts.index("peer") < firsts.index("aiortc")
    assert "network namespaces" in result.stdout


def test_version() -> None:
    """`--version` prints the installed package version."""
    result = run("--version")
    assert result.exit_code == 0
    assert metadata.version("nattest") in result.stdout


def test_help_lists_commands() -> None:
    """`--help` names every command."""
    result = run("--help")
    assert result.exit_code == 0
    for command in ("up", "down", "status", "exec", "shell", "verify-nat", "call", "matrix"):
        assert command in result.stdout


# --- error rendering ------------------------------------------------------------------------


def test_error_keeps_bracketed_node_name() -> None:
    """A CommandError names its node as `[alice]`; the CLI must print it verbatim."""

    @click.command()
    @cli.handle_errors
    def fails() -> None:
        raise CommandError("alice", ["ip", "link"], 1, "Cannot find device")

    result = _runner().invoke(fails, [])
    assert result.exit_code == 1
    assert "Cannot find device" in result.stderr
    assert "[alice] `ip link` exited 1" in result.stderr


MARKUP_BUG = (
    "BUG nattest/cli.py:40 handle_errors renders str(e) as rich markup: a user-given name "
    "containing '[/x]' crashes the CLI with rich.errors.MarkupError (a traceback, exit 1), "
    "and '[red]' is swallowed from the message"
)
