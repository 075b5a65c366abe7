"""The contract between a call and a peer kind: spec, launch, command, result, reported pair."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nattest.call.merge import merge_call
from nattest.call.result import Candidate, CandidatePair, MediaVerdict, PeerResult, Role
from nattest.call.run import launch_for
from nattest.call.spec import CallSpec, tcp_turn_overrides
from nattest.errors import UsageError
from nattest.model.configs import pair_topology
from nattest.model.load import parse_topology
from nattest.model.topology import Topology
from nattest.peers import get_peer_kind
from nattest.peers.aiortc import MODULE, AiortcPeer
from nattest.peers.base import CREDENTIAL_ENV, PeerLaunch
from nattest.services.credentials import LabServices
from tests.fixtures.fake_lab import UnitLab

PASSWORD = "pw-secret"
SERVICES = LabServices(
    turn_address="203.0.113.2",
    turn_password=PASSWORD,
    signaling_url="ws://203.0.113.2:8443",
    turn_cert="/x/cert.pem",
)

HOST_A = Candidate(type="host", protocol="udp", address="10.1.0.10", port=40000)
SRFLX_A = Candidate(
    type="srflx",
    protocol="udp",
    address="203.0.113.11",
    port=40000,
    related_address="10.1.0.10",
    related_port=40000,
    url="stun:203.0.113.2:3478",
)
RELAY_A = Candidate(
    type="relay",
    protocol="udp",
    address="203.0.113.2",
    port=55000,
    relay_protocol="udp",
    url="turn:203.0.113.2:3478?transport=udp",
)
HOST_B = Candidate(type="host", protocol="udp", address="10.2.0.10", port=41000)
SRFLX_B = Candidate(type="srflx", protocol="udp", address="203.0.113.12", port=41000)
OK_MEDIA = MediaVerdict(audio_frames=50, video_frames=30, data_sent=3, data_echoed=3)

# --------------------------------------------------------------------------- topologies


def _single_host_topology(firewall: str | None = None, name: str = "solo") -> Topology:
    """One public network, one NAT, `alice` behind it (maybe with a host firewall), `bob`
    on the internet."""
    alice: dict[str, Any] = {"network": "lan-a", "address": "10.0.1.10"}
    if firewall is not None:
        alice["firewall"] = firewall
    data: dict[str, Any] = {
        "name": name,
        "networks": {
            "internet": {"subnet": "203.0.113.0/24"},
            "lan-a": {"subnet": "10.0.1.0/24"},
        },
        "nats": {
            "nat-a": {
                "behavior": "port-restricted-cone",
                "wan": {"network": "internet", "address": "203.0.113.11"},
                "lan": {"network": "lan-a", "address": "10.0.1.1"},
            }
        },
        "hosts": {
            "alice": alice,
            "bob": {"network": "internet", "address": "203.0.113.20"},
        },
    }
    return parse_topology(data, "<test>")


def _double_nat_topology(outer_firewall: str) -> Topology:
    """alice behind a home NAT behind a carrier NAT whose firewall is `outer_firewall`."""
    data: dict[str, Any] = {
        "name": "cgn",
        "networks": {
            "internet": {"subnet": "203.0.113.0/24"},
            "carrier": {"subnet": "10.64.0.0/24"},
            "lan-a": {"subnet": "10.0.1.0/24"},
        },
        "nats": {
            "cgn": {
                "behavior": "full-cone",
                "firewall": outer_firewall,
                "wan": {"network": "internet", "address": "203.0.113.11"},
                "lan": {"network": "carrier", "address": "10.64.0.1"},
            },
            "home": {
                "behavior": "full-cone",
                "wan": {"network": "carrier", "address": "10.64.0.2"},
                "lan": {"network": "lan-a", "address": "10.0.1.1"},
            },
        },
        "hosts": {
            "alice": {"network": "lan-a", "address": "10.0.1.10"},
            "bob": {"network": "internet", "address": "203.0.113.20"},
        },
    }
    return parse_topology(data, "<test>")


# --------------------------------------------------------------------------- tcp_turn_overrides


def test_nat_firewall_dropping_udp_gets_tcp_turn() -> None:
    """The udp-blocked configuration's host reaches TURN over TCP; the other host is absent."""
    t = pair_topology("udp-blocked", "open")
    assert tcp_turn_overrides(t, "udp") == {"alice": "tcp"}
    assert tcp_turn_overrides(t) == {"alice": "tcp"}  # udp is the default


