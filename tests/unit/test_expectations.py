"""The expectation table: complete, consistent with RFC 4787 rules, and it says why."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nattest.call.result import CallResult, Candidate, CandidatePair, PeerResult
from nattest.matrix.cells import cell_id, parse_cell_id, path_of
from nattest.matrix.expectations import (
    Expectation,
    Expectations,
    ExpectationsError,
    load_expectations,
)
from nattest.model import configs as model_configs

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
# (mapping, filtering); None for a peer that cannot send UDP at all. Written from the lab's
# NAT descriptions, not from tools/derive_expectations.py (whose SEEN/APDM/APDF it checks).
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
ROOT = Path(__file__).parents[2]


def direct_type(config: str) -> str:
    """Candidate type of a peer's side of a direct pair, as libwebrtc reports it."""
    behaviour = BEHAVIOUR[config]
    assert behaviour is not None
    return {"none": "host", "EIM": "srflx", "APDM": "prflx"}[behaviour[0]]


def seen_as(config: str) -> str:
    """How the other peer sees this side in a pair: its direct type, or its relay."""
    return "relay" if BEHAVIOUR[config] is None else direct_type(config)


@pytest.fixture(scope="module")
def table() -> Expectations:
    return load_expectations()


def test_every_ordered_pair_has_exactly_one_entry(table: Expectations) -> None:
    assert table.configs == CONFIGS
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
    assert list(model_configs.CONFIGS) == CONFIGS


def test_path_and_protocol_follow_rfc4787(table: Expectations) -> None:
    def direct_exists(a: str, b: str) -> bool:
        """RFC 4787, by hole punching: does a check from one side get through to the other?

        Each side has already sent checks to the other's signalled (host/srflx) address.
        A check gets in unless the receiver's signalled port is a symmetric NAT's (it only
        admits the STUN server) or the receiver filters by address and port and the
        sender's NAT picked a new mapping for it. Once one check gets in, the triggered
        check goes back through the mapping it came from.
        """
        sa, sb = BEHAVIOUR[a], BEHAVIOUR[b]
        if sa is None or sb is None:
            return False  # no UDP leaves a udp-blocked peer

        def gets_in(sender: tuple[str, str], receiver: tuple[str, str]) -> bool:
            if receiver[0] == "APDM":
                return False
            if receiver[1] in ("none", "EIF", "ADF"):
                return True
            return sender[0] in ("none", "EIM")

        return gets_in(sa, sb) or gets_in(sb, sa)

    def apdm_meets_apdf(a: str, b: str) -> bool:
        """The short form: an APDM side against an APDF side is the only blocking case."""
        sa, sb = BEHAVIOUR[a], BEHAVIOUR[b]
        assert sa is not None and sb is not None
        return (sa[0] == "APDM" and sb[1] == "APDF") or (sb[0] == "APDM" and sa[1] == "APDF")

    directs = 0
    for a in CONFIGS:
        for b in CONFIGS:
            e = table.get(a, b)
            assert e.connect, f"{e.id}: every peer has TURN, every cell connects"
            blocked = "udp-blocked" in (a, b)
            direct = direct_exists(a, b)
            if not blocked:
                assert direct == (not apdm_meets_apdf(a, b)), f"{e.id}: the two forms differ"
            rfc = "direct" if direct else "relay"
            directs += direct
            assert e.path == rfc, f"{e.id}: table says {e.path}, RFC 4787 rules say {rfc}"
            assert e.protocol == ("tcp" if blocked else "udp"), e.id
            if blocked:
                assert e.rule == "udp-blocked", e.id
            elif direct:
                apdm = any(BEHAVIOUR[c][0] == "APDM" for c in (a, b))  # type: ignore[index]
                assert e.rule == ("apdm-admitted" if apdm else "eim-both"), e.id
            else:
                both = all(BEHAVIOUR[c][0] == "APDM" for c in (a, b))  # type: ignore[index]
                assert e.rule == ("apdm-both" if both else "apdm-vs-apdf"), e.id
            assert table.rule_text(e), f"{e.id}: rule {e.rule} has no reasoning"
    # 7×7 UDP cells minus the 2×2 symmetric ones and 2×2 symmetric × port-restricted (both
    # ways round).
    assert directs == 49 - 4 - 4


