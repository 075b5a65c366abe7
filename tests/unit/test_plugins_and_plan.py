"""Plug-in registries (backends, peer kinds), NAT chain composites, matrix cell planning,
expectation table lookup, and the YAML reader's duplicate-key check. All pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from nattest import backends, peers
from nattest.backends.base import Backend
from nattest.backends.records import LabRecord
from nattest.errors import FileFieldError, TopologyError, UsageError
from nattest.matrix.expectations import Expectations, load_expectations, table_name
from nattest.matrix.run import plan_cells
from nattest.model.configs import CONFIGS
from nattest.model.nat import (
    PRESETS,
    Filtering,
    Firewall,
    Mapping,
    NatBehavior,
    blocks_udp,
    composite,
)
from nattest.model.yamlfile import parse_yaml
from nattest.peers.base import PeerKind
from nattest.plugins import Registry


@pytest.fixture(scope="module")
def table() -> Expectations:
    """The packaged aiortc expectation table."""
    return load_expectations()


# --- Registry ------------------------------------------------------------------------------


def test_registry_lists_and_instantiates() -> None:
    """Names are sorted; `get` returns a fresh instance of the registered class."""
    registry: Registry[Backend] = Registry("nattest.backends", Backend, "backend")
    assert "netns" in registry.names()
    assert registry.names() == sorted(registry.names())
    first, second = registry.get("netns"), registry.get("netns")
    assert isinstance(first, Backend) and first.name == "netns"
    assert first is not second


def test_registry_unknown_name_lists_known() -> None:
    """An unknown name: UsageError in the registry's own words, listing what is there."""
    registry: Registry[Backend] = Registry("nattest.backends", Backend, "backend")
    with pytest.raises(UsageError, match=r"backend 'nosuch' is not available \(available: .*netns"):
        registry.get("nosuch")


def test_registry_empty_group_says_install() -> None:
    """A group nothing registers in: the message says how to install nattest."""
    registry: Registry[Backend] = Registry("nattest.no-such-group", Backend, "widget")
    assert registry.names() == []
    with pytest.raises(UsageError, match=r"widget 'x' is not available \(available: none: is"):
        registry.get("x")


def test_registry_refuses_wrong_base() -> None:
    """An entry point whose class is not a subclass of the group's base is refused."""
    registry: Registry[Backend] = Registry("nattest.peers", Backend, "backend")
    with pytest.raises(UsageError, match=r"backend 'aiortc' \(.*AiortcPeer\) is not a Backend"):
        registry.get("aiortc")


# --- backends ------------------------------------------------------------------------------


def test_backends_available() -> None:
    """netns is registered."""
    assert "netns" in backends.available()
    assert backends.available() == backends.BACKENDS.names()


def test_default_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without NATTEST_BACKEND (or with it empty) the default is netns."""
    monkeypatch.delenv("NATTEST_BACKEND", raising=False)
    assert backends.default_name() == "netns" == backends.DEFAULT
    assert backends.get_backend().name == "netns"
    monkeypatch.setenv("NATTEST_BACKEND", "")
    assert backends.default_name() == "netns"


def test_backend_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """NATTEST_BACKEND names the default; an explicit name wins over it."""
    monkeypatch.setenv("NATTEST_BACKEND", "nosuch")
    assert backends.default_name() == "nosuch"
    with pytest.raises(UsageError, match="backend 'nosuch' is not available"):
        backends.get_backend()
    assert backends.get_backend("netns").name == "netns"


def test_unknown_backend_lists_available(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown backend: UsageError (exit 2) listing the available ones."""
    monkeypatch.delenv("NATTEST_BACKEND", raising=False)
    with pytest.raises(UsageError) as info:
        backends.get_backend("nosuch")
    assert info.value.exit_code == 2
    assert "backend 'nosuch' is not available" in str(info.value)
    for name in backends.available():
        assert name in str(info.value)


def test_for_record_uses_the_recorded_backend() -> None:
    """A record names the backend that built it."""
    assert backends.for_record(LabRecord(name="demo")).name == "netns"
    with pytest.raises(UsageError, match="backend 'gone'"):
        backends.for_record(LabRecord(name="demo", backend="gone"))


# --- peers ---------------------------------------------------------------------------------


def test_peers_available() -> None:
    """aiortc is registered and is the default kind, judged by its own table."""
    assert "aiortc" in peers.available()
    kind = peers.get_peer_kind()
    assert isinstance(kind, PeerKind)
    assert kind.name == peers.DEFAULT == "aiortc"
    assert kind.expectations == "aiortc"
    assert kind.summary


