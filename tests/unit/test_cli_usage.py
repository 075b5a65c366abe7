"""The CLI through click's CliRunner: usage errors exit 2 naming the problem, before anything
is built; read-only commands on an empty registry. No lab is ever built here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nattest.cli import main

TOPOLOGIES = Path(__file__).parents[2] / "topologies"


@pytest.fixture(autouse=True)
def rundir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty lab registry: nothing here reads or writes /run/nattest."""
    path = tmp_path / "run"
    monkeypatch.setenv("NATTEST_RUNDIR", str(path))
    monkeypatch.delenv("NATTEST_BACKEND", raising=False)
    return path


def run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output + result.stderr
    return result


def usage(*args: str) -> str:
    """Run a command that must fail as a usage error, having built nothing; its stderr.

    Every backend records a lab before it creates anything of it, so an empty registry
    proves nothing was built."""
    result = run(*args)
    assert result.exit_code == 2, (result.output, result.stderr)
    rundir = Path(os.environ["NATTEST_RUNDIR"])
    assert not rundir.exists() or not any(rundir.iterdir()), "a usage error built something"
    return result.stderr


def test_call_needs_one_target() -> None:
    assert "give a TOPOLOGY file or --pair CALLER:CALLEE" in usage("call")
    assert "expected CALLER:CALLEE" in usage("call", "--pair", "symmetric")
    err = usage("call", "--pair", "semi-cone:open")
    assert "unknown configuration 'semi-cone'" in err and "port-restricted-cone" in err


def test_unknown_peer_kind_and_backend_fail_before_building() -> None:
    err = usage("call", "--pair", "open:open", "--caller", "nosuch")
    assert "peer kind 'nosuch' is not available (available: aiortc" in err
    err = usage("call", "--pair", "open:open", "--backend", "nosuch")
    assert "backend 'nosuch' is not available (available: netns" in err
    err = usage("up", str(TOPOLOGIES / "open.yaml"), "--backend", "nosuch")
    assert "backend 'nosuch'" in err
    assert "backend 'nosuch'" in usage("matrix", "--backend", "nosuch")


def test_bad_topology_names_file_field_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (TOPOLOGIES / "symmetric.yaml").read_text().replace("symmetric\n", "semi-cone\n")
    )
    err = usage("up", str(bad))
    assert f"{bad}: nats.nat-a.behavior: unknown NAT behaviour 'semi-cone'" in err
    assert "cannot read" in usage("up", str(tmp_path / "missing.yaml"))


def test_other_usage_errors() -> None:
    assert "lab name 'BAD_NAME'" in usage("up", str(TOPOLOGIES / "open.yaml"), "--name", "BAD_NAME")
    assert "give a lab name or --all" in usage("down")
    assert "--jobs 0" in usage("matrix", "--jobs", "0")
    assert "unknown policy 'bogus'" in usage("matrix", "--policies", "all,bogus")
    assert "unknown configuration 'nope'" in usage("matrix", "--configs", "open,nope")


def test_read_only_commands_on_an_empty_registry() -> None:
    assert run("status").output.strip() == "no labs"
    assert run("status", "--json").output.strip() == "[]"
    assert run("down", "--all").output.strip() == "no labs"
    missing = run("status", "nosuch")
    assert missing.exit_code == 1 and "no lab named 'nosuch' (running labs: none)" in missing.stderr
    listed = run("plugins")
    assert listed.exit_code == 0 and "netns" in listed.output and "aiortc" in listed.output
    assert run("--version").output.startswith("main, version ")
