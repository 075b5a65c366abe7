"""verify-nat's declarations and reports: each NAT judged on its own, errors named, never
'is UDP blocked?' for a NAT that merely timed out. Discovery output is replayed from
captures of coturn's turnutils_natdiscovery (tests/unit/data/natdiscovery/)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from nattest.checks.verify import declared_for, verify_lab
from nattest.errors import CommandTimeout, UsageError
from nattest.model.configs import pair_topology
from nattest.model.load import load_topology, parse_topology
from nattest.model.topology import Topology
from tests.fixtures.fake_lab import UnitLab

TOPOLOGIES = Path(__file__).parents[2] / "topologies"
DATA = Path(__file__).parent / "data" / "natdiscovery"
EIM, ADM, APDM = "endpoint-independent", "address-dependent", "address-and-port-dependent"


@pytest.mark.parametrize(
    ("file", "host", "mapping", "filtering"),
    [
        ("open", "alice", "none", None),
        ("full-cone", "alice", EIM, EIM),
        ("restricted-cone", "alice", EIM, ADM),
        ("port-restricted-cone", "alice", EIM, APDM),
        ("symmetric", "alice", APDM, APDM),
    ],
)
def test_declared_presets(file: str, host: str, mapping: str, filtering: str | None) -> None:
    want = declared_for(load_topology(TOPOLOGIES / f"{file}.yaml"), host)
    assert (want.mapping, want.filtering, want.udp_blocked) == (mapping, filtering, False)


def test_declared_chain_is_the_composite() -> None:
    # a full-cone NAT behind a symmetric one: as symmetric as the outer NAT
    want = declared_for(pair_topology("symmetric-then-cone", "open"), "alice")
    assert (want.mapping, want.filtering, want.hairpinning) == (APDM, APDM, None)
    cone = declared_for(pair_topology("double-cone", "open"), "alice")
    assert (cone.mapping, cone.filtering) == (EIM, EIM)


def test_declared_firewall_and_hairpinning() -> None:
    blocked = declared_for(pair_topology("udp-blocked", "open"), "alice")
    assert blocked.udp_blocked and blocked.text() == "UDP blocked"
    same = load_topology(TOPOLOGIES / "same-nat.yaml")
    host = next(iter(same.hosts))
    assert declared_for(same, host).hairpinning is True


class DiscoveryLab(UnitLab):
    """exec() of turnutils_natdiscovery answers per host: a capture, or an exception."""

    def __init__(self, topology: Topology, answers: dict[str, str | Exception]) -> None:
        super().__init__()
        self.topology = topology
        self.answers = answers

    def exec(self, node: str, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        answer = self.answers[node]
        if isinstance(answer, Exception):
            raise answer
        return subprocess.CompletedProcess(argv, 0, (DATA / answer).read_text(), "")


def _by_nat(lab: DiscoveryLab) -> dict[str, Any]:
    return {r.nat: r for r in verify_lab(lab, timeout=1.0)}


def test_one_slow_nat_does_not_abort_the_others() -> None:
    topo = pair_topology("full-cone", "symmetric")
    timeout = CommandTimeout("bob", ["turnutils_natdiscovery", "-f"], 1.0)
    reports = _by_nat(DiscoveryLab(topo, {"alice": "full-cone-mfH.txt", "bob": timeout}))
    assert set(reports) == {"nat-alice", "nat-bob"}
    assert reports["nat-alice"].ok and reports["nat-alice"].error is None
    slow = reports["nat-bob"]
    assert not slow.ok and slow.error is not None
    assert "did not finish within 1.0 s" in slow.error and slow.diff == [slow.error]
    assert "UDP blocked" not in " ".join(slow.diff)
    assert slow.as_dict()["error"] == slow.error


def test_no_answer_is_right_only_behind_a_udp_blocking_firewall() -> None:
    topo = pair_topology("udp-blocked", "port-restricted-cone")
    reports = _by_nat(DiscoveryLab(topo, {"alice": "no-answer-mf.txt", "bob": "no-answer-mf.txt"}))
    assert reports["nat-alice"].ok, reports["nat-alice"].diff
    silent = reports["nat-bob"]
    assert not silent.ok and "no STUN Binding answer" in silent.diff[0]
    assert "declared endpoint-independent mapping" in silent.diff[0]


def test_wrong_behaviour_is_a_diff() -> None:
    topo = pair_topology("full-cone", "open")
    report = _by_nat(DiscoveryLab(topo, {"alice": "symmetric-mf.txt", "bob": "no-answer-mf.txt"}))
    assert report["nat-alice"].diff[0].startswith("mapping: declared endpoint-independent")


def test_needs_a_two_address_turn_server() -> None:
    topo = load_topology(TOPOLOGIES / "symmetric.yaml")
    data = topo.model_dump(mode="json")
    data["servers"]["turn"]["addresses"] = data["servers"]["turn"]["addresses"][:1]
    with pytest.raises(UsageError, match="two addresses"):
        verify_lab(DiscoveryLab(parse_topology(data, "<test>"), {}))
