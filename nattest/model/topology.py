"""Topology: networks, NAT routers, hosts and servers as validated, pure data.

The schema and its derived views (attachments, gateways, the NAT chain in front of a host).
Loading a file and the cross-reference checks live in ``nattest.model.load``.

A topology file::

    name: symmetric
    description: Symmetric NATs on both ends
    networks:
      internet: {subnet: 203.0.113.0/24}
      lan-a: {subnet: 10.0.1.0/24}
    nats:
      nat-a:
        behavior: symmetric            # a preset, or {preset:, mapping:, filtering:, ...}
        wan: {network: internet, address: 203.0.113.11}
        lan: {network: lan-a, address: 10.0.1.1}
    hosts:
      alice: {network: lan-a, address: 10.0.1.10}
    servers:
      turn: {network: internet, addresses: [203.0.113.2, 203.0.113.3]}
    peers: [alice, bob]
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from nattest.errors import UsageError
from nattest.model.base import Spec
from nattest.model.impair import LinkImpairment
from nattest.model.nat import OPEN, PRESETS, Firewall, NatBehavior, blocks_udp

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,22}[a-z0-9])?$")
"""Names of networks and nodes: lowercase letters, digits and dashes, at most 24."""

DOCUMENTATION_RANGES = tuple(
    IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
"""RFC 5737 ranges: the only "public" addresses a lab may use."""
PRIVATE_RANGES = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "192.168.0.0/16"))
"""Private ranges a lab's LANs may use."""

Name = Annotated[str, Field(pattern=NAME_RE.pattern)]
Service = Literal["turn", "stun", "signaling"]


class Network(Spec):
    """One layer-2 segment (a bridge). Public when its subnet is a documentation range."""

    subnet: IPv4Network
    """Its IPv4 subnet, e.g. 203.0.113.0/24 or 10.0.1.0/24."""

    @field_validator("subnet")
    @classmethod
    def _lab_range(cls, v: IPv4Network) -> IPv4Network:
        if not any(v.subnet_of(r) for r in DOCUMENTATION_RANGES + PRIVATE_RANGES):
            raise ValueError(
                f"{v} is outside the lab's ranges (public: 192.0.2.0/24, 198.51.100.0/24, "
                "203.0.113.0/24; private: 10.0.0.0/8, 192.168.0.0/16)"
            )
        return v

    @property
    def public(self) -> bool:
        """True for documentation-range ("internet") networks."""
        return any(self.subnet.subnet_of(r) for r in DOCUMENTATION_RANGES)


class Attachment(Spec):
    """One interface of a node on a network."""

    network: Name
    """Network name."""
    address: IPv4Address
    """Address of the interface (inside the network's subnet)."""
    impair: LinkImpairment | None = None
    """Delay, loss, rate ... on this link (``nattest.model.impair``)."""