def test_unknown_peer_kind() -> None:
    """An unknown peer kind: UsageError naming the registered ones."""
    with pytest.raises(UsageError, match=r"peer kind 'nosuch' is not available \(.*aiortc"):
        peers.get_peer_kind("nosuch")


# --- composite, blocks_udp -----------------------------------------------------------------


def test_composite_without_translation() -> None:
    """No NAT, or only open routers (None): nothing translates."""
    assert composite([]) is None
    assert composite([None]) is None
    assert composite([None, None]) is None


@pytest.mark.parametrize(
    ("chain", "expected"),
    [
        (["full-cone"], (Mapping.ENDPOINT_INDEPENDENT, Filtering.ENDPOINT_INDEPENDENT)),
        (
            ["full-cone", "symmetric"],
            (Mapping.ADDRESS_AND_PORT_DEPENDENT, Filtering.ADDRESS_AND_PORT_DEPENDENT),
        ),
        (
            ["symmetric", "full-cone"],
            (Mapping.ADDRESS_AND_PORT_DEPENDENT, Filtering.ADDRESS_AND_PORT_DEPENDENT),
        ),
        (
            ["full-cone", "restricted-cone"],
            (Mapping.ENDPOINT_INDEPENDENT, Filtering.ADDRESS_DEPENDENT),
        ),
        (
            ["restricted-cone", "port-restricted-cone", "full-cone"],
            (Mapping.ENDPOINT_INDEPENDENT, Filtering.ADDRESS_AND_PORT_DEPENDENT),
        ),
    ],
)
def test_composite_of_presets(chain: list[str], expected: tuple[Mapping, Filtering]) -> None:
    """Most dependent mapping, most restrictive filtering, whatever the order."""
    assert composite(PRESETS[p] for p in chain) == expected


def test_composite_ignores_open_routers_and_mixes_fields() -> None:
    """Mapping and filtering are each the worst of the chain, from different NATs."""
    ad_mapping = NatBehavior(
        mapping=Mapping.ADDRESS_DEPENDENT,
        filtering=Filtering.ENDPOINT_INDEPENDENT,
        port_preservation=False,
    )
    chain = [None, ad_mapping, PRESETS["port-restricted-cone"]]
    assert composite(chain) == (Mapping.ADDRESS_DEPENDENT, Filtering.ADDRESS_AND_PORT_DEPENDENT)


@pytest.mark.parametrize(
    ("firewall", "blocked"),
    [(None, False), (Firewall.UDP_BLOCKED, True), (Firewall.TCP_443_ONLY, True)],
)
def test_blocks_udp(firewall: Firewall | None, blocked: bool) -> None:
    """Both firewalls drop UDP; no firewall drops nothing."""
    assert blocks_udp(firewall) is blocked


# --- plan_cells ----------------------------------------------------------------------------


def test_plan_default_is_whole_matrix(table: Expectations) -> None:
    """Default: 64 grid cells caller-major, then the 3 relay-only cells (udp, tcp, tls)."""
    cells = plan_cells(table)
    assert len(cells) == 67
    assert len(table.configs) == 8
    assert cells[:64] == table.grid()
    assert [(c.caller, c.callee) for c in cells[:64]] == [
        (a, b) for a in table.configs for b in table.configs
    ]
    assert all(c.policy == "all" for c in cells[:64])
    relay = cells[64:]
    assert [c.policy for c in relay] == ["relay"] * 3
    assert [c.turn_transport for c in relay] == ["udp", "tcp", "tls"]
    assert len({c.id for c in cells}) == 67


def test_plan_subset_caller_major(table: Expectations) -> None:
    """Two configs with policy all: 4 cells, caller-major in the order given."""
    cells = plan_cells(table, ["open", "symmetric"], ("all",))
    assert [c.id for c in cells] == [
        "open--open--all",
        "open--symmetric--all",
        "symmetric--open--all",
        "symmetric--symmetric--all",
    ]


def test_plan_relay_row_only(table: Expectations) -> None:
    """Policy relay alone with the relay row's configs: the relay row."""
    row = table.relay_row()
    configs = sorted({e.caller for e in row} | {e.callee for e in row})
    assert plan_cells(table, configs, ("relay",)) == row


def test_plan_relay_without_its_configs(table: Expectations) -> None:
    """Policy relay with configs not in the relay row: no cells, and says which it uses."""
    row_configs = {e.caller for e in table.relay_row()}
    assert "open" not in row_configs and "symmetric" not in row_configs
    with pytest.raises(UsageError, match="no cells to run") as info:
        plan_cells(table, ["open", "symmetric"], ("relay",))
    for name in row_configs:
        assert name in str(info.value)


