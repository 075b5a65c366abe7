"""Describe, then build: read a topology file into a validated ``Topology``; touch nothing.

``load_topology(path)`` parses, validates and cross-checks; every error is a
``TopologyError`` naming the file, the field and the reason (exit code 2 in the CLI)::

    topologies/x.yaml: nats.nat-a.behavior: unknown NAT behaviour 'semi-cone' (expected ...)
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nattest.errors import TopologyError
from nattest.model.topology import Topology
from nattest.model.yamlfile import read_yaml


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
    return parse_topology(read_yaml(path, TopologyError), str(path))


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