def test_firewall_on_the_callee_side() -> None:
    """The rule is per host, whichever side it is on."""
    t = pair_topology("full-cone", "udp-blocked")
    assert tcp_turn_overrides(t, "udp") == {"bob": "tcp"}


@pytest.mark.parametrize("firewall", ["udp-blocked", "tcp-443-only"])
def test_host_level_firewall_gets_tcp_turn(firewall: str) -> None:
    """A firewall on the host itself (either kind drops UDP) counts too."""
    t = _single_host_topology(firewall)
    assert t.blocks_udp("alice")
    assert tcp_turn_overrides(t, "udp") == {"alice": "tcp"}


@pytest.mark.parametrize("firewall", ["udp-blocked", "tcp-443-only"])
def test_firewall_on_an_outer_nat_of_the_chain(firewall: str) -> None:
    """A firewall on the carrier NAT, two hops out, blocks UDP for the host behind it."""
    t = _double_nat_topology(firewall)
    assert t.behind("alice") == ["home", "cgn"]
    assert tcp_turn_overrides(t, "udp") == {"alice": "tcp"}


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_no_override_when_the_call_already_uses_tcp(transport: str) -> None:
    """TURN over TCP or TLS already gets through: nothing to override."""
    assert tcp_turn_overrides(pair_topology("udp-blocked", "udp-blocked"), transport) == {}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "topology",
    [pair_topology("open", "symmetric"), pair_topology("double-cone", "full-cone")],
    ids=["open-symmetric", "double-cone"],
)
def test_no_override_without_firewalls(topology: Topology) -> None:
    """No firewall, no override."""
    assert tcp_turn_overrides(topology, "udp") == {}


def test_no_override_for_a_host_without_firewall() -> None:
    """A topology-file host without a firewall behind a firewall-less NAT gets nothing."""
    assert tcp_turn_overrides(_single_host_topology(None), "udp") == {}


# --------------------------------------------------------------------------- CallSpec


def test_resolved_fills_peer_transports_from_the_topology() -> None:
    """None means derive: the udp-blocked host gets tcp, the other keeps the call's udp."""
    spec = CallSpec().resolved(pair_topology("udp-blocked", "open"))
    assert spec.peer_transports == {"alice": "tcp"}
    assert spec.transport_for("alice") == "tcp"
    assert spec.transport_for("bob") == "udp"


def test_resolved_with_tcp_call_fills_an_empty_dict() -> None:
    """Resolving a tcp call gives `{}` (resolved, nothing to override), not None."""
    spec = CallSpec(turn_transport="tcp").resolved(pair_topology("udp-blocked", "open"))
    assert spec.peer_transports == {}
    assert spec.transport_for("alice") == "tcp"


def test_resolved_keeps_explicit_transports() -> None:
    """Explicit overrides win over the topology, unchanged (same object)."""
    spec = CallSpec(peer_transports={"bob": "tls"})
    resolved = spec.resolved(pair_topology("udp-blocked", "open"))
    assert resolved is spec
    assert resolved.peer_transports == {"bob": "tls"}
    assert resolved.transport_for("alice") == "udp"
    assert resolved.transport_for("bob") == "tls"


def test_resolved_keeps_an_explicit_empty_dict() -> None:
    """`{}` means "no overrides" on purpose: the udp-blocked host stays on udp."""
    spec = CallSpec(peer_transports={})
    resolved = spec.resolved(pair_topology("udp-blocked", "open"))
    assert resolved.peer_transports == {}
    assert resolved.transport_for("alice") == "udp"


def test_resolved_leaves_the_original_spec_alone() -> None:
    """CallSpec is frozen: resolving returns a new spec."""
    spec = CallSpec()
    resolved = spec.resolved(pair_topology("udp-blocked", "open"))
    assert spec.peer_transports is None
    assert resolved is not spec


def test_transport_for_defaults_to_the_call_transport() -> None:
    """Unresolved (None) or unknown peer: the call's own transport."""
    assert CallSpec(turn_transport="tls").transport_for("alice") == "tls"
    assert CallSpec(peer_transports={"bob": "tcp"}).transport_for("carol") == "udp"


