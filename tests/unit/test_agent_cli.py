"""The peer agents' shared command line: what the host builds, every agent parses."""

from __future__ import annotations

from pathlib import Path

import pytest

from nattest.call.result import PeerResult
from nattest.peers import agent_cli
from nattest.peers.base import CAPABILITIES, CREDENTIAL_ENV, PeerLaunch, agent_arguments


def _launch(**kw: object) -> PeerLaunch:
    base: dict[str, object] = {
        "name": "alice",
        "role": "caller",
        "room": "r1",
        "signaling_url": "ws://203.0.113.2:8443",
        "policy": "relay",
        "duration": 3.0,
        "connect_timeout": 12.0,
        "result_path": Path("/lab/calls/r1/alice.json"),
        "log_path": Path("/lab/calls/r1/alice.log"),
        "stun_url": "stun:203.0.113.2:3478",
        "turn_url": "turns:203.0.113.2:5349?transport=tcp",
        "turn_transport": "tls",
        "turn_username": "nattest",
        "turn_password": "s3cret",
        "turn_cert": "/lab/turn.pem",
        "video_size": "320x240",
        "video": "noise",
        "clock_zero": 123.5,
    }
    base.update(kw)
    return PeerLaunch(**base)  # type: ignore[arg-type]


def _parse(launch: PeerLaunch) -> object:
    args, _ = agent_arguments(launch)
    return agent_cli.parse_args("agent", None, args)


def test_every_launch_field_survives_the_command_line() -> None:
    """What the host puts in argv is what an agent reads back (the contract of every kind)."""
    ns = _parse(_launch(peer_capabilities=frozenset(CAPABILITIES)))
    assert vars(ns) == {
        "name": "alice",
        "role": "caller",
        "signaling": "ws://203.0.113.2:8443",
        "room": "r1",
        "stun": "stun:203.0.113.2:3478",
        "turn": "turns:203.0.113.2:5349?transport=tcp",
        "turn_username": "nattest",
        "policy": "relay",
        "duration": 3.0,
        "connect_timeout": 12.0,
        "video_size": (320, 240),
        "video": "noise",
        "clock_zero": 123.5,
        "peer_can": ["ice-restart", "trickle"],
        "result": Path("/lab/calls/r1/alice.json"),
    }


def test_no_capabilities_no_flag() -> None:
    args, _ = agent_arguments(_launch())
    assert "--peer-can" not in args
    assert agent_cli.parse_args("agent", None, args).peer_can == []


def test_password_and_certificate_only_in_the_environment() -> None:
    args, env = agent_arguments(_launch())
    assert not any("s3cret" in a for a in args)
    assert env[CREDENTIAL_ENV] == "s3cret"
    assert env["SSL_CERT_FILE"] == "/lab/turn.pem"


def test_an_unknown_capability_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    args, _ = agent_arguments(_launch())
    with pytest.raises(SystemExit) as exc:
        agent_cli.parse_args("agent", None, [*args, "--peer-can", "telepathy"])
    assert exc.value.code == 2
    assert "telepathy" in capsys.readouterr().err


def test_a_kind_adds_its_own_options() -> None:
    args, _ = agent_arguments(_launch())
    ns = agent_cli.parse_args(
        "agent", None, [*args, "--extra"], lambda p: p.add_argument("--extra", action="store_true")
    )
    assert ns.extra is True


def test_the_result_is_written_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first result wins (a watchdog firing after the agent's own result changes nothing)."""
    monkeypatch.setattr(agent_cli, "_written", False)
    path = tmp_path / "alice.json"
    first = PeerResult(name="alice", role="caller", policy="all", outcome="connected")
    agent_cli.write_result(path, first)
    agent_cli.write_result(path, first.model_copy(update={"outcome": "failed"}))
    assert PeerResult.model_validate_json(path.read_text()).outcome == "connected"
    assert not (tmp_path / "alice.json.tmp").exists()