def test_direct_cells_rfc_pair_and_nominable_set(table: Expectations) -> None:
    for e in table.grid():
        if e.path != "direct":
            assert e.rfc_pair is None, f"{e.id}: only direct cells name the direct pair"
            continue
        x, y = direct_type(e.caller), direct_type(e.callee)
        assert e.rfc_pair == f"{x}↔{y}", e.id
        assert path_of(e.rfc_pair) == "direct", e.id
        assert e.rfc_pair in e.pair and e.pair[0] == e.rfc_pair, e.id
        # aioice's first success may land on either side's relay instead.
        assert e.pair == [e.rfc_pair, f"relay↔{y}", f"{x}↔relay", "relay↔relay"], e.id
        assert [p for p in e.pair if path_of(p) == "direct"] == [e.rfc_pair], e.id
        assert (e.basis, e.protocol) == ("aioice", "udp"), e.id
        assert e.deviation_rule == "first-success", e.id


def test_relay_cells(table: Expectations) -> None:
    for e in table.grid():
        if e.path != "relay":
            continue
        assert all(path_of(p) == "relay" for p in e.pair), f"{e.id}: a direct pair can't match"
        x, y = seen_as(e.caller), seen_as(e.callee)
        for pair in e.pair:
            local, remote = pair.split("↔")
            if e.caller == "udp-blocked":
                assert local == "relay", e.id
            if e.callee == "udp-blocked":
                assert remote == "relay", e.id
            assert local in (x, "relay") and remote in (y, "relay"), e.id
        expected = list(dict.fromkeys([f"relay↔{y}", f"{x}↔relay", "relay↔relay"]))
        if x == "relay" or y == "relay":  # the blocked side's relay is its only candidate
            expected = [p for p in expected if p != "relay↔relay"] + ["relay↔relay"]
        assert e.pair == expected, e.id
    assert table.get("udp-blocked", "udp-blocked").pair == ["relay↔relay"]
    assert table.get("open", "udp-blocked").pair == ["host↔relay", "relay↔relay"]
    for e in table.relay_row():
        assert (e.policy, e.pair, e.protocol) == ("relay", ["relay↔relay"], e.turn_transport)
        assert (e.path, e.basis, e.rfc_pair) == ("relay", "rfc", None)


def test_derive_tool_check_passes() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "derive_expectations.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_describe(table: Expectations) -> None:
    assert table.get("open", "open").describe() == (
        "host↔host or relay↔host or host↔relay or relay↔relay (direct path)"
    )
    assert table.get("symmetric", "port-restricted-cone").describe() == (
        "relay↔srflx or prflx↔relay or relay↔relay (relay over udp)"
    )
    relay_tls = table.get("port-restricted-cone", "port-restricted-cone", "relay", "tls")
    assert relay_tls.describe() == "relay↔relay (relay over tls)"
    e = Expectation(caller="symmetric", callee="symmetric", connect=False, rule="stun-only")
    assert e.describe() == "no connection"


def test_cell_ids_round_trip() -> None:
    assert cell_id("symmetric", "port-restricted-cone") == "symmetric--port-restricted-cone--all"
    assert parse_cell_id("a--b--relay-tcp") == ("a", "b", "relay", "tcp")
    with pytest.raises(ValueError):
        parse_cell_id("a--b--relay-quic")
    with pytest.raises(ValueError):
        cell_id("a", "b", "relay")


# -- matches() -------------------------------------------------------------------------------

Side = tuple[Candidate, Candidate]
"""(local, remote) of a pair, caller's view; the callee sees it reversed."""


def cand(kind: str, address: str, port: int, relay: str | None = None) -> Candidate:
    return Candidate.model_validate(
        {"type": kind, "protocol": "udp", "address": address, "port": port, "relayProtocol": relay}
    )