# --------------------------------------------------------------------------- Topology.call_peers


def test_call_peers_needs_two_hosts() -> None:
    """One host: UsageError saying a call needs two and naming the one there is."""
    data: dict[str, Any] = {
        "name": "lonely",
        "networks": {"internet": {"subnet": "203.0.113.0/24"}},
        "hosts": {"alice": {"network": "internet", "address": "203.0.113.20"}},
    }
    t = parse_topology(data, "<test>")
    with pytest.raises(UsageError, match="a call needs two hosts") as info:
        t.call_peers()
    message = str(info.value)
    assert "lonely" in message
    assert "alice" in message
    assert "it has 1" in message


def test_call_peers_defaults_to_the_first_two_hosts() -> None:
    """Without `peers:`, the first two hosts in file order."""
    assert _single_host_topology().call_peers() == ("alice", "bob")


# --------------------------------------------------------------------------- launch_for


def _launch(
    spec: CallSpec | None = None,
    name: str = "alice",
    role: Role = "caller",
    services: LabServices = SERVICES,
    folder: Path = Path("/lab/calls/r1"),
) -> PeerLaunch:
    return launch_for(services, spec or CallSpec(), name, role, "r1", folder)


def test_launch_for_udp() -> None:
    """Default call: lab STUN and TURN over UDP, static user, paths in the call folder."""
    launch = _launch()
    assert launch.name == "alice"
    assert launch.role == "caller"
    assert launch.room == "r1"
    assert launch.signaling_url == "ws://203.0.113.2:8443"
    assert launch.stun_url == "stun:203.0.113.2:3478"
    assert launch.turn_url == "turn:203.0.113.2:3478?transport=udp"
    assert launch.turn_transport == "udp"
    assert launch.turn_username == "nattest"
    assert launch.turn_password == PASSWORD
    assert launch.turn_cert == "/x/cert.pem"
    assert launch.result_path == Path("/lab/calls/r1/alice.json")
    assert launch.log_path == Path("/lab/calls/r1/alice.log")
    assert launch.policy == "all"


def test_launch_for_tcp_and_tls_urls() -> None:
    """tcp keeps port 3478; tls is `turns:` on 5349 (TLS over TCP)."""
    tcp = _launch(CallSpec(turn_transport="tcp"))
    assert tcp.turn_url == "turn:203.0.113.2:3478?transport=tcp"
    assert tcp.turn_transport == "tcp"
    tls = _launch(CallSpec(turn_transport="tls"))
    assert tls.turn_url == "turns:203.0.113.2:5349?transport=tcp"
    assert tls.turn_transport == "tls"


def test_launch_for_uses_the_per_peer_transport() -> None:
    """A resolved spec sends the udp-blocked peer to TURN over TCP, the other over UDP."""
    spec = CallSpec().resolved(pair_topology("udp-blocked", "open"))
    assert _launch(spec, "alice").turn_url == "turn:203.0.113.2:3478?transport=tcp"
    assert _launch(spec, "bob", "callee").turn_url == "turn:203.0.113.2:3478?transport=udp"


def test_launch_for_without_stun_or_turn() -> None:
    """`stun=False`/`turn=False` leave the URLs (and the password) out."""
    no_stun = _launch(CallSpec(stun=False))
    assert no_stun.stun_url is None
    assert no_stun.turn_url is not None
    no_turn = _launch(CallSpec(turn=False))
    assert no_turn.turn_url is None
    assert no_turn.turn_username is None
    assert no_turn.turn_password == ""
    assert no_turn.stun_url == "stun:203.0.113.2:3478"


def test_launch_for_a_lab_without_turn_server() -> None:
    """Policy all without a TURN node: no STUN, no TURN, but still a launch."""
    services = LabServices(signaling_url="ws://203.0.113.2:8443")
    launch = _launch(services=services)
    assert launch.stun_url is None
    assert launch.turn_url is None


