"""Impaired links as data: a "wire" namespace spliced into a link, and what runs in it.

An impaired link ``node:interface`` does not end on its network's bridge directly: it ends
in its own namespace ``nt-<lab>-<node>.<interface>`` (a dot: no node name has one), whose
two interfaces ``wn`` (node side) and ``wb`` (bridge side) are joined by plain IPv4
forwarding with proxy ARP, so the node and its network see each other as before (the wire
has no address of its own and answers ARP for the other side; a packet's TTL drops by one).
Nothing in the wire tracks connections (``notrack``), so the NAT routers' conntrack timing
is theirs alone, and the node's own namespace is untouched. In the wire:

- **rate**: ``tbf`` on the interface a direction leaves by (``wb`` for egress, ``wn`` for
  ingress);
- **random loss**: nftables ``numgen random`` in the forward hook;
- **delay, jitter, reordering, duplication, loss in bursts**: the NFQUEUE shaper
  (``nattest.impair.shaper``), fed by an iptables-nft ``NFQUEUE`` rule per direction
  (``--queue-bypass``: without a shaper, packets pass).

Everything here is pure: the netns backend applies it (``backends/netns/lab.py``) and keeps
the texts in the lab folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from nattest.model.impair import Impairment, LinkImpairment
from nattest.model.topology import Topology

NODE_SIDE = "wn"
"""Wire interface towards the node."""
NET_SIDE = "wb"
"""Wire interface towards the network's bridge."""
WIRE_INDEX = {NODE_SIDE: 201, NET_SIDE: 202}
"""Explicit ifindexes (never equal to a peer's: see ``plan.VETH_INDEX_BASE``)."""
QUEUES = {"egress": 0, "ingress": 1}
"""NFQUEUE number of each direction (queues are per namespace)."""
INPUT_OF = {"egress": NODE_SIDE, "ingress": NET_SIDE}
"""The interface a direction's packets enter the wire by."""
OUTPUT_OF = {"egress": NET_SIDE, "ingress": NODE_SIDE}
"""The interface a direction's packets leave the wire by (where its tbf sits)."""
TABLE = "nattest_wire"
"""The wire's nftables table."""
LOSS_SCALE = 10_000
"""Random loss resolution: 1/100 of a percent."""
TBF_LATENCY = "100ms"
"""How long a packet may wait in a rate limit's queue before it is dropped (a router's
buffer)."""


def wire_namespace(lab: str, node: str, ifname: str) -> str:
    """Namespace of the wire on link `node:ifname`."""
    return f"nt-{lab}-{node}.{ifname}"


@dataclass
class Wire:
    """One impaired link's wire: names, routes and impairment."""

    node: str
    """Node whose interface the wire sits on."""
    ifname: str
    """That interface."""
    namespace: str
    """The wire's namespace."""
    node_address: str
    """The node's (first) address on the link: the wire's next hop towards the node."""
    node_routes: list[str] = field(default_factory=list)
    """Prefixes reached through the node (its addresses; `default` behind a router's LAN)."""
    net_routes: list[str] = field(default_factory=list)
    """`ip route` specs towards the network (its subnet, the node's gateway via it)."""
    impairment: LinkImpairment = field(default_factory=LinkImpairment)
    """What the wire does to packets."""

    @property
    def link(self) -> str:
        """`node:interface`."""
        return f"{self.node}:{self.ifname}"


def plan_wire(t: Topology, lab: str, node: str, ifname: str) -> Wire:
    """The wire of link `node:ifname` in lab `lab` (its impairment from the topology)."""
    attachments = [a for a in t.attachments(node) if a[0] == ifname]
    net = attachments[0][1]
    subnet = t.networks[net].subnet
    node_routes = [f"{addr}/32" for _, _, addr in attachments]
    if node in t.nats and ifname == "lan" and t.nats[node].nat is not None:
        node_routes.append("default")  # everything beyond a NAT is reached through it
    if node in t.nats and ifname == "wan" and t.nats[node].nat is None:
        node_routes.append(str(t.networks[t.nats[node].lan.network].subnet))
    net_routes = [f"{subnet} dev {NET_SIDE}"]
    gw = t.gateway(node)
    if gw is not None and IPv4Address(gw) in subnet and "default" not in node_routes:
        net_routes.append(f"default via {gw} dev {NET_SIDE}")
    for name, r in t.nats.items():  # routes other nodes on this network use (open routers)
        if r.nat is None and name != node and r.wan.network == net:
            net_routes.append(f"{t.networks[r.lan.network].subnet} via {r.wan.address}")
    return Wire(
        node=node,
        ifname=ifname,
        namespace=wire_namespace(lab, node, ifname),
        node_address=str(attachments[0][2]),
        node_routes=node_routes,
        net_routes=net_routes,
        impairment=t.impairment(node, ifname) or LinkImpairment(),
    )