def call(
    selected: Side | None,
    valid: list[Side] | None = None,
    policy: str = "all",
    reason: str = "",
    seen_by: tuple[str, ...] = ("caller", "callee"),
) -> CallResult:
    """A call that nominated `selected` and whose valid lists hold `valid` (default: the
    selected pair), on the peers named in `seen_by`."""
    if valid is None:
        valid = [selected] if selected else []
    outcome = "connected" if selected else "failed"
    peers = []
    for n, role in (("alice", "caller"), ("bob", "callee")):
        flip = role == "callee"
        mine = [
            CandidatePair(local=r, remote=loc) if flip else CandidatePair(local=loc, remote=r)
            for loc, r in valid
        ]
        sel = None
        if selected is not None:
            loc, r = selected
            sel = CandidatePair(local=r, remote=loc) if flip else CandidatePair(local=loc, remote=r)
        peers.append(
            PeerResult.model_validate(
                {
                    "name": n,
                    "role": role,
                    "policy": policy,
                    "outcome": outcome,
                    "reason": reason or None,
                    "selectedPair": sel,
                    "validPairs": mine if role in seen_by else [],
                }
            )
        )
    return CallResult.model_validate(
        {
            "topology": "t",
            "caller": peers[0],
            "callee": peers[1],
            "policy": policy,
            "selectedPair": peers[0].selected_pair,
        }
    )


HOST_A = cand("host", "198.51.100.10", 40017)
SRFLX_A = cand("srflx", "203.0.113.11", 40017)
PRFLX_A = cand("prflx", "203.0.113.11", 21977)
RELAY_A = cand("relay", "203.0.113.2", 49192, relay="udp")
RELAY_A_TCP = cand("relay", "203.0.113.2", 49192, relay="tcp")
SRFLX_B = cand("srflx", "203.0.113.12", 40034)
PRFLX_B = cand("prflx", "203.0.113.12", 22954)
RELAY_B = cand("relay", "203.0.113.2", 49232, relay="udp")


def test_direct_path_is_any_valid_pair_without_relay() -> None:
    assert call((SRFLX_A, SRFLX_B)).direct_path
    assert not call((RELAY_A, SRFLX_B), [(RELAY_A, SRFLX_B), (SRFLX_A, RELAY_B)]).direct_path
    assert call((RELAY_A, SRFLX_B), [(SRFLX_A, SRFLX_B)], seen_by=("callee",)).direct_path
    assert not call(None).direct_path


def test_matches_accepts_the_nominable_pairs(table: Expectations) -> None:
    e = table.get("port-restricted-cone", "full-cone")
    assert e.matches(call((SRFLX_A, SRFLX_B))) == (True, "")
    # (a) first success on a relay: the nominated pair is relayed, a direct pair succeeded.
    e = table.get("restricted-cone", "port-restricted-cone")
    both = [(RELAY_A, SRFLX_B), (SRFLX_A, SRFLX_B)]
    assert e.matches(call((RELAY_A, SRFLX_B), both)) == (True, "")
    assert e.matches(call((RELAY_A, SRFLX_B), both, seen_by=("callee",))) == (True, "")
    assert e.matches(call((SRFLX_A, RELAY_B), [(SRFLX_A, RELAY_B), (SRFLX_A, SRFLX_B)]))[0]
    # A relay cell: no direct pair succeeded, any of its relayed pairs may carry the call.
    e = table.get("port-restricted-cone", "symmetric")
    relayed = [(RELAY_A, PRFLX_B), (SRFLX_A, RELAY_B), (RELAY_A, RELAY_B)]
    for selected in relayed:
        assert e.matches(call(selected, relayed)) == (True, ""), selected
    e = table.get("udp-blocked", "symmetric")  # relay over tcp
    assert e.matches(call((RELAY_A_TCP, PRFLX_B))) == (True, "")


def test_deviation_is_another_listed_pair_than_the_standard_one(table: Expectations) -> None:
    e = table.get("restricted-cone", "port-restricted-cone")
    both = [(RELAY_A, SRFLX_B), (SRFLX_A, SRFLX_B)]
    assert e.deviation(call((SRFLX_A, SRFLX_B), both), "aiortc") is None
    why = e.deviation(call((RELAY_A, SRFLX_B), both), "aiortc")
    assert why == (
        "aiortc selected relay↔srflx, a relayed pair, although a direct pair succeeded; a "
        "standard agent (RFC 8445, libwebrtc) selects srflx↔srflx (rule first-success)"
    )
    relay_cell = table.get("port-restricted-cone", "symmetric")  # no standard pair to miss
    assert relay_cell.deviation(call((RELAY_A, RELAY_B)), "aiortc") is None