class Nat(Spec):
    """A router between a LAN and a WAN network, with a NAT behaviour and maybe a firewall."""

    behavior: str | NatBehavior
    """A preset name (`open`, `full-cone`, `restricted-cone`, `port-restricted-cone`,
    `symmetric`) or an RFC 4787 description."""
    wan: Attachment
    """Its outside interface."""
    lan: Attachment
    """Its inside interface; the LAN's hosts use this address as their gateway."""
    firewall: Firewall | None = None
    """An outbound firewall in front of the LAN."""

    @field_validator("behavior", mode="before")
    @classmethod
    def _behavior(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v != OPEN and v not in PRESETS:
                names = ", ".join([OPEN, *PRESETS])
                raise ValueError(f"unknown NAT behaviour {v!r} (expected one of {names})")
            return v
        if isinstance(v, dict) and "preset" in v:
            v = dict(v)
            preset = v.pop("preset")
            if preset not in PRESETS:
                names = ", ".join(PRESETS)
                raise ValueError(f"unknown NAT preset {preset!r} (expected one of {names})")
            return {**PRESETS[preset].model_dump(), **v}
        return v

    @property
    def nat(self) -> NatBehavior | None:
        """The behaviour, or None for a plain router (`open`)."""
        if isinstance(self.behavior, NatBehavior):
            return self.behavior
        return None if self.behavior == OPEN else PRESETS[self.behavior]

    @property
    def label(self) -> str:
        """Preset name or behaviour summary, for tables."""
        nat = self.nat
        return OPEN if nat is None else nat.label()


class Host(Spec):
    """An end host (a peer) on one network."""

    network: Name
    """Network it sits on."""
    address: IPv4Address
    """Its address."""
    firewall: Firewall | None = None
    """An outbound firewall right in front of this host (at its switch port)."""
    impair: LinkImpairment | None = None
    """Delay, loss, rate ... on its link (``nattest.model.impair``)."""
    image: str | None = Field(default=None, min_length=1)
    """Docker backend only: run this image (yours: a client, an SFU) as the host, behind
    its NAT, given the lab's servers in ``NATTEST_*`` variables (docs/docker.md)."""
    command: list[str] | None = None
    """With `image`: its command (default: the image's own)."""
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = Field(
        default_factory=dict
    )
    """With `image`: more environment variables for it."""


class Server(Spec):
    """A public server node: TURN/STUN (coturn) and/or the signaling server."""

    network: Name
    """Network it sits on (normally the public one)."""
    addresses: list[IPv4Address] = Field(min_length=1, max_length=4)
    """Its addresses; give two for RFC 5780 behaviour discovery (OTHER-ADDRESS)."""
    services: list[Service] = Field(default_factory=lambda: ["turn", "signaling"])  # type: ignore[arg-type]
    """What runs on it. `turn` also answers STUN."""
    auth: Literal["long-term", "rest"] = "long-term"
    """TURN credentials: static long-term users, or the REST API shared secret
    (time-limited `expiry:user` names). coturn 4.6 serves one mode at a time."""
    allocation_lifetime: int | None = Field(default=None, ge=1, le=3600)
    """TURN: the longest lifetime, seconds, an allocation is granted (coturn's
    ``max-allocate-lifetime``, default 3600): clients must refresh within it."""
    impair: LinkImpairment | None = None
    """Delay, loss, rate ... on its link (``nattest.model.impair``)."""


class Topology(Spec):
    """A whole lab description."""

    name: Name
    """Topology name."""
    description: str = ""
    """One sentence: "Symmetric NATs on both ends"."""
    networks: dict[Name, Network]
    """Networks by name."""
    nats: dict[Name, Nat] = Field(default_factory=dict)
    """NAT routers by name."""
    hosts: dict[Name, Host] = Field(default_factory=dict)
    """End hosts by name."""
    servers: dict[Name, Server] = Field(default_factory=dict)
    """Server nodes by name."""
    peers: list[Name] = Field(default_factory=list)
    """Caller and callee of `nattest call` (default: the first two hosts)."""

    # -- derived views (pure) ------------------------------------------------------------

    def nodes(self) -> list[str]:
        """Every node name: NATs, hosts, servers."""
        return [*self.nats, *self.hosts, *self.servers]

    def call_peers(self) -> tuple[str, str]:
        """(caller, callee): `peers`, else the first two hosts. UsageError with fewer."""
        names = self.peers or list(self.hosts)[:2]
        if len(names) < 2:
            have = ", ".join(self.hosts) or "none"
            raise UsageError(
                f"topology {self.name}: a call needs two hosts, it has {len(self.hosts)} "
                f"({have}); add a host or name the two with `peers:`"
            )
        return names[0], names[1]

    def server_with(self, service: Service) -> str | None:
        """The first server running `service`."""
        return next((n for n, s in self.servers.items() if service in s.services), None)

    def router_of(self, network: str) -> str | None:
        """The NAT whose LAN side is `network` (the network's gateway)."""
        return next((n for n, r in self.nats.items() if r.lan.network == network), None)

    def attachments(self, node: str) -> list[tuple[str, str, IPv4Address]]:
        """(interface, network, address) of each interface of a node."""
        if node in self.nats:
            r = self.nats[node]
            return [("wan", r.wan.network, r.wan.address), ("lan", r.lan.network, r.lan.address)]
        if node in self.hosts:
            h = self.hosts[node]
            return [("eth0", h.network, h.address)]
        s = self.servers[node]
        return [("eth0", s.network, a) for a in s.addresses]

    def node_address(self, node: str) -> str:
        """First address of a node (a NAT's WAN address)."""
        return str(self.attachments(node)[0][2])

    def public_addresses(self) -> list[str]:
        """Every address on a public network."""
        return [
            str(addr)
            for node in self.nodes()
            for _, net, addr in self.attachments(node)
            if self.networks[net].public
        ]

    def gateway(self, node: str) -> str | None:
        """Default gateway of a host, server or NAT (the router of its upstream network)."""
        net = self.nats[node].wan.network if node in self.nats else self.attachments(node)[0][1]
        router = self.router_of(net)
        return str(self.nats[router].lan.address) if router else None

    def behind(self, host: str) -> list[str]:
        """The chain of NATs from a host outwards: ["nat-inner", "nat-outer"]."""
        chain: list[str] = []
        net = self.attachments(host)[0][1]
        while (router := self.router_of(net)) is not None and router not in chain:
            chain.append(router)
            net = self.nats[router].wan.network
        return chain

    # -- links and their impairments --------------------------------------------------

    def links(self) -> list[str]:
        """Every link, named `node:interface` (`nat-a:wan`, `alice:eth0`)."""
        return [
            f"{n}:{i}"
            for n in self.nodes()
            for i in dict.fromkeys(a[0] for a in self.attachments(n))
        ]

    def resolve_link(self, link: str) -> tuple[str, str]:
        """`nat-a:wan` → ("nat-a", "wan"); a one-link node's name alone will do.
        UsageError naming the links there are."""
        node, _, ifname = link.partition(":")
        ifnames = (
            list(dict.fromkeys(a[0] for a in self.attachments(node)))
            if node in self.nodes()
            else []
        )
        if not ifname and len(ifnames) == 1:
            ifname = ifnames[0]
        if ifname not in ifnames:
            known = ", ".join(self.links())
            raise UsageError(f"topology {self.name}: no link {link!r} (links: {known})")
        return node, ifname

    def impairment(self, node: str, ifname: str) -> LinkImpairment | None:
        """The impairment on one link, None when it has none."""
        if node in self.nats:
            return getattr(self.nats[node], ifname).impair
        spec = self.hosts.get(node) or self.servers[node]
        return spec.impair

    def impaired_links(self) -> dict[tuple[str, str], LinkImpairment]:
        """(node, interface) → impairment, for every link that has one (maybe inactive:
        a cleared link keeps its wire)."""
        out = {}
        for link in self.links():
            node, ifname = self.resolve_link(link)
            imp = self.impairment(node, ifname)
            if imp is not None:
                out[(node, ifname)] = imp
        return out

    def with_impairment(self, link: str, impair: LinkImpairment | None) -> Topology:
        """A copy with one link's impairment replaced (None: the link has none)."""
        node, ifname = self.resolve_link(link)
        if node in self.nats:
            nat = self.nats[node]
            side = getattr(nat, ifname).model_copy(update={"impair": impair})
            nats = {**self.nats, node: nat.model_copy(update={ifname: side})}
            return self.model_copy(update={"nats": nats})
        if node in self.hosts:
            hosts = {**self.hosts, node: self.hosts[node].model_copy(update={"impair": impair})}
            return self.model_copy(update={"hosts": hosts})
        server = self.servers[node].model_copy(update={"impair": impair})
        return self.model_copy(update={"servers": {**self.servers, node: server}})

    def blocks_udp(self, host: str) -> bool:
        """Whether a firewall in front of `host` (its own or its NATs') drops UDP."""
        walls = [self.hosts[host].firewall, *(self.nats[n].firewall for n in self.behind(host))]
        return any(blocks_udp(w) for w in walls)
