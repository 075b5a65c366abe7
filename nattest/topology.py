"""Topology: networks, NAT routers, hosts and servers as validated, pure data.

``load_topology(path)`` touches nothing: it parses, validates and returns a ``Topology``.
Every error is a ``TopologyError`` naming the file, the field and the reason.

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
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nattest.errors import TopologyError
from nattest.nat import OPEN, PRESETS, Firewall, NatBehavior

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Network(_Strict):
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


class Attachment(_Strict):
    """One interface of a node on a network."""

    network: Name
    """Network name."""
    address: IPv4Address
    """Address of the interface (inside the network's subnet)."""


class Nat(_Strict):
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


class Host(_Strict):
    """An end host (a peer) on one network."""

    network: Name
    """Network it sits on."""
    address: IPv4Address
    """Its address."""
    firewall: Firewall | None = None
    """An outbound firewall right in front of this host (at its switch port)."""


class Server(_Strict):
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


class Topology(_Strict):
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
        """(caller, callee)."""
        names = self.peers or list(self.hosts)[:2]
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


# -- loading --------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys (YAML allows them silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif p in ("str", "NatBehavior", "function-after[_preservation_needs_eim(), NatBehavior]"):
            continue  # union branch names pydantic adds to the path
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts).replace(".[", "[")


def parse_topology(data: Any, source: str) -> Topology:
    """Validate already-parsed YAML data. Raises TopologyError."""
    if not isinstance(data, dict):
        raise TopologyError(source, "", "a topology must be a YAML mapping")
    try:
        topo = Topology.model_validate(data)
    except ValidationError as e:
        err = _best_error(e)
        raise TopologyError(source, _field_path(err["loc"]), _reason(err)) from None
    check_topology(topo, source)
    return topo


def _best_error(e: ValidationError) -> Any:
    """The most useful of pydantic's errors (a union reports one per branch)."""
    errors = e.errors(include_url=False)
    # A union (`behavior: str | NatBehavior`) reports a type error for the branch that
    # did not apply; the other branch's error is the one that explains the mistake.
    useful = [err for err in errors if err["type"] not in ("string_type", "model_type")]
    return (useful or errors)[0]


def _reason(err: Any) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "string_pattern_mismatch":
        return f"{err['input']!r} is not a valid name (lowercase letters, digits and '-', ≤24)"
    if err["type"] == "extra_forbidden":
        return "unknown field"
    return msg


def load_topology(path: str | Path) -> Topology:
    """Read, parse and validate a topology file. Touches nothing else."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise TopologyError(str(p), "", f"cannot read: {e.strerror}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TopologyError(str(p), where, f"YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise TopologyError(str(p), "", f"YAML: {e}") from None
    return parse_topology(data, str(p))


# -- semantic checks --------------------------------------------------------------------------


def check_topology(t: Topology, source: str) -> None:
    """Cross-reference checks pydantic cannot express. Raises TopologyError."""

    def fail(field: str, reason: str) -> None:
        raise TopologyError(source, field, reason)

    kinds: dict[str, dict[str, Any]] = {
        "networks": t.networks,
        "nats": t.nats,
        "hosts": t.hosts,
        "servers": t.servers,
    }
    seen: dict[str, str] = {}
    for kind, items in kinds.items():
        for name in items:
            if name in seen:
                fail(f"{kind}.{name}", f"name already used in {seen[name]}")
            seen[name] = kind
    used: dict[IPv4Address, str] = {}

    def attach(field: str, network: str, address: IPv4Address) -> None:
        if network not in t.networks:
            fail(f"{field}.network", f"unknown network {network!r}")
        subnet = t.networks[network].subnet
        if address not in subnet:
            fail(f"{field}.address", f"{address} is outside {network} ({subnet})")
        if address in (subnet.network_address, subnet.broadcast_address):
            fail(f"{field}.address", f"{address} is the network or broadcast address of {subnet}")
        if address in used:
            fail(f"{field}.address", f"{address} is already used by {used[address]}")
        used[address] = field

    for name, r in t.nats.items():
        attach(f"nats.{name}.wan", r.wan.network, r.wan.address)
        attach(f"nats.{name}.lan", r.lan.network, r.lan.address)
        if r.wan.network == r.lan.network:
            fail(f"nats.{name}.lan.network", "the LAN and WAN of a NAT must differ")
        if r.nat is None and not t.networks[r.lan.network].public:
            fail(f"nats.{name}.behavior", "an `open` router needs a public LAN (no translation)")
    routers: dict[str, str] = {}
    for name, r in t.nats.items():
        if r.lan.network in routers:
            fail(
                f"nats.{name}.lan.network",
                f"{r.lan.network} already has router {routers[r.lan.network]}",
            )
        routers[r.lan.network] = name
    for name, h in t.hosts.items():
        attach(f"hosts.{name}", h.network, h.address)
    for name, s in t.servers.items():
        for i, a in enumerate(s.addresses):
            attach(f"servers.{name}.addresses[{i}]", s.network, a)
        if not t.networks[s.network].public:
            fail(f"servers.{name}.network", f"{s.network} is not public: servers must be reachable")
    publics = [n for n, net in t.networks.items() if net.public]
    if len(publics) > 1 and any(t.router_of(n) is None for n in publics[1:]):
        fail("networks", f"one public network without a router is allowed, found {publics}")
    for name in t.networks:
        if not any(net == name for node in t.nodes() for _, net, _ in t.attachments(node)):
            fail(f"networks.{name}", "no node is attached to this network")
    for name, r in t.nats.items():
        hops, net = [name], r.wan.network
        while (up := t.router_of(net)) is not None:
            if up in hops:
                fail(f"nats.{name}.wan.network", f"NATs form a loop: {' -> '.join([*hops, up])}")
            hops.append(up)
            net = t.nats[up].wan.network
    for i, p in enumerate(t.peers):
        if p not in t.hosts:
            fail(f"peers[{i}]", f"unknown host {p!r}")
    if t.peers and len(t.peers) != 2:
        fail("peers", f"give exactly two peers (caller, callee), got {len(t.peers)}")
    if len(set(t.peers)) != len(t.peers):
        fail("peers", "caller and callee must differ")
