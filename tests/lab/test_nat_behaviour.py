"""Every NAT behaves as labelled, observed on the real kernel by the in-process probe.

(`test_verify_nat.py` checks the same with coturn's RFC 5780 `turnutils_natdiscovery`.)
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import yaml

from nattest.backends.netns import NetnsLab
from nattest.checks.probe import probe_nat
from nattest.errors import LabError
from nattest.model.load import load_topology, parse_topology
from nattest.model.nat import PRESETS, Filtering, Mapping

from .conftest import TOPOLOGIES

EIM, ADM, APDM = Mapping
EIF, ADF, APDF = Filtering


@pytest.mark.parametrize("preset", list(PRESETS))
def test_preset_behaves_as_declared(preset: str, lab_name: str) -> None:
    with NetnsLab.up(load_topology(TOPOLOGIES / f"{preset}.yaml"), lab_name) as lab:
        for host in ("alice", "bob"):
            seen = probe_nat(lab, host, "turn")
            want = PRESETS[preset]
            assert (seen.mapping, seen.filtering) == (want.mapping, want.filtering), (host, seen)
            assert seen.port_preserved == want.port_preservation, (host, seen)
            assert seen.mapped[0] == lab.address(f"nat-{host[0]}"), seen


def test_open_router_does_not_translate(lab_name: str) -> None:
    with NetnsLab.up(load_topology(TOPOLOGIES / "open.yaml"), lab_name) as lab:
        seen = probe_nat(lab, "alice", "turn")
        assert seen.mapping is None and seen.mapped[0] == "198.51.100.10"


def test_double_nat_chain(lab_name: str) -> None:
    with NetnsLab.up(load_topology(TOPOLOGIES / "double-nat.yaml"), lab_name) as lab:
        seen = probe_nat(lab, "alice", "turn")
        assert (seen.mapping, seen.filtering) == (EIM, APDF)
        assert seen.mapped[0] == "203.0.113.11"  # the CGN's address, not the home router's


def _custom(behavior: dict[str, Any], name: str = "custom") -> Any:
    data = yaml.safe_load((TOPOLOGIES / "same-nat.yaml").read_text())
    data["name"] = name
    data["nats"]["nat"]["behavior"] = behavior
    return parse_topology(data, "<test>")


@pytest.mark.parametrize(
    ("behavior", "mapping", "filtering", "preserved"),
    [
        ({"mapping": "address-dependent", "port_preservation": False}, ADM, APDF, False),
        (
            {
                "mapping": "endpoint-independent",
                "port_preservation": False,
                "filtering": "address-dependent",
            },
            EIM,
            ADF,
            False,
        ),
        (
            {
                "mapping": "address-and-port-dependent",
                "port_preservation": False,
                "filtering": "endpoint-independent",
            },
            APDM,
            EIF,
            False,
        ),
    ],
    ids=["adm-apdf", "eim-nopp-adf", "apdm-eif"],
)
def test_custom_behaviours(
    behavior: dict[str, Any], mapping: Mapping, filtering: Filtering, preserved: bool, lab_name: str
) -> None:
    with NetnsLab.up(_custom(behavior), lab_name) as lab:
        seen = probe_nat(lab, "alice", "turn")
        assert (seen.mapping, seen.filtering, seen.port_preserved) == (
            mapping,
            filtering,
            preserved,
        )


@pytest.mark.parametrize("hairpinning", [True, False])
def test_hairpinning(hairpinning: bool, lab_name: str) -> None:
    topo = _custom({"preset": "port-restricted-cone", "hairpinning": hairpinning})
    with NetnsLab.up(topo, lab_name) as lab:
        assert probe_nat(lab, "alice", "turn", hairpin_peer="bob").hairpinning is hairpinning


def test_udp_mapping_timeout(lab_name: str) -> None:
    """A full-cone mapping with a 1 s lifetime stops admitting strangers once it expires."""
    topo = _custom({"preset": "full-cone", "udp_timeout": 1})
    with NetnsLab.up(topo, lab_name) as lab:
        assert (
            lab.exec(
                "nat", ["sysctl", "-n", "net.netfilter.nf_conntrack_udp_timeout"]
            ).stdout.strip()
            == "1"
        )
        with lab.socket("alice") as a, lab.socket("turn") as s1, lab.socket("turn") as s2:
            a.bind(("10.0.1.10", 45000))
            s1.bind(("203.0.113.2", 45001))
            s2.bind(("203.0.113.3", 45002))
            a.sendto(b"open", ("203.0.113.2", 45001))
            mapped = s1.recvfrom(100)[1]
            a.settimeout(0.5)
            s2.sendto(b"early", mapped)
            assert a.recvfrom(100)[0] == b"early"  # endpoint-independent filtering
            time.sleep(2.2)  # let the 1 s mapping expire (this is the behaviour under test)
            s2.sendto(b"late", mapped)
            with pytest.raises(TimeoutError):
                a.recvfrom(100)


def test_udp_blocked_firewall(lab_name: str) -> None:
    with NetnsLab.up(load_topology(TOPOLOGIES / "udp-blocked.yaml"), lab_name) as lab:
        with pytest.raises(LabError, match=r"cannot reach .* over UDP"):
            probe_nat(lab, "alice", "turn")
        assert probe_nat(lab, "bob", "turn").filtering is APDF
        with lab.socket("alice", type=socket.SOCK_STREAM) as tcp:
            tcp.settimeout(2)
            # nothing listens on port 9: a refusal (RST from the TURN node) proves TCP
            # crosses the firewall, where UDP did not
            with pytest.raises(ConnectionRefusedError):
                tcp.connect(("203.0.113.2", 9))