def test_relay_policy_without_turn_server_is_a_usage_error() -> None:
    """Relay-only needs a TURN server: none in the lab, or none given to the peers."""
    with pytest.raises(UsageError, match="relay needs a TURN server"):
        _launch(CallSpec(policy="relay"), services=LabServices(signaling_url="ws://x:1"))
    with pytest.raises(UsageError, match="relay needs a TURN server"):
        _launch(CallSpec(policy="relay", turn=False))


def test_relay_policy_with_turn_server() -> None:
    """Relay with a TURN server launches with that policy."""
    assert _launch(CallSpec(policy="relay")).policy == "relay"


def test_no_signaling_server_is_a_usage_error() -> None:
    """Peers cannot meet without signaling."""
    services = LabServices(turn_address="203.0.113.2", turn_password=PASSWORD)
    with pytest.raises(UsageError, match="no signaling server"):
        _launch(services=services)


def test_rest_mode_gives_an_expiry_username() -> None:
    """With a REST secret: `expiry:name` and HMAC-SHA1 password, not the static one."""
    services = LabServices(
        turn_address="203.0.113.2",
        turn_password=PASSWORD,
        rest_secret="rest-s3cret",
        signaling_url="ws://203.0.113.2:8443",
    )
    before = int(time.time())
    launch = _launch(services=services, name="bob", role="callee")
    assert launch.turn_username is not None
    m = re.fullmatch(r"(\d+):bob", launch.turn_username)
    assert m is not None, launch.turn_username
    assert before + 3600 <= int(m[1]) <= int(time.time()) + 3600
    digest = hmac.new(b"rest-s3cret", launch.turn_username.encode(), hashlib.sha1).digest()
    assert launch.turn_password == base64.b64encode(digest).decode("ascii")
    assert launch.turn_password != PASSWORD


def test_launch_repr_hides_the_password() -> None:
    """PeerLaunch's repr never shows the TURN password."""
    launch = _launch()
    assert PASSWORD not in repr(launch)
    assert PASSWORD not in str(launch)
    assert "turn:203.0.113.2" in repr(launch)  # the rest is still there


def test_lab_services_repr_hides_the_secrets() -> None:
    """LabServices' own docstring: its secrets are never printed."""
    services = LabServices(turn_address="203.0.113.2", turn_password=PASSWORD, rest_secret="rs-x")
    assert PASSWORD not in repr(services)
    assert "rs-x" not in repr(services)


