"""turnutils_natdiscovery parsing, behaviour diffs and discover() on real captured outputs."""

from __future__ import annotations

from typing import Final

import pytest

from nattest.checks.natdiscovery import (
    NatDiscoveryError,
    Observed,
    diff_behaviour,
    discover,
    parse_natdiscovery,
)
from tests.fixtures.natdiscovery_replay import TIMEOUT, ReplayLab, sample

EIM: Final = "endpoint-independent"
AD: Final = "address-dependent"
APD: Final = "address-and-port-dependent"


@pytest.mark.parametrize(
    ("name", "mapping", "filtering", "hairpinning"),
    [
        ("no-nat-public-host-mf.txt", "none", EIM, None),
        ("no-nat-public-host-H.txt", None, None, True),
        ("no-nat-routed-mfH.txt", "none", EIM, True),
        ("no-nat-without-L-mf.txt", EIM, EIM, None),  # why discover() always passes -L
        ("port-restricted-mf.txt", EIM, APD, None),
        ("port-restricted-without-L-mf.txt", EIM, APD, None),
        ("port-restricted-H.txt", None, None, False),
        ("port-restricted-hairpin-mfH.txt", EIM, APD, True),
        ("symmetric-mf.txt", APD, APD, None),
        ("symmetric-H.txt", None, None, False),
        ("symmetric-hairpin-mfH.txt", APD, APD, True),
        ("full-cone-mfH.txt", EIM, EIM, False),
        ("restricted-cone-mfH.txt", EIM, AD, False),
        ("address-dependent-mapping-mfH.txt", AD, APD, False),
    ],
)
def test_parse_real_outputs(
    name: str, mapping: str | None, filtering: str | None, hairpinning: bool | None
) -> None:
    seen = parse_natdiscovery(sample(name))
    assert (seen.mapping, seen.filtering, seen.hairpinning) == (mapping, filtering, hairpinning)
    assert seen.answered and seen.rfc5780 and not seen.alg


def test_parse_mapped_address() -> None:
    assert parse_natdiscovery(sample("symmetric-mf.txt")).mapped_address == "203.0.113.11:23936"
    routed = parse_natdiscovery(sample("no-nat-routed-mfH.txt"))
    assert routed.mapped_address is not None and routed.mapped_address.startswith("10.0.1.10:")


def test_parse_server_without_rfc5780() -> None:
    seen = parse_natdiscovery(sample("no-rfc5780-mf.txt"))
    assert seen.answered and not seen.rfc5780
    assert (seen.mapping, seen.filtering, seen.hairpinning) == (None, None, None)


@pytest.mark.parametrize("name", ["no-answer-mf.txt", "no-answer-H.txt"])
def test_parse_no_answer(name: str) -> None:
    assert parse_natdiscovery(sample(name)) == Observed()


def test_parse_alg_and_empty() -> None:
    assert parse_natdiscovery("") == Observed()
    alg = "-= ALG detected! Mapped and XOR-Mapped differ! =-\n"
    assert parse_natdiscovery(sample("port-restricted-mf.txt") + alg).alg


# --- diff_behaviour -----------------------------------------------------------------------


def test_diff_matches_nothing_to_say() -> None:
    seen = Observed(mapping=EIM, filtering=APD, hairpinning=False, answered=True, rfc5780=True)
    assert diff_behaviour(EIM, APD, False, seen) == []
    assert diff_behaviour("Endpoint_Independent", None, None, seen) == []


def test_diff_lines() -> None:
    seen = parse_natdiscovery(sample("symmetric-hairpin-mfH.txt"))
    assert diff_behaviour(EIM, APD, False, seen) == [
        "mapping: declared endpoint-independent, observed address-and-port-dependent",
        "hairpinning: declared off, observed on",
    ]
    nothing = Observed(answered=True, rfc5780=True)
    assert diff_behaviour("none", EIM, True, nothing) == [
        "mapping: declared none, observed nothing",
        "filtering: declared endpoint-independent, observed nothing",
        "hairpinning: declared on, observed nothing",
    ]


def test_diff_rejects_unknown_words() -> None:
    with pytest.raises(ValueError, match="semi-cone"):
        diff_behaviour("semi-cone", None, None, Observed())


# --- discover() with a Lab double that replays captured outputs ---------------------------


def test_discover_runs_each_test_with_local_address() -> None:
    lab = ReplayLab(sample("port-restricted-hairpin-mfH.txt"))
    seen = discover(lab, "alice", "203.0.113.2", "10.0.1.10", hairpin=True, timeout=9.0)
    assert (seen.mapping, seen.filtering, seen.hairpinning) == (EIM, APD, True)
    argvs = sorted(argv for _, argv, _ in lab.calls)
    tail = ["-L", "10.0.1.10", "-p", "3478", "203.0.113.2"]
    assert argvs == [["turnutils_natdiscovery", t, *tail] for t in ("-H", "-f", "-m")]
    assert {(node, timeout) for node, _, timeout in lab.calls} == {("alice", 9.0)}


def test_discover_without_hairpin_leaves_it_untested() -> None:
    lab = ReplayLab(sample("symmetric-mf.txt"))
    seen = discover(lab, "alice", "203.0.113.2", "10.0.1.10")
    assert (seen.mapping, seen.filtering, seen.hairpinning) == (APD, APD, None)
    assert len(lab.calls) == 2


def test_discover_no_answer_speaks_network() -> None:
    lab = ReplayLab(sample("no-answer-mf.txt"))
    with pytest.raises(
        NatDiscoveryError,
        match=r"\[alice\] no STUN Binding answer from "
        r"203\.0\.113\.9:3478 \(from 10\.0\.1\.10\)",
    ):
        discover(lab, "alice", "203.0.113.9", "10.0.1.10")


def test_discover_needs_rfc5780() -> None:
    lab = ReplayLab(sample("no-rfc5780-mf.txt"))
    with pytest.raises(NatDiscoveryError, match="OTHER-ADDRESS"):
        discover(lab, "alice", "203.0.113.3", "10.0.1.10", port=4478)


def test_discover_timeout() -> None:
    lab = ReplayLab(TIMEOUT)
    with pytest.raises(NatDiscoveryError, match=r"did not finish within 1\.0 s"):
        discover(lab, "alice", "203.0.113.2", "10.0.1.10", timeout=1.0)
