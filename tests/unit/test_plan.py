"""The build plan: names, links and routes of a lab, without touching the kernel."""

from __future__ import annotations

from pathlib import Path

from nattest.backends.plan import plan_lab
from nattest.model.load import load_topology

TOPOLOGIES = Path(__file__).parents[2] / "topologies"


def test_symmetric_plan() -> None:
    p = plan_lab(load_topology(TOPOLOGIES / "symmetric.yaml"), "demo")
    assert set(p.namespaces.values()) == {
        f"nt-demo-{n}"
        for n in ("internet", "lan-a", "lan-b", "nat-a", "nat-b", "alice", "bob", "turn")
    }
    # the host namespace only creates namespaces and veths that live in lab namespaces
    assert all(line.startswith(("netns add nt-demo-", "link add ")) for line in p.create)
    assert all(" netns nt-demo-" in line for line in p.create if line.startswith("link add"))
    assert "route replace default via 10.0.1.1" in p.configure["nt-demo-alice"]
    assert "addr add 203.0.113.3/24 dev eth0" in p.configure["nt-demo-turn"]
    assert p.sysctls["nt-demo-nat-a"]["net.ipv4.ip_forward"] == "1"
    assert "snat ip to 203.0.113.11 random" in p.rulesets["nt-demo-nat-a"]
    assert p.late_sysctls["nt-demo-nat-a"]["net.netfilter.nf_conntrack_udp_timeout"] == "120"
    assert "nt-demo-alice" not in p.rulesets


def test_open_routers_get_routes_on_internet_nodes() -> None:
    p = plan_lab(load_topology(TOPOLOGIES / "open.yaml"), "o")
    turn = p.configure["nt-o-turn"]
    assert "route replace 198.51.100.0/25 via 203.0.113.11" in turn
    assert "route replace 198.51.100.128/25 via 203.0.113.12" in turn
    assert p.rulesets["nt-o-nat-a"] == "table ip nattest {\n}\n"


def test_udp_blocked_firewall_on_router() -> None:
    p = plan_lab(load_topology(TOPOLOGIES / "udp-blocked.yaml"), "u")
    assert 'iifname "lan" meta l4proto udp drop' in p.rulesets["nt-u-nat-a"]
    assert "udp drop" not in p.rulesets["nt-u-nat-b"]