def test_matches_direct_cell_needs_a_direct_valid_pair(table: Expectations) -> None:
    # (b) the call connected through a relay and no direct check succeeded.
    e = table.get("restricted-cone", "port-restricted-cone")
    ok, why = e.matches(call((RELAY_A, SRFLX_B), [(RELAY_A, SRFLX_B)]))
    assert not ok
    assert "no direct pair succeeded" in why and "selected relay↔srflx" in why
    assert "alice: relay↔srflx; bob: srflx↔relay" in why
    # The nominated pair is even in the set: the path check alone decides.
    assert "relay↔srflx" in e.pair


def test_matches_relay_cell_with_a_direct_valid_pair(table: Expectations) -> None:
    # (c) a direct pair succeeded where RFC 4787 says none can: a NAT is more permissive.
    e = table.get("port-restricted-cone", "symmetric")
    ok, why = e.matches(call((RELAY_A, PRFLX_B), [(RELAY_A, PRFLX_B), (SRFLX_A, PRFLX_B)]))
    assert not ok and "more permissive" in why and "srflx↔prflx" in why
    ok, why = e.matches(call((SRFLX_A, PRFLX_B)))  # nominated the direct pair itself
    assert not ok and "more permissive" in why
    # Seen by one peer only is enough.
    ok, why = e.matches(call((RELAY_A, PRFLX_B), [(SRFLX_A, PRFLX_B)], seen_by=("callee",)))
    assert not ok and "more permissive" in why


def test_matches_nominated_pair_outside_the_set(table: Expectations) -> None:
    # (d) the path is right, but the nominated pair is not one this cell can end on.
    e = table.get("full-cone", "symmetric")
    ok, why = e.matches(call((SRFLX_A, SRFLX_B)))
    assert not ok
    assert why == (
        "expected srflx↔prflx or relay↔prflx or srflx↔relay or relay↔relay (direct path), "
        "got srflx↔srflx"
    )
    e = table.get("udp-blocked", "symmetric")  # the blocked caller's side must be its relay
    ok, why = e.matches(call((PRFLX_A, RELAY_B)))
    assert not ok and why == "expected relay↔prflx or relay↔relay (relay over tcp), got prflx↔relay"


def test_relay_transport_found_among_the_owner_s_candidates(table: Expectations) -> None:
    """The peers may disagree on the selected pair (aggressive nomination): the caller
    ends on host↔(callee's relay) while the callee's own pair is direct. SDP does not carry
    the relay's transport; the callee's local candidates do."""
    e = table.get("open", "symmetric-then-cone")
    remote_relay = cand("relay", "203.0.113.3", 50319)  # as the caller learned it, from SDP
    host_a = cand("host", "203.0.113.11", 40017)
    c = call((host_a, remote_relay), [(host_a, remote_relay), (host_a, PRFLX_B)])
    callee = c.callee.model_copy(
        update={
            "selected_pair": CandidatePair(local=PRFLX_B, remote=host_a),
            "local_candidates": [cand("relay", "203.0.113.3", 50319, relay="udp")],
        }
    )
    assert e.matches(c.model_copy(update={"callee": callee})) == (True, "")
    ok, why = e.matches(c)  # without the callee's candidates nobody knows the transport
    assert not ok and why.endswith("got unknown (host↔relay)")


def test_matches_relay_protocol(table: Expectations) -> None:
    # (e) the relay leg runs over another transport than the cell needs.
    e = table.get("udp-blocked", "symmetric")  # relay over tcp expected
    ok, why = e.matches(call((RELAY_A, PRFLX_B)))
    assert not ok and why == "expected the relay leg over tcp, got udp (relay↔prflx)"
    unknown = cand("relay", "203.0.113.2", 49192)
    ok, why = e.matches(call((unknown, PRFLX_B)))
    assert not ok and why == "expected the relay leg over tcp, got unknown (relay↔prflx)"
    # A direct cell's relayed nominations are held to its protocol too.
    e = table.get("restricted-cone", "port-restricted-cone")
    ok, why = e.matches(call((RELAY_A_TCP, SRFLX_B), [(RELAY_A_TCP, SRFLX_B), (SRFLX_A, SRFLX_B)]))
    assert not ok and why == "expected the relay leg over udp, got tcp (relay↔srflx)"
    # The relay-only row: one transport per cell.
    e = table.get("port-restricted-cone", "port-restricted-cone", "relay", "tcp")
    ok, why = e.matches(call((RELAY_A, RELAY_B), policy="relay"))
    assert not ok and why == "expected the relay leg over tcp, got udp (relay↔relay)"
    tcp_b = cand("relay", "203.0.113.2", 49232, relay="tcp")
    assert e.matches(call((RELAY_A_TCP, tcp_b), policy="relay")) == (True, "")


