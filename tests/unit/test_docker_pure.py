"""The docker backend's pure parts: no engine, no root."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from nattest.backends.docker import byo, engine, process
from nattest.backends.docker.lab import container_plan
from nattest.backends.plan import plan_lab
from nattest.errors import LabError, UsageError
from nattest.model.load import load_topology
from nattest.services.credentials import LabServices

TOPOLOGIES = Path(__file__).parents[2] / "topologies"


def test_container_plan_attaches_node_namespaces_and_keeps_the_rest() -> None:
    plan = plan_lab(load_topology(TOPOLOGIES / "symmetric.yaml"), "demo")
    nodes = {"nt-demo-alice": 11, "nt-demo-bob": 12, "nt-demo-nat-a": 13}
    out = container_plan(plan, nodes)
    assert "netns attach nt-demo-alice 11" in out.create
    assert "netns add nt-demo-alice" not in out.create
    assert "netns add nt-demo-internet" in out.create  # a network stays a namespace
    assert len(out.create) == len(plan.create)
    others = [a for a, b in zip(plan.create, out.create, strict=True) if a != b]
    assert sorted(others) == sorted(f"netns add {ns}" for ns in nodes)
    assert out.configure == plan.configure and out.rulesets == plan.rulesets


@pytest.mark.parametrize("arg", ["a b", "it's", "$HOME", "x; rm -rf /", '"q"', "`id`"])
def test_the_wrapper_runs_any_argv_verbatim(arg: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = process.wrapper_argv(["printf", "%s", arg])
    env = {"NT_STDIN": "/dev/null", "NT_STDOUT": str(out), "NT_STDERR": "/dev/null"}
    subprocess.run(argv, env={**os.environ, **env}, check=True)
    assert out.read_text() == arg


def test_io_path_names_files_and_refuses_pipes(tmp_path: Path) -> None:
    with (tmp_path / "log").open("wb") as f:
        assert process.io_path(f) == str(tmp_path / "log")
    assert process.io_path(None) == "/dev/null"
    assert process.io_path(subprocess.DEVNULL) == "/dev/null"
    with pytest.raises(LabError, match="pipe"):
        process.io_path(subprocess.PIPE)


def test_env_delta_passes_additions_and_nattest_variables_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NATTEST_DEBUG", "1")
    monkeypatch.setenv("SSL_CERT_FILE", "/lab/cert.pem")
    env = {**os.environ, "NATTEST_TURN_CREDENTIAL": "s3cret", "EXTRA": "x", "PATH": "/host"}
    out = process.env_delta(env)
    assert out["NATTEST_TURN_CREDENTIAL"] == "s3cret" and out["EXTRA"] == "x"
    assert out["NATTEST_DEBUG"] == "1" and out["SSL_CERT_FILE"] == "/lab/cert.pem"
    assert "PATH" not in out and "HOME" not in out


@pytest.mark.parametrize(
    ("host", "message"),
    [("tcp://10.0.0.1:2375", "remote engine"), ("ssh://me@box", "remote engine")],
)
def test_a_remote_docker_host_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, host: str, message: str
) -> None:
    monkeypatch.setenv("DOCKER_HOST", host)
    with pytest.raises(UsageError, match=message):
        engine.socket_path()


def test_socket_path_default_and_unix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert engine.socket_path() == "/var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/docker.sock")
    assert engine.socket_path() == "/run/user/docker.sock"


def test_lab_env_tells_the_servers_and_a_credential() -> None:
    topo = load_topology(TOPOLOGIES / "own-image.yaml")
    services = LabServices(
        turn_address="203.0.113.2", turn_password="pw", signaling_url="ws://203.0.113.2:8443"
    )
    env = byo.lab_env(topo, "demo", "alice", services)
    assert env["NATTEST_ADDRESS"] == "10.0.1.10" and env["NATTEST_NODE"] == "alice"
    assert env["NATTEST_TURNS_URL"] == "turns:203.0.113.2:5349?transport=tcp"
    assert env["NATTEST_TURN_CREDENTIAL"] == "pw"
    assert env["NATTEST_SIGNALING_URL"] == "ws://203.0.113.2:8443"
    assert byo.lab_env(topo, "demo", "alice", None) == {
        "NATTEST_LAB": "demo",
        "NATTEST_NODE": "alice",
        "NATTEST_ADDRESS": "10.0.1.10",
    }


def test_a_host_image_is_refused_by_the_netns_backend() -> None:
    from nattest.backends.netns import NetnsBackend

    with pytest.raises(UsageError, match=r"hosts\.alice\.image: .*--backend docker"):
        NetnsBackend().up(load_topology(TOPOLOGIES / "own-image.yaml"), "demo")


def test_chromium_peers_say_they_need_the_netns_backend() -> None:
    from types import SimpleNamespace

    from nattest.peers.chromium import ChromiumPeer

    lab = SimpleNamespace(backend="docker")
    with pytest.raises(UsageError, match="netns backend only"):
        ChromiumPeer().start(lab, None, None)  # type: ignore[arg-type]


def test_the_docker_backend_caps_the_cells_at_once() -> None:
    from nattest.matrix.run import MatrixOptions

    assert MatrixOptions(backend="netns").cells_at_once() == 12  # aiortc's own
    assert MatrixOptions(backend="docker").cells_at_once() == 6
    assert MatrixOptions(backend="docker", caller_kind="chromium").cells_at_once() == 3
    assert MatrixOptions(backend="docker", jobs=10).cells_at_once() == 10  # asked for


def test_an_engine_that_stops_answering_is_one_usage_error_saying_how_to_recover() -> None:
    import requests.exceptions

    for silence in (
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectionError(),
    ):
        doing = "removing lab demo's containers"
        with pytest.raises(engine.EngineNotAnswering) as caught, engine.answering(doing):
            raise silence
        text = str(caught.value)
        assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2
        assert "removing lab demo's containers" in text and type(silence).__name__ in text
        assert "make docker-up" in text and "nattest down --all" in text
    with pytest.raises(KeyError), engine.answering("anything"):  # other errors pass through
        raise KeyError("x")


def test_containers_carry_the_lab_and_its_run_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    from nattest.backends.docker.containers import labels

    monkeypatch.setenv("NATTEST_RUNDIR", "/tmp/some-run")
    assert labels("demo") == {"org.nattest.lab": "demo", "org.nattest.rundir": "/tmp/some-run"}
    assert labels("demo", "alice")["org.nattest.node"] == "alice"


def test_no_engine_or_a_stale_socket_means_no_containers_to_look_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    assert not engine.available()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "stale.sock"))  # a file, nobody listening (a killed engine)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/stale.sock")
    assert not engine.available()
    stale.listen(1)
    assert engine.available()
    stale.close()
