"""The Chromium tables: libwebrtc's pairs, the mixed pairs' derived cells, and their reasons."""

from __future__ import annotations

import pytest

from nattest.matrix.cells import pair_types, path_of
from nattest.matrix.expectations import (
    Expectations,
    load_expectations,
    packaged_tables,
    table_name,
)

from .test_expectations import BEHAVIOUR, CONFIGS, HOST_A, PRFLX_B, SRFLX_B, call, seen_as

NAT_CONFIGS = CONFIGS[:7]
"""The seven configurations libwebrtc's matrix test has (UDP cells)."""
TABLES = ["aiortc", "chromium", "chromium+aiortc", "aiortc+chromium"]


@pytest.fixture(scope="module")
def tables() -> dict[str, Expectations]:
    return {name: load_expectations(name) for name in TABLES}


def test_every_kind_pair_has_its_packaged_table() -> None:
    assert set(TABLES) <= set(packaged_tables())
    assert table_name("chromium", "chromium") == "chromium"
    assert table_name("chromium", "aiortc") == "chromium+aiortc"
    assert table_name("aiortc", "chromium") == "aiortc+chromium"


def test_tables_have_the_same_cells_and_reasons(tables: dict[str, Expectations]) -> None:
    ids = [e.id for e in tables["aiortc"].cells]
    for name, table in tables.items():
        assert table.configs == CONFIGS, name
        assert [e.id for e in table.cells] == ids, name
        for e in table.cells:
            assert table.rule_text(e), f"{name}: {e.id}: rule {e.rule} has no reasoning"


def test_chromium_direct_cells_are_the_rfc_pair(tables: dict[str, Expectations]) -> None:
    """Where both tables say direct, libwebrtc's pair is the one RFC 8445 selects (aiortc's
    rfc_pair), typed from the lab's behaviours; the only extra is an open caller's NATed
    cone callee seen as prflx (gathering stopped before its srflx)."""
    chromium, aiortc = tables["chromium"], tables["aiortc"]
    for a in NAT_CONFIGS:
        for b in NAT_CONFIGS:
            c, ai = chromium.get(a, b), aiortc.get(a, b)
            assert c.path == ai.path, c.id
            assert c.basis == "libwebrtc", c.id
            if c.path != "direct":
                continue
            assert c.pair[0] == ai.rfc_pair == f"{seen_as(a)}↔{seen_as(b)}", c.id
            prflx_callee = a == "open" and BEHAVIOUR[b] is not None and seen_as(b) == "srflx"
            assert c.pair[1:] == (["host↔prflx"] if prflx_callee else []), c.id


def test_chromium_relay_cells_use_one_relay_leg(tables: dict[str, Expectations]) -> None:
    chromium = tables["chromium"]
    for a in NAT_CONFIGS:
        for b in NAT_CONFIGS:
            c = chromium.get(a, b)
            if c.path == "relay":
                assert c.protocol == "udp" and len(c.pair) == 2, c.id
                assert all(pair_types(p).count("relay") == 1 for p in c.pair), c.id
                assert {f"relay↔{seen_as(b)}", f"{seen_as(a)}↔relay"} == set(c.pair), c.id


def test_mixed_tables_follow_the_nominating_caller(tables: dict[str, Expectations]) -> None:
    chromium, aiortc = tables["chromium"], tables["aiortc"]
    chromium_calls, aiortc_calls = tables["chromium+aiortc"], tables["aiortc+chromium"]
    late = set()
    for a in CONFIGS:
        for b in CONFIGS:
            ca, ac = chromium_calls.get(a, b), aiortc_calls.get(a, b)
            assert set(aiortc.get(a, b).pair) <= set(ac.pair), ac.id  # aiortc nominates
            assert ac.rfc_pair == aiortc.get(a, b).rfc_pair, ac.id
            if ca.rule == "adf-too-late":
                late.add((a, b))
                assert ca.path == "relay" and chromium.get(a, b).path == "direct", ca.id
            elif ca.path == "direct":
                assert ca.pair == [chromium.get(a, b).pair[0]], ca.id  # Chromium nominates
            else:
                assert all(path_of(p) == "relay" for p in ca.pair), ca.id
    assert late == {("restricted-cone", "symmetric"), ("restricted-cone", "symmetric-then-cone")}


def test_a_direct_pair_typed_otherwise_is_no_deviation(tables: dict[str, Expectations]) -> None:
    """host↔prflx where the standard pair is host↔srflx is the same NAT mapping: no relay
    was paid for, so it is as expected, not amber."""
    e = tables["aiortc+chromium"].get("open", "port-restricted-cone")
    prflx = call((HOST_A, PRFLX_B))
    assert e.matches(prflx) == (True, "")
    assert e.deviation(prflx, "aiortc") is None
    assert e.deviation(call((HOST_A, SRFLX_B)), "aiortc") is None
