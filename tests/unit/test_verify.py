"""`nattest.checks.verify`: declarations from the shipped topologies, and verify_lab on a
fake lab whose exec() replays captured turnutils_natdiscovery outputs (nothing is built)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest
import yaml

from nattest.checks.verify import Declared, NatReport, declared_for, verify_lab
from nattest.errors import UsageError
from nattest.model.configs import pair_topology
from nattest.model.load import load_topology, parse_topology
from nattest.model.topology import Topology
from tests.fixtures.natdiscovery_replay import TIMEOUT, ReplayLab, sample

TOPOLOGIES = Path(__file__).parents[2] / "topologies"
EIM: Final = "endpoint-independent"
AD: Final = "address-dependent"
APD: Final = "address-and-port-dependent"


def topology(name: str) -> Topology:
    """A shipped topology file."""
    return load_topology(TOPOLOGIES / f"{name}.yaml")


def by_nat(reports: list[NatReport]) -> dict[str, NatReport]:
    """Reports keyed by NAT name."""
    return {r.nat: r for r in reports}


# --- declared_for ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "host", "declared"),
    [
        ("open", "alice", Declared("none", None, None, False)),
        ("open", "bob", Declared("none", None, None, False)),
        ("full-cone", "alice", Declared(EIM, EIM, None, False)),
        ("restricted-cone", "bob", Declared(EIM, AD, None, False)),
        ("port-restricted-cone", "alice", Declared(EIM, APD, None, False)),
        ("symmetric", "alice", Declared(APD, APD, None, False)),
        ("symmetric", "bob", Declared(APD, APD, None, False)),
        # home-a (port-restricted) behind cgn (port-restricted): composite of the two,
        # hairpinning never declared for a chain
        ("double-nat", "alice", Declared(EIM, APD, None, False)),
        ("lossy-uplink", "phone", Declared(APD, APD, None, False)),
        ("lossy-uplink", "laptop", Declared(EIM, APD, None, False)),
        ("double-nat", "bob", Declared(EIM, APD, None, False)),
        ("udp-blocked", "alice", Declared(EIM, APD, None, True)),
        ("udp-blocked", "bob", Declared(EIM, APD, None, False)),
        # one port-restricted NAT with hairpinning on, both hosts behind it
        ("same-nat", "alice", Declared(EIM, APD, True, False)),
        ("same-nat", "bob", Declared(EIM, APD, True, False)),
        # your own image behind a symmetric NAT, a nattest peer behind a port-restricted one
        ("own-image", "alice", Declared(APD, APD, None, False)),
        ("own-image", "bob", Declared(EIM, APD, None, False)),
    ],
)
def test_declared_for_shipped_topologies(name: str, host: str, declared: Declared) -> None:
    """Each shipped file declares the RFC 4787 behaviour its name promises."""
    assert declared_for(topology(name), host) == declared


def test_every_shipped_topology_is_covered() -> None:
    """The table above covers every file in topologies/."""
    shipped = {p.stem for p in TOPOLOGIES.glob("*.yaml")}
    assert shipped == {
        "open",
        "full-cone",
        "restricted-cone",
        "port-restricted-cone",
        "symmetric",
        "double-nat",
        "udp-blocked",
        "same-nat",
        "lossy-uplink",
        "own-image",
    }


def test_double_nat_chain() -> None:
    """Alice's chain is home NAT then CGN; the CGN has no host on its LAN."""
    assert topology("double-nat").behind("alice") == ["home-a", "cgn"]


@pytest.mark.parametrize(
    ("config", "mapping", "filtering"),
    [
        ("symmetric-then-cone", APD, APD),  # a full cone behind a symmetric NAT
        ("double-cone", EIM, EIM),
        ("udp-blocked", EIM, APD),
        ("open", "none", None),
    ],
)
def test_declared_for_composite_chains(config: str, mapping: str, filtering: str | None) -> None:
    """Through two NATs a host sees the most dependent mapping, most restrictive filtering."""
    declared = declared_for(pair_topology(config, "open"), "alice")
    assert (declared.mapping, declared.filtering, declared.hairpinning) == (
        mapping,
        filtering,
        None,
    )
    assert declared.udp_blocked == (config == "udp-blocked")


