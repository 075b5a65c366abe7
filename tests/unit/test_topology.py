"""Topology loading: shipped files load; every kind of bad file gets file, field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nattest.errors import TopologyError
from nattest.model.load import load_topology
from nattest.model.nat import PRESETS, Filtering, Mapping

TOPOLOGIES = Path(__file__).parents[2] / "topologies"
REQUIRED = [
    "open",
    "full-cone",
    "restricted-cone",
    "port-restricted-cone",
    "symmetric",
    "double-nat",
    "same-nat",
    "udp-blocked",
]


@pytest.mark.parametrize("name", REQUIRED)
def test_shipped_topologies_load(name: str) -> None:
    t = load_topology(TOPOLOGIES / f"{name}.yaml")
    assert t.name == name
    assert t.call_peers() == ("alice", "bob")
    assert t.server_with("turn") == "turn"
    assert len(t.servers["turn"].addresses) == 2  # RFC 5780 needs two addresses


@pytest.mark.parametrize("preset", list(PRESETS))
def test_preset_files_use_their_preset(preset: str) -> None:
    t = load_topology(TOPOLOGIES / f"{preset}.yaml")
    assert {r.nat for r in t.nats.values()} == {PRESETS[preset]}
    assert t.behind("alice") == ["nat-a"] and t.behind("bob") == ["nat-b"]


def test_double_nat_chain_and_gateways() -> None:
    t = load_topology(TOPOLOGIES / "double-nat.yaml")
    assert t.behind("alice") == ["home-a", "cgn"]
    assert t.gateway("alice") == "192.168.1.1"
    assert t.gateway("home-a") == "10.64.0.1"
    assert t.gateway("cgn") is None


BASE = yaml.safe_load((TOPOLOGIES / "port-restricted-cone.yaml").read_text())


def _write(tmp_path: Path, data: object | str) -> Path:
    p = tmp_path / "bad.yaml"
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def _mutate(path: str, value: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    keys = path.split(".")
    node = data
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value
    return data


BAD = [
    # (field path to change, new value, expected field in message, expected words in reason)
    (
        "nats.nat-a.behavior",
        "semi-cone",
        "nats.nat-a.behavior",
        "unknown NAT behaviour 'semi-cone'",
    ),
    (
        "nats.nat-a.behavior",
        {"mapping": "cone"},
        "nats.nat-a.behavior.mapping",
        "endpoint-independent",
    ),
    (
        "nats.nat-a.behavior",
        {"preset": "symmetric", "udp_timeout": 0},
        "udp_timeout",
        "greater than",
    ),
    (
        "nats.nat-a.behavior",
        {"preset": "symmetric", "port_preservation": True},
        "behavior",
        "port_preservation",
    ),
    ("hosts.alice.address", "10.0.1.1", "hosts.alice.address", "already used by nats.nat-a.lan"),
    ("hosts.alice.address", "10.0.9.10", "hosts.alice.address", "outside lan-a"),
    ("hosts.alice.network", "lan-z", "hosts.alice.network", "unknown network 'lan-z'"),
    (
        "networks.internet.subnet",
        "8.8.8.0/24",
        "networks.internet.subnet",
        "outside the lab's ranges",
    ),
    (
        "servers.turn.addresses",
        ["203.0.113.2", "1.1.1.1"],
        "servers.turn.addresses[1]",
        "outside internet",
    ),
    ("peers", ["alice", "carol"], "peers[1]", "unknown host 'carol'"),
    ("hosts.alice.colour", "red", "hosts.alice.colour", "unknown field"),
    ("name", "Bad_Name", "name", "not a valid name"),
]


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"), BAD, ids=[b[2] + ":" + b[3][:20] for b in BAD]
)
def test_bad_files_name_file_field_reason(
    tmp_path: Path, path: str, value: object, field: str, reason: str
) -> None:
    p = _write(tmp_path, _mutate(path, value))
    with pytest.raises(TopologyError) as e:
        load_topology(p)
    msg = str(e.value)
    assert msg.startswith(str(p) + ": "), msg
    assert field in e.value.field, msg
    assert reason in e.value.reason, msg
    assert e.value.exit_code == 2


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = (
        (TOPOLOGIES / "symmetric.yaml")
        .read_text()
        .replace("  bob: {network: lan-b", "  alice: {network: lan-b", 1)
    )
    with pytest.raises(TopologyError, match=r"line \d+.*duplicate key 'alice'"):
        load_topology(_write(tmp_path, text))


def test_duplicate_name_across_kinds(tmp_path: Path) -> None:
    data = _mutate("hosts.turn", {"network": "lan-a", "address": "10.0.1.20"})
    with pytest.raises(TopologyError, match=r"servers\.turn: name already used in hosts"):
        load_topology(_write(tmp_path, data))


def test_yaml_syntax_error(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match=r"line 3, column 1: YAML"):
        load_topology(_write(tmp_path, "name: x\nnetworks: [\n"))


def test_missing_file() -> None:
    with pytest.raises(TopologyError, match="cannot read"):
        load_topology("/nonexistent/x.yaml")


def test_behavior_overrides_keep_preset() -> None:
    data = _mutate(
        "nats.nat-a.behavior", {"preset": "full-cone", "hairpinning": True, "udp_timeout": 30}
    )
    from nattest.model.load import parse_topology

    nat = parse_topology(data, "x").nats["nat-a"].nat
    assert nat is not None
    assert (nat.mapping, nat.filtering) == (
        Mapping.ENDPOINT_INDEPENDENT,
        Filtering.ENDPOINT_INDEPENDENT,
    )
    assert nat.hairpinning and nat.udp_timeout == 30
