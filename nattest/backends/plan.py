"""Describe, then build: a Topology → the exact kernel configuration of a netns lab.

``plan_lab`` is pure. It names every namespace and interface and renders every ``ip``
batch, sysctl and nftables ruleset; the netns backend only applies it. Unit tests read it.

Layout: one namespace per node (``nt-<lab>-<node>``) and one per network
(``nt-<lab>-<network>``, holding a bridge ``br0``). A node's interface is a veth whose
peer (``p<i>``) is a port of its network's bridge. The host namespace only ever runs
``ip netns add/del`` and ``ip link add ... netns X peer ... netns Y``: it gets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nattest.backends.rulesets import host_firewall_ruleset, nat_ruleset
from nattest.backends.wires import (
    NET_SIDE,
    NODE_SIDE,
    WIRE_INDEX,
    Wire,
    plan_wire,
    wire_configure,
    wire_ruleset,
    wire_sysctls,
)
from nattest.model.topology import Topology

BRIDGE = "br0"
VETH_INDEX_BASE = 100
"""ifindex of a node's first interface (bridge ports keep small automatic indexes)."""


def ns_name(lab: str, name: str) -> str:
    """Namespace of a node or network."""
    return f"nt-{lab}-{name}"


@dataclass
class Plan:
    """Everything needed to build one lab, as data."""

    lab: str
    """Lab name."""
    namespaces: dict[str, str] = field(default_factory=dict)
    """Node or network name → namespace name."""
    create: list[str] = field(default_factory=list)
    """`ip -batch` lines run in the host namespace: netns add, cross-namespace veths."""
    configure: dict[str, list[str]] = field(default_factory=dict)
    """Namespace → `ip -batch` lines run inside it."""
    sysctls: dict[str, dict[str, str]] = field(default_factory=dict)
    """Namespace → sysctls to write inside it (before rulesets)."""
    rulesets: dict[str, str] = field(default_factory=dict)
    """Namespace → nftables ruleset text."""
    late_sysctls: dict[str, dict[str, str]] = field(default_factory=dict)
    """Namespace → conntrack sysctls (exist once a ruleset has loaded conntrack)."""
    ports: dict[tuple[str, str], str] = field(default_factory=dict)
    """(node, interface) → its bridge port name in the network's namespace."""
    indexes: dict[tuple[str, str], int] = field(default_factory=dict)
    """(node, interface) → the interface's ifindex."""
    wires: dict[str, Wire] = field(default_factory=dict)
    """`node:interface` → the wire spliced into that impaired link (``backends.wires``);
    its namespace is in `namespaces` under the key `node.interface`."""


def plan_lab(t: Topology, lab: str) -> Plan:
    """The full build plan of topology `t` as lab `lab`."""
    p = Plan(lab=lab)
    for name in [*t.networks, *t.nodes()]:
        p.namespaces[name] = ns_name(lab, name)
    for node, ifname in t.impaired_links():
        w = plan_wire(t, lab, node, ifname)
        p.wires[w.link] = w
        p.namespaces[f"{node}.{ifname}"] = w.namespace
    p.create = [f"netns add {ns}" for ns in p.namespaces.values()]
    for net in t.networks:
        ns = p.namespaces[net]
        p.configure[ns] = [
            "link set lo up",
            f"link add {BRIDGE} type bridge",
            f"link set {BRIDGE} up",
        ]
        p.sysctls[ns] = {
            "net.ipv6.conf.all.disable_ipv6": "1",
            "net.ipv6.conf.default.disable_ipv6": "1",
        }
    port_index = dict.fromkeys(t.networks, 0)
    for node in t.nodes():
        ns = p.namespaces[node]
        lines = ["link set lo up"]
        done: set[str] = set()
        for ifname, net, addr in t.attachments(node):
            subnet = t.networks[net].subnet
            if ifname not in done:
                done.add(ifname)
                port = f"p{port_index[net]}"
                port_index[net] += 1
                p.ports[(node, ifname)] = port
                netns = p.namespaces[net]
                # An explicit ifindex ≥ 100 never equals its peer's (small) one: the kernel's
                # linkwatch defers carrier events of a device whose ifindex equals its
                # iflink by up to 1 s, and in separate namespaces the two often coincide.
                index = VETH_INDEX_BASE + len(done)
                p.indexes[(node, ifname)] = index
                p.create += veth_lines(
                    ifname, index, ns, port, netns, p.wires.get(f"{node}:{ifname}")
                )
                p.configure[netns] += [f"link set {port} master {BRIDGE}", f"link set {port} up"]
            lines.append(f"addr add {addr}/{subnet.prefixlen} dev {ifname}")
        lines += [f"link set {ifname} up" for ifname in sorted(done)]
        gw = t.gateway(node)
        if gw:
            lines.append(f"route replace default via {gw}")
        lines += _open_router_routes(t, node)
        p.configure[ns] = lines
        p.sysctls[ns] = {
            "net.ipv6.conf.all.disable_ipv6": "1",
            "net.ipv6.conf.default.disable_ipv6": "1",
        }
    for name, r in t.nats.items():
        ns = p.namespaces[name]
        p.sysctls[ns]["net.ipv4.ip_forward"] = "1"
        p.rulesets[ns] = nat_ruleset(
            r.nat,
            wan_if="wan",
            wan_address=str(r.wan.address),
            lan_if="lan",
            lan_subnet=str(t.networks[r.lan.network].subnet),
            destinations=[a for a in t.public_addresses() if a != str(r.wan.address)],
            firewall=r.firewall,
        )
        if r.nat is not None:
            timeout = str(r.nat.udp_timeout)
            p.late_sysctls[ns] = {
                "net.netfilter.nf_conntrack_udp_timeout": timeout,
                "net.netfilter.nf_conntrack_udp_timeout_stream": timeout,
            }
    for w in p.wires.values():
        p.configure[w.namespace] = wire_configure(w)
        p.sysctls[w.namespace] = wire_sysctls()
        p.rulesets[w.namespace] = wire_ruleset(w)
    for name, h in t.hosts.items():
        if h.firewall is not None:
            netns = p.namespaces[h.network]
            port = p.ports[(name, "eth0")]
            rules = host_firewall_ruleset(h.firewall, port, table=f"firewall_{port}")
            p.rulesets[netns] = p.rulesets.get(netns, "") + rules
    return p


def veth_lines(
    ifname: str, index: int, ns: str, port: str, netns: str, wire: Wire | None = None
) -> list[str]:
    """`ip -batch` lines linking a node's interface to its bridge port: directly, or through
    the link's wire (node ↔ `wn`, `wb` ↔ bridge port)."""
    if wire is None:
        return [
            f"link add {ifname} index {index} netns {ns} type veth peer name {port} netns {netns}"
        ]
    w = wire.namespace
    return [
        f"link add {ifname} index {index} netns {ns} type veth peer name {NODE_SIDE} "
        f"index {WIRE_INDEX[NODE_SIDE]} netns {w}",
        f"link add {NET_SIDE} index {WIRE_INDEX[NET_SIDE]} netns {w} type veth peer name {port} "
        f"netns {netns}",
    ]


def _open_router_routes(t: Topology, node: str) -> list[str]:
    """Routes to the public LANs of `open` routers that sit on this node's network."""
    lines = []
    nets = {net for _, net, _ in t.attachments(node)}
    for name, r in t.nats.items():
        if r.nat is None and name != node and r.wan.network in nets:
            lines.append(f"route replace {t.networks[r.lan.network].subnet} via {r.wan.address}")
    return lines