def test_declared_text() -> None:
    """Short human forms."""
    assert Declared("none", None, None).text() == "no NAT"
    assert Declared(EIM, APD, None, True).text() == "UDP blocked"
    assert Declared(EIM, AD, None).text() == f"{EIM} mapping, {AD} filtering"
    assert Declared(EIM, APD, True).text() == f"{EIM} mapping, {APD} filtering, hairpinning"


# --- verify_lab ----------------------------------------------------------------------------


def test_one_slow_nat_does_not_abort_the_others() -> None:
    """Alice's full cone replays a matching capture; bob's discovery times out: both NATs
    get a report, the good one ok, the slow one a mismatch saying it did not finish."""
    lab = ReplayLab(
        {"alice": sample("full-cone-mfH.txt"), "bob": TIMEOUT},
        topology=pair_topology("full-cone", "symmetric"),
    )
    reports = verify_lab(lab, timeout=7.0)
    assert [r.nat for r in reports] == ["nat-alice", "nat-bob"]
    good, slow = by_nat(reports)["nat-alice"], by_nat(reports)["nat-bob"]

    assert good.ok, good.diff
    assert (good.host, good.chain) == ("alice", ["nat-alice"])
    assert (good.observed.mapping, good.observed.filtering) == (EIM, EIM)
    assert good.error is None
    assert good.as_dict()["ok"] is True

    assert not slow.ok
    assert (slow.host, slow.chain) == ("bob", ["nat-bob"])
    assert slow.declared == Declared(APD, APD, None, False)
    assert len(slow.diff) == 1
    assert "did not finish within 7.0 s" in slow.diff[0]
    assert slow.error is not None and "did not finish within" in slow.error
    assert "[bob] turnutils_natdiscovery" in slow.error
    assert slow.as_dict()["ok"] is False


def test_probes_run_from_the_host_with_its_address() -> None:
    """-m and -f (no -H without declared hairpinning), from the host's own address, to the
    TURN node's first address, with the timeout given."""
    lab = ReplayLab(
        {"alice": sample("full-cone-mfH.txt"), "bob": sample("symmetric-mf.txt")},
        topology=pair_topology("full-cone", "symmetric"),
    )
    reports = verify_lab(lab, timeout=3.5)
    assert all(r.ok for r in reports), [r.diff for r in reports]
    assert lab.tests_run("alice") == lab.tests_run("bob") == ["-f", "-m"]
    tail = ["-L", "10.1.0.10", "-p", "3478", "203.0.113.2"]
    assert sorted(argv for n, argv, _ in lab.calls if n == "alice") == [
        ["turnutils_natdiscovery", "-f", *tail],
        ["turnutils_natdiscovery", "-m", *tail],
    ]
    assert {t for _, _, t in lab.calls} == {3.5}


def test_wrong_behaviour_is_a_mismatch() -> None:
    """A NAT declared symmetric that behaves as a full cone: the diff names both."""
    lab = ReplayLab(
        {"alice": sample("full-cone-mfH.txt"), "bob": sample("no-nat-public-host-mf.txt")},
        topology=pair_topology("symmetric", "open"),
    )
    reports = by_nat(verify_lab(lab))
    assert reports["nat-alice"].diff == [
        f"mapping: declared {APD}, observed {EIM}",
        f"filtering: declared {APD}, observed {EIM}",
    ]
    assert reports["nat-alice"].error is None
    # bob's `open` router: no translation seen, as declared
    assert reports["nat-bob"].ok, reports["nat-bob"].diff
    assert reports["nat-bob"].observed_text() == "no NAT"


def test_hairpinning_checked_where_declared() -> None:
    """same-nat: one NAT, probed once from its first host, with -H."""
    lab = ReplayLab(
        {"alice": sample("port-restricted-hairpin-mfH.txt")}, topology=topology("same-nat")
    )
    (report,) = verify_lab(lab)
    assert (report.nat, report.host) == ("nat", "alice")
    assert lab.tests_run("alice") == ["-H", "-f", "-m"]
    assert report.ok, report.diff
    assert report.observed.hairpinning is True
    assert report.observed_text().endswith("hairpinning on")