def test_lab_services_save_is_private_even_over_an_existing_file(tmp_path: Path) -> None:
    """`save` promises a file readable by its owner only."""
    path = tmp_path / "services.json"
    path.write_text("{}")
    path.chmod(0o644)
    SERVICES.save(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_lab_services_round_trip(tmp_path: Path) -> None:
    """What `save` writes, `load` reads back; a fresh file is owner-only."""
    SERVICES.save(tmp_path)
    assert LabServices.load(tmp_path) == SERVICES
    assert (tmp_path / "services.json").stat().st_mode & 0o077 == 0
    assert LabServices.load(tmp_path / "nowhere") == LabServices()


# --------------------------------------------------------------------------- AiortcPeer.command


class RecordingLab(UnitLab):
    """A UnitLab whose python_argv is recognisable and recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, tuple[str, ...]]] = []

    def python_argv(self, node: str, module: str, *args: str) -> list[str]:
        self.calls.append((node, module, args))
        return ["in-node", node, "python", "-m", module, *args]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No inherited credential or certificate variable."""
    monkeypatch.delenv(CREDENTIAL_ENV, raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)


def _opt(argv: list[str], flag: str) -> str:
    """The value after `flag` in argv."""
    assert flag in argv, f"{flag} missing from {argv}"
    return argv[argv.index(flag) + 1]


@pytest.mark.usefixtures("clean_env")
def test_command_runs_the_module_through_the_lab() -> None:
    """argv is `lab.python_argv(name, nattest.peers.aiortc, ...)` with the launch's options."""
    lab = RecordingLab()
    argv, _ = AiortcPeer().command(lab, _launch())
    assert MODULE == "nattest.peers.aiortc"
    assert argv[:5] == ["in-node", "alice", "python", "-m", MODULE]
    assert [(node, module) for node, module, _ in lab.calls] == [("alice", MODULE)]
    assert list(lab.calls[0][2]) == argv[5:]
    assert _opt(argv, "--name") == "alice"
    assert _opt(argv, "--role") == "caller"
    assert _opt(argv, "--room") == "r1"
    assert _opt(argv, "--signaling") == "ws://203.0.113.2:8443"
    assert _opt(argv, "--policy") == "all"
    assert _opt(argv, "--result") == "/lab/calls/r1/alice.json"
    assert _opt(argv, "--stun") == "stun:203.0.113.2:3478"
    assert _opt(argv, "--turn") == "turn:203.0.113.2:3478?transport=udp"
    assert _opt(argv, "--turn-username") == "nattest"


@pytest.mark.usefixtures("clean_env")
def test_command_with_unit_lab_uses_this_python() -> None:
    """UnitLab's python_argv: this interpreter, `-m nattest.peers.aiortc`."""
    argv, _ = AiortcPeer().command(UnitLab(), _launch())
    assert argv[:3] == [sys.executable, "-m", MODULE]


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_password_only_in_the_environment(transport: str) -> None:
    """The TURN password is NATTEST_TURN_CREDENTIAL, never (part of) an argv element."""
    launch = _launch(CallSpec(turn_transport=transport))  # type: ignore[arg-type]
    argv, env = AiortcPeer().command(UnitLab(), launch)
    assert env[CREDENTIAL_ENV] == PASSWORD
    assert not any(PASSWORD in arg for arg in argv), argv
    assert PASSWORD not in " ".join(argv)


@pytest.mark.usefixtures("clean_env")
def test_ssl_cert_file_only_for_tls() -> None:
    """The lab's certificate is trusted (SSL_CERT_FILE) for turns: only."""
    _, udp_env = AiortcPeer().command(UnitLab(), _launch(CallSpec(turn_transport="udp")))
    _, tcp_env = AiortcPeer().command(UnitLab(), _launch(CallSpec(turn_transport="tcp")))
    _, tls_env = AiortcPeer().command(UnitLab(), _launch(CallSpec(turn_transport="tls")))
    assert "SSL_CERT_FILE" not in udp_env
    assert "SSL_CERT_FILE" not in tcp_env
    assert tls_env["SSL_CERT_FILE"] == "/x/cert.pem"


@pytest.mark.usefixtures("clean_env")
def test_tls_without_a_lab_cert_sets_no_ssl_cert_file() -> None:
    """No certificate known: SSL_CERT_FILE is not set to an empty path."""
    services = LabServices(
        turn_address="203.0.113.2", turn_password=PASSWORD, signaling_url="ws://x:1"
    )
    launch = _launch(CallSpec(turn_transport="tls"), services=services)
    assert launch.turn_cert is None
    _, env = AiortcPeer().command(UnitLab(), launch)
    assert "SSL_CERT_FILE" not in env


@pytest.mark.usefixtures("clean_env")
def test_no_stun_no_turn_flags_when_not_given() -> None:
    """Without STUN/TURN: no --stun, --turn, --turn-username, no credential variable."""
    argv, env = AiortcPeer().command(UnitLab(), _launch(CallSpec(stun=False, turn=False)))
    for flag in ("--stun", "--turn", "--turn-username"):
        assert flag not in argv
    assert CREDENTIAL_ENV not in env
    assert _opt(argv, "--name") == "alice"


@pytest.mark.usefixtures("clean_env")
def test_stun_without_turn_and_turn_without_stun() -> None:
    """Each flag appears exactly when its server is given."""
    argv, _ = AiortcPeer().command(UnitLab(), _launch(CallSpec(turn=False)))
    assert _opt(argv, "--stun") == "stun:203.0.113.2:3478"
    assert "--turn" not in argv
    argv, env = AiortcPeer().command(UnitLab(), _launch(CallSpec(stun=False)))
    assert "--stun" not in argv
    assert _opt(argv, "--turn") == "turn:203.0.113.2:3478?transport=udp"
    assert env[CREDENTIAL_ENV] == PASSWORD


@pytest.mark.usefixtures("clean_env")
def test_video_size_is_passed_on() -> None:
    """`--video-size` only when the spec sets one."""
    argv, _ = AiortcPeer().command(UnitLab(), _launch(CallSpec(video_size="320x240")))
    assert _opt(argv, "--video-size") == "320x240"
    argv, _ = AiortcPeer().command(UnitLab(), _launch())
    assert "--video-size" not in argv


def test_command_keeps_the_rest_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The peer inherits the host environment (PATH, ...) and os.environ is not modified."""
    monkeypatch.delenv(CREDENTIAL_ENV, raising=False)
    monkeypatch.setenv("NATTEST_UNIT_MARKER", "kept")
    _, env = AiortcPeer().command(UnitLab(), _launch())
    assert env["NATTEST_UNIT_MARKER"] == "kept"
    assert CREDENTIAL_ENV not in os.environ


# --------------------------------------------------------------------------- read_result


def _file_launch(tmp_path: Path, role: Role = "caller") -> PeerLaunch:
    return _launch(folder=tmp_path, role=role)


def _write_log(launch: PeerLaunch) -> None:
    launch.log_path.write_text("".join(f"log line {i}\n" for i in range(1, 9)))


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (3, "exit code 3"),
        (-9, "killed by signal 9"),
        (None, "killed at the call's deadline"),
    ],
)
def test_no_result_file(tmp_path: Path, code: int | None, text: str) -> None:
    """No file: a failed result naming the exit and ending with the log tail."""
    launch = _file_launch(tmp_path)
    _write_log(launch)
    result = AiortcPeer().read_result(launch, code)
    assert result.outcome == "failed"
    assert (result.name, result.role, result.kind) == ("alice", "caller", "aiortc")
    assert result.reason is not None
    assert "wrote no result" in result.reason
    assert f"({text})" in result.reason
    assert result.reason.endswith("log line 4 | log line 5 | log line 6 | log line 7 | log line 8")
    assert "log line 3" not in result.reason


def test_no_result_and_no_log(tmp_path: Path) -> None:
    """No log either: the reason says so."""
    result = AiortcPeer().read_result(_file_launch(tmp_path), 1)
    assert result.reason is not None
    assert "wrote no result (exit code 1)" in result.reason
    assert "(no log)" in result.reason


def test_invalid_json(tmp_path: Path) -> None:
    """Not JSON: "invalid result", the path, the exit, the top level as the place."""
    launch = _file_launch(tmp_path)
    _write_log(launch)
    launch.result_path.write_text('{"name": "alice", ')
    result = AiortcPeer().read_result(launch, 0)
    assert result.outcome == "failed"
    assert result.reason is not None
    assert "invalid result" in result.reason
    assert str(launch.result_path) in result.reason
    assert "(exit code 0)" in result.reason
    assert "(top level)" in result.reason
    assert "log line 8" in result.reason


def test_schema_error_names_the_field(tmp_path: Path) -> None:
    """Valid JSON missing required fields: the first missing field is named."""
    launch = _file_launch(tmp_path)
    launch.result_path.write_text('{"name": "alice"}')
    result = AiortcPeer().read_result(launch, None)
    assert result.outcome == "failed"
    assert result.reason is not None
    assert "invalid result" in result.reason
    assert "role: Field required" in result.reason
    assert "(2 error(s))" in result.reason  # role and outcome
    assert "killed at the call's deadline" in result.reason


def test_schema_error_in_a_nested_field(tmp_path: Path) -> None:
    """A nested mistake is named by its dotted path."""
    launch = _file_launch(tmp_path)
    launch.result_path.write_text(
        '{"name": "alice", "role": "caller", "outcome": "connected",'
        ' "localCandidates": [{"type": "bogus", "protocol": "udp", "address": "x", "port": 1}]}'
    )
    result = AiortcPeer().read_result(launch, 0)
    assert result.reason is not None
    assert "localCandidates.0.type" in result.reason


def test_valid_result_comes_back(tmp_path: Path) -> None:
    """A valid PeerResult JSON is returned as written, whatever the exit code."""
    launch = _file_launch(tmp_path)
    written = PeerResult(
        name="alice",
        role="caller",
        outcome="connected",
        local_candidates=[HOST_A, SRFLX_A],
        selected_pair=CandidatePair(local=HOST_A, remote=SRFLX_B),
        time_to_connected=0.25,
        turn_preflight="ok",
    )
    launch.result_path.write_text(written.to_json())
    assert AiortcPeer().read_result(launch, 0) == written
    assert AiortcPeer().read_result(launch, None) == written


def test_unreadable_result_is_a_failed_result(tmp_path: Path) -> None:
    """A result path that cannot be read (a directory) gives a failed result, no raise."""
    launch = _file_launch(tmp_path)
    launch.result_path.mkdir()
    result = AiortcPeer().read_result(launch, 1)
    assert result.outcome == "failed"
    assert result.reason is not None
    assert f"cannot read {launch.result_path}" in result.reason


def test_non_utf8_result_is_a_failed_result(tmp_path: Path) -> None:
    """Garbage bytes are a malformed result, reported, not raised."""
    launch = _file_launch(tmp_path)
    launch.result_path.write_bytes(b"\xff\xfe{not utf-8")
    result = AiortcPeer().read_result(launch, 1)
    assert result.outcome == "failed"
    assert result.reason is not None
    assert "invalid result" in result.reason
    assert "(top level)" in result.reason


# --------------------------------------------------------------------------- reported_pair


def _peer(name: str, role: Role, local: list[Candidate], pair: CandidatePair | None) -> PeerResult:
    return PeerResult(
        name=name,
        role=role,
        outcome="connected" if pair else "failed",
        local_candidates=local,
        selected_pair=pair,
        media=OK_MEDIA,
    )


def test_host_becomes_the_matching_srflx() -> None:
    """The other side saw alice's STUN mapping: alice's local is her srflx candidate."""
    alice = _peer("alice", "caller", [HOST_A, SRFLX_A], CandidatePair(local=HOST_A, remote=SRFLX_B))
    seen = SRFLX_A.model_copy(update={"type": "prflx", "url": None, "related_address": None})
    bob = _peer("bob", "callee", [HOST_B, SRFLX_B], CandidatePair(local=HOST_B, remote=seen))
    pair = AiortcPeer().reported_pair(alice, bob)
    assert pair == CandidatePair(local=SRFLX_A, remote=SRFLX_B)
    assert pair is not None and pair.short() == "srflx↔srflx"


def test_host_becomes_prflx_when_the_mapping_differs() -> None:
    """A symmetric NAT mapped alice elsewhere: a prflx copy of what bob saw, without URL."""
    seen = Candidate(
        type="srflx",
        protocol="udp",
        address="203.0.113.11",
        port=61234,
        url="stun:203.0.113.2:3478",
    )
    alice = _peer("alice", "caller", [HOST_A, SRFLX_A], CandidatePair(local=HOST_A, remote=SRFLX_B))
    bob = _peer("bob", "callee", [HOST_B], CandidatePair(local=HOST_B, remote=seen))
    pair = AiortcPeer().reported_pair(alice, bob)
    assert pair is not None
    assert pair.local.type == "prflx"
    assert (pair.local.address, pair.local.port) == ("203.0.113.11", 61234)
    assert pair.local.url is None
    assert pair.remote == SRFLX_B
    assert seen.type == "srflx"  # the other side's candidate is not modified


def test_host_stays_host_when_seen_directly() -> None:
    """No NAT in between: bob saw alice's host address, which is her host candidate."""
    alice = _peer("alice", "caller", [HOST_A, SRFLX_A], CandidatePair(local=HOST_A, remote=HOST_B))
    bob = _peer("bob", "callee", [HOST_B], CandidatePair(local=HOST_B, remote=HOST_A))
    assert AiortcPeer().reported_pair(alice, bob) == CandidatePair(local=HOST_A, remote=HOST_B)


def test_relay_local_pair_is_untouched() -> None:
    """A relay local candidate is reported as it is (what bob saw is the TURN server)."""
    mine = CandidatePair(local=RELAY_A, remote=SRFLX_B)
    alice = _peer("alice", "caller", [HOST_A, RELAY_A], mine)
    seen = Candidate(type="prflx", protocol="udp", address="203.0.113.2", port=55000)
    bob = _peer("bob", "callee", [HOST_B], CandidatePair(local=HOST_B, remote=seen))
    assert AiortcPeer().reported_pair(alice, bob) == mine


def test_no_pair_of_my_own_is_none() -> None:
    """A peer without a selected pair reports none."""
    alice = _peer("alice", "caller", [HOST_A], None)
    bob = _peer("bob", "callee", [HOST_B], CandidatePair(local=HOST_B, remote=SRFLX_A))
    assert AiortcPeer().reported_pair(alice, bob) is None


def test_other_without_pair_leaves_mine_as_reported() -> None:
    """The other side has no pair: nothing to rewrite with, so alice's own pair comes back
    (aioice form). merge_call's default falls back to that same pair anyway."""
    mine = CandidatePair(local=HOST_A, remote=SRFLX_B)
    alice = _peer("alice", "caller", [HOST_A, SRFLX_A], mine)
    bob = _peer("bob", "callee", [HOST_B], None)
    assert AiortcPeer().reported_pair(alice, bob) == mine
    assert AiortcPeer().reported_pair(bob, alice) is None


def test_default_reported_pair_is_the_peer_s_own() -> None:
    """PeerKind's default (for kinds that already speak libwebrtc) rewrites nothing."""
    from nattest.peers.base import PeerKind

    alice = _peer("alice", "caller", [HOST_A], CandidatePair(local=HOST_A, remote=SRFLX_B))
    bob = _peer("bob", "callee", [HOST_B], CandidatePair(local=HOST_B, remote=SRFLX_A))
    assert PeerKind.reported_pair(AiortcPeer(), alice, bob) == alice.selected_pair


# --------------------------------------------------------------------------- merge_call


def _pair_peers() -> tuple[PeerResult, PeerResult]:
    alice = _peer("alice", "caller", [HOST_A, SRFLX_A], CandidatePair(local=HOST_A, remote=SRFLX_B))
    bob = _peer("bob", "callee", [HOST_B, SRFLX_B], CandidatePair(local=HOST_B, remote=SRFLX_A))
    return alice, bob


def test_merge_call_stores_the_given_pairs() -> None:
    """The pairs each peer kind reports are stored as given; the peers' own are unchanged."""
    alice, bob = _pair_peers()
    caller_view = CandidatePair(local=SRFLX_A, remote=SRFLX_B)
    callee_view = CandidatePair(local=SRFLX_B, remote=SRFLX_A)
    call = merge_call("pair", alice, bob, selected_pair=caller_view, callee_pair=callee_view)
    assert call.selected_pair == caller_view
    assert call.callee_pair == callee_view
    assert call.caller.selected_pair == alice.selected_pair
    assert call.callee.selected_pair == bob.selected_pair


def test_merge_call_defaults_to_each_peer_s_own_pair() -> None:
    """Without reported pairs: each side's own selected pair."""
    alice, bob = _pair_peers()
    call = merge_call("pair", alice, bob)
    assert call.selected_pair == alice.selected_pair
    assert call.callee_pair == bob.selected_pair


def test_merge_call_with_the_aiortc_rewrite() -> None:
    """What run_call does: each kind's reported pair, end to end."""
    alice, bob = _pair_peers()
    kind = AiortcPeer()
    call = merge_call(
        "pair",
        alice,
        bob,
        selected_pair=kind.reported_pair(alice, bob),
        callee_pair=kind.reported_pair(bob, alice),
    )
    assert call.selected_pair == CandidatePair(local=SRFLX_A, remote=SRFLX_B)
    assert call.callee_pair == CandidatePair(local=SRFLX_B, remote=SRFLX_A)


def test_merge_call_refuses_swapped_roles() -> None:
    """A callee passed as caller is a ValueError naming both."""
    alice, bob = _pair_peers()
    with pytest.raises(ValueError, match="bob as callee"):
        merge_call("pair", bob, bob)
    with pytest.raises(ValueError, match="alice as caller"):
        merge_call("pair", alice, alice)


# --------------------------------------------------------------------------- peer kinds


def test_unknown_peer_kind_names_the_available_ones() -> None:
    """`nope` is refused with the registered kinds listed."""
    with pytest.raises(UsageError, match=r"available: .*aiortc") as info:
        get_peer_kind("nope")
    assert "'nope'" in str(info.value)


def test_aiortc_peer_kind_is_registered() -> None:
    """The default kind is the aiortc one."""
    kind = get_peer_kind("aiortc")
    assert isinstance(kind, AiortcPeer)
    assert isinstance(get_peer_kind(), AiortcPeer)
    assert kind.expectations == "aiortc"