def wire_configure(w: Wire) -> list[str]:
    """`ip -batch` lines inside the wire: links up, routes both ways."""
    lines = ["link set lo up", *(f"link set {i} up" for i in (NODE_SIDE, NET_SIDE))]
    lines += [f"route replace {spec}" for spec in w.net_routes]
    lines += [
        f"route replace {prefix} via {w.node_address} dev {NODE_SIDE} onlink"
        if prefix == "default"
        else f"route replace {prefix} dev {NODE_SIDE}"
        for prefix in w.node_routes
    ]
    return lines


def wire_sysctls() -> dict[str, str]:
    """A forwarding, address-less, proxy-ARP hop that never redirects or filters."""
    values = {
        "net.ipv6.conf.all.disable_ipv6": "1",
        "net.ipv6.conf.default.disable_ipv6": "1",
        "net.ipv4.ip_forward": "1",
    }
    for dev in ("all", "default", NODE_SIDE, NET_SIDE):
        values[f"net.ipv4.conf.{dev}.rp_filter"] = "0"
        values[f"net.ipv4.conf.{dev}.send_redirects"] = "0"
    for dev in (NODE_SIDE, NET_SIDE):
        values[f"net.ipv4.conf.{dev}.proxy_arp"] = "1"
        values[f"net.ipv4.neigh.{dev}.proxy_delay"] = "0"
    return values


def _direction(imp: LinkImpairment, direction: str) -> Impairment:
    imp_dir: Impairment = getattr(imp, direction)
    return imp_dir


def wire_ruleset(w: Wire) -> str:
    """The wire's nftables table: no connection tracking; random loss per direction
    (a direction with loss in bursts loses in the shaper instead)."""
    forward = []
    for direction in QUEUES:
        d = _direction(w.impairment, direction)
        if d.loss and d.burst is None:
            n = round(d.loss / 100 * LOSS_SCALE)
            forward.append(
                f'    iifname "{INPUT_OF[direction]}" numgen random mod {LOSS_SCALE} < {n} '
                f'counter drop comment "{direction} loss {d.loss:g}%"'
            )
    body = "\n".join(forward)
    return (
        f"table ip {TABLE}\nflush table ip {TABLE}\n"
        f"table ip {TABLE} {{\n"
        "  chain pre {\n    type filter hook prerouting priority raw; policy accept;\n"
        "    notrack\n  }\n"
        "  chain out {\n    type filter hook output priority raw; policy accept;\n"
        "    notrack\n  }\n"
        "  chain forward {\n    type filter hook forward priority filter; policy accept;\n"
        f"{body}{chr(10) if body else ''}  }}\n}}\n"
    )


def wire_queue_rules(w: Wire) -> str:
    """`iptables-restore` input: an NFQUEUE rule per direction the shaper must hold."""
    lines = ["*mangle", ":FORWARD ACCEPT [0:0]"]
    for direction, queue in QUEUES.items():
        if _direction(w.impairment, direction).needs_shaper:
            lines.append(
                f"-A FORWARD -i {INPUT_OF[direction]} -j NFQUEUE --queue-num {queue} --queue-bypass"
            )
    return "\n".join([*lines, "COMMIT", ""])


def tbf_burst(rate: int) -> int:
    """tbf bucket in bytes: 10 ms at the rate, at least two full-size packets."""
    return max(2 * 1514, rate // 8 // 100)


def wire_tc(w: Wire) -> list[list[str]]:
    """`tc` argv (inside the wire) putting each direction's rate limit in place or away."""
    out = []
    for direction in QUEUES:
        dev = OUTPUT_OF[direction]
        rate = _direction(w.impairment, direction).rate
        if rate is None:
            out.append(["tc", "qdisc", "del", "dev", dev, "root"])
        else:
            tbf = ["tbf", "rate", f"{rate}bit", "burst", str(tbf_burst(rate))]
            out.append(["tc", "qdisc", "replace", "dev", dev, "root", *tbf, "latency", TBF_LATENCY])
    return out


def shaper_config(w: Wire, generation: int = 1, seed: int | None = None) -> str:
    """The shaper's JSON config: per direction its queue and what it does."""
    directions = {}
    for direction, queue in QUEUES.items():
        d = _direction(w.impairment, direction)
        p, r = d.gilbert_elliott() if d.burst is not None else (0.0, 0.0)
        directions[direction] = {
            "queue": queue,
            "output": OUTPUT_OF[direction],
            "delay": d.delay,
            "jitter": d.jitter,
            "duplicate": d.duplicate / 100,
            "reorder": d.reorder / 100,
            "burst_p": p,
            "burst_r": r,
            "active": d.needs_shaper,
        }
    return json.dumps(
        {"link": w.link, "generation": generation, "seed": seed, "directions": directions},
        indent=2,
    )


__all__ = [
    "NET_SIDE",
    "NODE_SIDE",
    "QUEUES",
    "Wire",
    "plan_wire",
    "shaper_config",
    "wire_configure",
    "wire_namespace",
    "wire_queue_rules",
    "wire_ruleset",
    "wire_sysctls",
    "wire_tc",
]