def test_hairpinning_off_is_a_mismatch() -> None:
    """Declared hairpinning, the capture shows none."""
    lab = ReplayLab({"alice": sample("port-restricted-mf.txt")}, topology=topology("same-nat"))
    (report,) = verify_lab(lab)
    assert report.diff == ["hairpinning: declared on, observed nothing"]


def test_nat_without_hosts_is_not_checked() -> None:
    """double-nat: the CGN has only a NAT on its LAN: reports for home-a and nat-b only;
    alice's report carries her whole chain."""
    lab = ReplayLab(
        {"alice": sample("port-restricted-mf.txt"), "bob": sample("port-restricted-mf.txt")},
        topology=topology("double-nat"),
    )
    reports = by_nat(verify_lab(lab))
    assert sorted(reports) == ["home-a", "nat-b"]
    assert reports["home-a"].chain == ["home-a", "cgn"]
    assert all(r.ok for r in reports.values())


def test_udp_blocked_without_answer_is_ok() -> None:
    """Behind a UDP-blocking firewall no STUN answer is what was declared; the same silence
    behind a NAT not declared blocked is a finding."""
    lab = ReplayLab(
        {"alice": sample("no-answer-mf.txt"), "bob": sample("no-answer-mf.txt")},
        topology=pair_topology("udp-blocked", "port-restricted-cone"),
    )
    reports = by_nat(verify_lab(lab))
    blocked, silent = reports["nat-alice"], reports["nat-bob"]

    assert blocked.ok, blocked.diff
    assert blocked.declared.udp_blocked
    assert blocked.declared.text() == "UDP blocked"
    assert not blocked.observed.answered
    assert blocked.observed_text() == "no STUN answer"
    assert blocked.error is not None and "no STUN Binding answer" in blocked.error

    assert not silent.ok
    assert len(silent.diff) == 1
    assert "[bob] no STUN Binding answer from 203.0.113.2:3478" in silent.diff[0]
    assert f"(declared {EIM} mapping, {APD} filtering)" in silent.diff[0]
    assert not silent.observed.answered


def test_udp_blocked_but_answered_is_a_mismatch() -> None:
    """A firewall declared to drop UDP that lets STUN through is a finding."""
    lab = ReplayLab(
        {"alice": sample("port-restricted-mf.txt"), "bob": sample("no-nat-public-host-mf.txt")},
        topology=pair_topology("udp-blocked", "open"),
    )
    report = by_nat(verify_lab(lab))["nat-alice"]
    assert report.diff == ["declared UDP blocked, but STUN answered"]


def test_server_without_rfc5780_is_reported() -> None:
    """Answers without OTHER-ADDRESS cannot classify the NAT: the report says why."""
    lab = ReplayLab(
        {"alice": sample("no-rfc5780-mf.txt"), "bob": sample("full-cone-mfH.txt")},
        topology=pair_topology("full-cone", "full-cone"),
    )
    reports = by_nat(verify_lab(lab))
    assert not reports["nat-alice"].ok
    assert "OTHER-ADDRESS" in reports["nat-alice"].diff[0]
    assert reports["nat-alice"].error == reports["nat-alice"].diff[0]
    assert reports["nat-bob"].ok


def _with_turn_addresses(addresses: list[str] | None) -> Topology:
    """symmetric.yaml with the TURN server's addresses replaced (None: no server at all)."""
    data = yaml.safe_load((TOPOLOGIES / "symmetric.yaml").read_text())
    if addresses is None:
        del data["servers"]
    else:
        data["servers"]["turn"]["addresses"] = addresses
    return parse_topology(data, "<test>")


@pytest.mark.parametrize("addresses", [["203.0.113.2"], None])
def test_needs_two_address_turn_server(addresses: list[str] | None) -> None:
    """Without a TURN/STUN server on two addresses: UsageError, and nothing is run."""
    lab = ReplayLab({}, topology=_with_turn_addresses(addresses))
    with pytest.raises(UsageError, match="needs a TURN/STUN server with two addresses"):
        verify_lab(lab)
    assert lab.calls == []
