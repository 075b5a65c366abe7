"""Plug-in registries, NAT chains, the YAML reader and the matrix's cell planning."""

from __future__ import annotations

from pathlib import Path

import pytest

from nattest import backends, peers
from nattest.backends.base import Backend
from nattest.backends.netns import NetnsBackend
from nattest.errors import FileFieldError, UsageError
from nattest.matrix.expectations import load_expectations, packaged_tables, table_name
from nattest.matrix.run import plan_cells
from nattest.model.nat import PRESETS, Filtering, Firewall, Mapping, blocks_udp, composite
from nattest.model.yamlfile import parse_yaml
from nattest.peers.base import PeerKind
from nattest.plugins import Registry

TABLE = load_expectations()


def test_backends_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "netns" in backends.available()
    monkeypatch.delenv("NATTEST_BACKEND", raising=False)
    assert backends.default_name() == "netns"
    assert isinstance(backends.get_backend(), NetnsBackend)
    monkeypatch.setenv("NATTEST_BACKEND", "nosuch")
    with pytest.raises(UsageError, match=r"backend 'nosuch' is not available \(available: netns"):
        backends.get_backend()
    assert backends.get_backend("netns").name == "netns"


def test_peer_kinds_registry() -> None:
    assert "aiortc" in peers.available()
    kind = peers.get_peer_kind()
    assert (kind.name, kind.expectations) == ("aiortc", "aiortc")


def test_a_registry_refuses_what_is_not_its_kind() -> None:
    # the pytest plugin is registered too, under another group: it is not a Backend
    odd = Registry("pytest11", Backend, "backend")
    assert "nattest" in odd.names()
    with pytest.raises(UsageError, match="is not a Backend"):
        odd.get("nattest")
    assert Registry("nattest.no-such-group", Backend, "thing").names() == []


def test_composite_of_a_chain() -> None:
    assert composite([]) is None and composite([None]) is None
    assert composite([PRESETS["full-cone"]]) == (
        Mapping.ENDPOINT_INDEPENDENT,
        Filtering.ENDPOINT_INDEPENDENT,
    )
    assert composite([PRESETS["symmetric"], None, PRESETS["full-cone"]]) == (
        Mapping.ADDRESS_AND_PORT_DEPENDENT,
        Filtering.ADDRESS_AND_PORT_DEPENDENT,
    )
    assert composite([PRESETS["restricted-cone"], PRESETS["full-cone"]]) == (
        Mapping.ENDPOINT_INDEPENDENT,
        Filtering.ADDRESS_DEPENDENT,
    )


def test_blocks_udp() -> None:
    assert blocks_udp(Firewall.UDP_BLOCKED) and blocks_udp(Firewall.TCP_443_ONLY)
    assert not blocks_udp(None)


def test_yaml_refuses_duplicate_keys_naming_the_first() -> None:
    with pytest.raises(FileFieldError, match=r"duplicate key 'a' \(first on line 1\)") as err:
        parse_yaml("a: 1\nb: 2\na: 3\n", "x.yaml")
    assert err.value.source == "x.yaml" and err.value.field.startswith("line 3")


def test_plan_every_cell() -> None:
    cells = plan_cells(TABLE)
    assert len(cells) == 67
    assert len([c for c in cells if c.policy == "relay"]) == 3
    assert len({c.id for c in cells}) == 67


def test_plan_a_subset_caller_major() -> None:
    cells = plan_cells(TABLE, ["open", "symmetric"], ("all",))
    assert [c.id for c in cells] == [
        "open--open--all",
        "open--symmetric--all",
        "symmetric--open--all",
        "symmetric--symmetric--all",
    ]


def test_plan_usage_errors() -> None:
    with pytest.raises(UsageError, match="no cells to run: the relay-only row uses"):
        plan_cells(TABLE, ["open"], ("relay",))
    with pytest.raises(UsageError, match="unknown policy 'both'"):
        plan_cells(TABLE, None, ("all", "both"))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="unknown configuration 'cgn'"):
        plan_cells(TABLE, ["open", "cgn"])


def test_tables_are_keyed_by_peer_kind() -> None:
    assert table_name("aiortc", "aiortc") == "aiortc"
    assert "aiortc" in packaged_tables()
    with pytest.raises(UsageError, match=r"no expectation table 'nosuch' \(packaged: aiortc"):
        load_expectations("nosuch")


TOY = """
from nattest.peers.base import PeerKind


class ToyPeer(PeerKind):
    name = "toy"
    summary = "a peer kind from another package"
    expectations = "toy"

    def command(self, lab, launch):
        return ["true"], {}

    def read_result(self, launch, exit_code):
        raise NotImplementedError
"""


def test_a_new_peer_kind_is_one_module_and_one_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another package's module plus its entry point: found with nothing of nattest edited."""
    (tmp_path / "toy_peer.py").write_text(TOY)
    info = tmp_path / "toy_peer-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-peer\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[nattest.peers]\ntoy = toy_peer:ToyPeer\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry("nattest.peers", PeerKind, "peer kind")
    assert registry.names() == ["aiortc", "toy"]
    toy = registry.get("toy")
    assert toy.name == "toy" and toy.command(None, None) == (["true"], {})  # type: ignore[arg-type]
