"""The expectation table: complete, consistent with RFC 4787 rules, and it says why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nattest.expectations import (
    Expectation,
    Expectations,
    ExpectationsError,
    cell_id,
    configs,
    load_expectations,
    parse_cell_id,
    path_of,
)
from nattest.result import CallResult, Candidate, CandidatePair, PeerResult

CONFIGS = [
    "open",
    "full-cone",
    "restricted-cone",
    "port-restricted-cone",
    "symmetric",
    "double-cone",
    "symmetric-then-cone",
    "udp-blocked",
]

# An independent statement of each configuration's overall RFC 4787 behaviour:
# (mapping, filtering); None for a peer that cannot send UDP at all.
BEHAVIOUR: dict[str, tuple[str, str] | None] = {
    "open": ("none", "none"),
    "full-cone": ("EIM", "EIF"),
    "restricted-cone": ("EIM", "ADF"),
    "port-restricted-cone": ("EIM", "APDF"),
    "symmetric": ("APDM", "APDF"),
    "double-cone": ("EIM", "EIF"),  # full-cone behind full-cone
    "symmetric-then-cone": ("APDM", "APDF"),  # the outer symmetric NAT decides
    "udp-blocked": None,
}

# aioice re-nominates a later relay pair here (docs/matrix.md): RFC says direct.
RENOMINATED = {("restricted-cone", b) for b in CONFIGS if BEHAVIOUR[b] and b != "open"} - {
    ("restricted-cone", "symmetric"),
    ("restricted-cone", "symmetric-then-cone"),
}


def first_check_passes(sender: str, receiver: str) -> bool:
    """Does a check from `sender`'s host to `receiver`'s signalled address get in?

    The receiver has already sent checks to the sender's signalled (srflx/host) address.
    """
    s, r = BEHAVIOUR[sender], BEHAVIOUR[receiver]
    assert s is not None and r is not None
    r_mapping, r_filtering = r
    if r_mapping == "APDM":
        return False  # the srflx port of a symmetric NAT only admits the STUN server
    if r_filtering in ("none", "EIF", "ADF"):
        return True
    return s[0] in ("none", "EIM")  # APDF: only if the sender's mapping is the signalled one


def direct_possible(a: str, b: str) -> bool:
    """RFC 4787: is there a direct UDP path between peers behind `a` and `b`?"""
    if BEHAVIOUR[a] is None or BEHAVIOUR[b] is None:
        return False
    return first_check_passes(a, b) or first_check_passes(b, a)


def direct_type(config: str) -> str:
    """Candidate type of a peer's side of a direct pair, as libwebrtc reports it."""
    behaviour = BEHAVIOUR[config]
    assert behaviour is not None
    return {"none": "host", "EIM": "srflx", "APDM": "prflx"}[behaviour[0]]


@pytest.fixture(scope="module")
def table() -> Expectations:
    return load_expectations()


def test_every_ordered_pair_has_exactly_one_entry(table: Expectations) -> None:
    assert table.configs == CONFIGS == configs()
    ids = [e.id for e in table.cells]
    assert len(ids) == len(set(ids)) == 64 + 3
    for a in CONFIGS:
        for b in CONFIGS:
            assert ids.count(cell_id(a, b)) == 1
    relay = table.relay_row()
    assert [e.turn_transport for e in relay] == ["udp", "tcp", "tls"]
    assert [e.id for e in relay] == [
        f"port-restricted-cone--port-restricted-cone--relay-{t}" for t in ("udp", "tcp", "tls")
    ]


def test_configs_match_the_lab_configurations() -> None:
    lab = pytest.importorskip("nattest.configs")
    assert list(lab.CONFIGS) == CONFIGS


def test_path_follows_rfc4787(table: Expectations) -> None:
    for a in CONFIGS:
        for b in CONFIGS:
            e = table.get(a, b)
            assert e.connect, f"{e.id}: every peer has TURN, every cell connects"
            rfc = "direct" if direct_possible(a, b) else "relay"
            if (a, b) in RENOMINATED:
                assert (e.path, e.rule) == ("relay", "restricted-caller-renomination"), e.id
                assert e.rfc_pair is not None and path_of(e.rfc_pair) == rfc == "direct", e.id
            else:
                assert e.path == rfc, f"{e.id}: table says {e.path}, RFC 4787 rules say {rfc}"


def test_direct_pairs_have_the_mapping_types(table: Expectations) -> None:
    for e in table.grid():
        expected = None
        if e.path == "direct" or (e.caller, e.callee) in RENOMINATED:
            expected = f"{direct_type(e.caller)}↔{direct_type(e.callee)}"
        if e.path == "direct":
            assert e.pair == [expected], e.id
        elif expected is not None:
            assert e.rfc_pair == expected, e.id


def test_relay_cells(table: Expectations) -> None:
    for e in table.grid():
        if e.path != "relay":
            continue
        blocked = "udp-blocked" in (e.caller, e.callee)
        assert e.protocol == ("tcp" if blocked else "udp"), e.id
        for pair in e.pair:
            local, remote = pair.split("↔")
            if e.caller == "udp-blocked":
                assert local == "relay", e.id
            if e.callee == "udp-blocked":
                assert remote == "relay", e.id
        assert len(e.pair) == 1 or e.rule == "late-prflx", f"{e.id}: sets are kept rare"
    for e in table.relay_row():
        assert (e.policy, e.pair, e.protocol) == ("relay", ["relay↔relay"], e.turn_transport)


def test_cell_ids_round_trip() -> None:
    assert cell_id("symmetric", "port-restricted-cone") == "symmetric--port-restricted-cone--all"
    assert parse_cell_id("a--b--relay-tcp") == ("a", "b", "relay", "tcp")
    with pytest.raises(ValueError):
        parse_cell_id("a--b--relay-quic")
    with pytest.raises(ValueError):
        cell_id("a", "b", "relay")