def test_matches_failed_call_and_policy(table: Expectations) -> None:
    e = table.get("full-cone", "symmetric")
    ok, why = e.matches(call(None, reason="ICE failed: no candidate pair succeeded"))
    assert not ok and "the call failed: ICE failed" in why and e.describe() in why
    ok, why = e.matches(call((SRFLX_A, PRFLX_B), policy="relay"))
    assert not ok and "policy relay" in why
    assert e.matches(call((SRFLX_A, PRFLX_B))) == (True, "")
    assert table.get("open", "open").matches(call((HOST_A, cand("host", "10.2.0.10", 1))))[0]


def test_matches_no_connection_expected() -> None:
    e = Expectation(caller="symmetric", callee="symmetric", connect=False, rule="stun-only")
    assert e.matches(call(None)) == (True, "")
    ok, why = e.matches(call((SRFLX_A, SRFLX_B)))
    assert not ok and why == "expected no connection, connected via srflx↔srflx"


# -- loading errors name file, field and reason ----------------------------------------------


def _write(tmp_path: Path, mutate: Callable[[dict[str, Any]], object]) -> Path:
    src = Path(__file__).parents[2] / "nattest" / "data" / "expectations" / "aiortc.yaml"
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
            lambda d: d["cells"]["open--open--all"].update(basis="rfc"),
            "cells.open--open--all",
            "pair relay↔host is not a direct path",
        ),
        (
            lambda d: d["cells"]["open--open--all"].pop("protocol"),
            "cells.open--open--all",
            "pairs include a relay needs `protocol`",
        ),
        (
            lambda d: d["cells"]["open--open--all"].update(pair=["host↔host"]),
            "cells.open--open--all",
            "`protocol` is for cells whose pairs include a relay",
        ),
        (
            lambda d: d["cells"]["open--open--all"].update(pair=["relay↔relay", "relay↔relay"]),
            "cells.open--open--all",
            "repeated pair",
        ),
        (
            lambda d: d["cells"]["open--open--all"].update(connect=False),
            "cells.open--open--all",
            "a cell that must not connect has no path, pair or protocol",
        ),
        (
            lambda d: d["cells"]["open--open--all"].update(rule="magic"),
            "cells.open--open--all.rule",
            "unknown rule 'magic'",
        ),
        (
            lambda d: d["cells"]["open--open--all"].pop("deviation_rule"),
            "cells.open--open--all",
            "a cell with `rfc_pair` needs `deviation_rule`",
        ),
        (
            lambda d: d["cells"]["open--open--all"].update(deviation_rule="luck"),
            "cells.open--open--all.deviation_rule",
            "unknown rule 'luck'",
        ),
        (
            lambda d: d["cells"]["open--open--all"].update(rfc_pair="srflx↔srflx"),
            "cells.open--open--all",
            "rfc_pair srflx↔srflx is not one of the listed pairs",
        ),
        (
            lambda d: d["cells"]["symmetric--symmetric--all"].update(
                deviation_rule="first-success"
            ),
            "cells.symmetric--symmetric--all",
            "`deviation_rule` needs the `rfc_pair` it departs from",
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
        load_expectations(path=path)
    err = info.value
    assert (err.source, err.field) == (str(path), field)
    assert reason in err.reason
    assert str(err).startswith(f"{path}: {field}: ")


def test_repeated_cell_is_an_error(tmp_path: Path) -> None:
    src = Path(__file__).parents[2] / "nattest" / "data" / "expectations" / "aiortc.yaml"
    text = src.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("  open--open--all:"))
    bad = tmp_path / "dup.yaml"
    bad.write_text(text + line + "\n", encoding="utf-8")
    with pytest.raises(ExpectationsError, match="duplicate key 'open--open--all'"):
        load_expectations(path=bad)