def test_plan_unknown_policy(table: Expectations) -> None:
    """An unknown policy is named."""
    with pytest.raises(UsageError, match=r"unknown policy 'bogus' \(expected all or relay\)"):
        plan_cells(table, None, ("all", "bogus"))  # type: ignore[arg-type]


def test_plan_unknown_config(table: Expectations) -> None:
    """An unknown configuration is named, with every known one listed."""
    with pytest.raises(UsageError, match="unknown configuration 'semi-cone'") as info:
        plan_cells(table, ["open", "semi-cone"])
    for name in CONFIGS:
        assert name in str(info.value)


def test_plan_no_policies(table: Expectations) -> None:
    """No policy at all: nothing to run is a usage error, not an empty run."""
    with pytest.raises(UsageError, match="no cells to run"):
        plan_cells(table, None, ())


# --- expectation tables --------------------------------------------------------------------


def test_table_name_same_kind() -> None:
    """Both sides aiortc: aiortc's own table."""
    assert table_name("aiortc", "aiortc") == "aiortc"


def test_table_name_unknown_kind() -> None:
    """An unknown kind is refused (not silently given a table)."""
    with pytest.raises(UsageError, match="peer kind 'nosuch'"):
        table_name("aiortc", "nosuch")


def test_load_unknown_table() -> None:
    """An unknown table: UsageError naming the packaged ones and where to add it."""
    with pytest.raises(UsageError) as info:
        load_expectations("nosuch")
    message = str(info.value)
    assert (
        "no expectation table 'nosuch' "
        "(packaged: aiortc, aiortc+chromium, chromium, chromium+aiortc)" in message
    )
    assert "nattest/data/expectations/nosuch.yaml" in message


# --- parse_yaml ----------------------------------------------------------------------------


def test_parse_yaml_plain() -> None:
    """Ordinary YAML parses as usual."""
    assert parse_yaml("a: 1\nb: [x, y]\n", "t.yaml") == {"a": 1, "b": ["x", "y"]}


def test_parse_yaml_duplicate_key_names_first_line() -> None:
    """A repeated key: `file: line L, column C: YAML: duplicate key 'k' (first on line N)`."""
    text = "name: x\nnats:\n  nat-a: 1\n  nat-b: 2\n  nat-a: 3\n"
    with pytest.raises(FileFieldError) as info:
        parse_yaml(text, "t.yaml")
    assert info.value.source == "t.yaml"
    assert info.value.field == "line 5, column 3"
    assert info.value.reason == "YAML: duplicate key 'nat-a' (first on line 3)"
    assert str(info.value) == (
        "t.yaml: line 5, column 3: YAML: duplicate key 'nat-a' (first on line 3)"
    )


def test_parse_yaml_duplicate_top_level_key_with_error_class() -> None:
    """The caller's error class is raised (a TopologyError for topology files)."""
    with pytest.raises(TopologyError, match=r"duplicate key 'name' \(first on line 1\)"):
        parse_yaml("name: a\nhosts: {}\nname: b\n", "topo.yaml", TopologyError)


def test_parse_yaml_same_key_in_different_mappings() -> None:
    """The same key in two different mappings is not a duplicate."""
    data = parse_yaml("a: {x: 1}\nb: {x: 2}\n", "t.yaml")
    assert data == {"a": {"x": 1}, "b": {"x": 2}}


def test_parse_yaml_malformed() -> None:
    """Broken YAML names line and column."""
    with pytest.raises(FileFieldError, match=r"t\.yaml: line 2, column \d+: YAML: "):
        parse_yaml("a: [1, 2\nb: 3\n", "t.yaml")


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
    assert registry.names() == ["aiortc", "chromium", "toy"]
    toy = registry.get("toy")
    assert toy.name == "toy" and toy.command(None, None) == (["true"], {})  # type: ignore[arg-type]


def test_builtin_plugins_are_the_entry_points() -> None:
    """The registries' built-in shortcut (no metadata scan) names exactly what pyproject.toml
    registers, so a built-in found fast is the one the entry point would give."""
    import tomllib
    from pathlib import Path

    from nattest.backends import BACKENDS
    from nattest.peers import PEERS

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    points = project["project"]["entry-points"]
    for registry in (BACKENDS, PEERS):
        assert registry.builtins == points[registry.group]