# -- matches() -------------------------------------------------------------------------------


def cand(kind: str, address: str, port: int, relay: str | None = None) -> Candidate:
    return Candidate.model_validate(
        {"type": kind, "protocol": "udp", "address": address, "port": port, "relayProtocol": relay}
    )


def call(
    local: Candidate | None, remote: Candidate | None, policy: str = "all", reason: str = ""
) -> CallResult:
    connected = local is not None and remote is not None
    pa = CandidatePair(local=local, remote=remote) if connected else None  # type: ignore[arg-type]
    pb = CandidatePair(local=remote, remote=local) if connected else None  # type: ignore[arg-type]
    outcome = "connected" if connected else "failed"
    peers = [
        PeerResult.model_validate(
            {
                "name": n,
                "role": r,
                "policy": policy,
                "outcome": outcome,
                "reason": reason or None,
                "selectedPair": p,
            }
        )
        for n, r, p in (("alice", "caller", pa), ("bob", "callee", pb))
    ]
    return CallResult.model_validate(
        {
            "topology": "t",
            "caller": peers[0],
            "callee": peers[1],
            "policy": policy,
            "selectedPair": pa,
        }
    )


SRFLX_A = cand("srflx", "203.0.113.11", 40017)
SRFLX_B = cand("srflx", "203.0.113.12", 40034)
PRFLX_B = cand("prflx", "203.0.113.12", 22954)
RELAY_A = cand("relay", "203.0.113.2", 49192, relay="udp")


def test_matches_accepts_the_expected_pair(table: Expectations) -> None:
    assert table.get("port-restricted-cone", "full-cone").matches(call(SRFLX_A, SRFLX_B)) == (
        True,
        "",
    )
    late = table.get("port-restricted-cone", "symmetric")
    assert late.matches(call(RELAY_A, PRFLX_B))[0]


def test_matches_says_why(table: Expectations) -> None:
    e = table.get("port-restricted-cone", "symmetric")
    ok, why = e.matches(call(SRFLX_A, PRFLX_B))
    assert not ok and "expected a relay path" in why and "srflx↔prflx (direct)" in why

    e = table.get("full-cone", "symmetric")
    ok, why = e.matches(call(SRFLX_A, SRFLX_B))
    assert not ok and why == "expected srflx↔prflx (direct), got srflx↔srflx"

    ok, why = e.matches(call(None, None, reason="ICE failed: no candidate pair succeeded"))
    assert not ok and "the call failed: ICE failed" in why

    ok, why = e.matches(call(SRFLX_A, PRFLX_B, policy="relay"))
    assert not ok and "policy relay" in why

    e = table.get("udp-blocked", "symmetric")  # relay over tcp expected
    ok, why = e.matches(call(RELAY_A, PRFLX_B))
    assert not ok and why == "expected the relay leg over tcp, got udp (relay↔prflx)"


def test_matches_no_connection_expected() -> None:
    e = Expectation(caller="symmetric", callee="symmetric", connect=False, rule="stun-only")
    assert e.matches(call(None, None)) == (True, "")
    ok, why = e.matches(call(SRFLX_A, SRFLX_B))
    assert not ok and why == "expected no connection, connected via srflx↔srflx"


# -- loading errors name file, field and reason ----------------------------------------------


def _write(tmp_path: Path, mutate: Callable[[dict[str, Any]], object]) -> Path:
    src = Path(__file__).parents[2] / "nattest" / "data" / "expectations.yaml"
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    mutate(data)
    out = tmp_path / "bad.yaml"
    out.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return out


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (
            lambda d: d["cells"]["open--open--all"].update(colour="red"),
            "cells.open--open--all.colour",
            "unknown field",
        ),
        (
            lambda d: d["cells"]["open--open--all"].update(pair="host<->host"),
            "cells.open--open--all.pair",
            "is not <local>↔<remote>",
        ),
        (
            lambda d: d["cells"]["open--open--all"].update(path="relay"),
            "cells.open--open--all",
            "pair host↔host is not a relay path",
        ),
        (
            lambda d: d["cells"]["open--open--all"].update(rule="magic"),
            "cells.open--open--all.rule",
            "unknown rule 'magic'",
        ),
        (
            lambda d: d["cells"].pop("symmetric--open--all"),
            "cells",
            "no entry for cell symmetric--open--all",
        ),
        (
            lambda d: d["cells"].update({"open--semi-cone--all": d["cells"]["open--open--all"]}),
            "cells.open--semi-cone--all",
            "unknown callee configuration 'semi-cone'",
        ),
        (
            lambda d: d["cells"].update({"open--open--relay": {}}),
            "cells.open--open--relay",
            "is not all or relay-udp|tcp|tls",
        ),
    ],
)
def test_loading_errors_name_file_field_and_reason(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], object], field: str, reason: str
) -> None:
    path = _write(tmp_path, mutate)
    with pytest.raises(ExpectationsError) as info:
        load_expectations(path)
    err = info.value
    assert (err.source, err.field) == (str(path), field)
    assert reason in err.reason
    assert str(err).startswith(f"{path}: {field}: ")


def test_repeated_cell_is_an_error(tmp_path: Path) -> None:
    src = Path(__file__).parents[2] / "nattest" / "data" / "expectations.yaml"
    text = src.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("  open--open--all:"))
    bad = tmp_path / "dup.yaml"
    bad.write_text(text + line + "\n", encoding="utf-8")
    with pytest.raises(ExpectationsError, match="repeated key 'open--open--all'"):
        load_expectations(bad)
