"""Endpoint configurations and the standard two-peer lab built from any two of them.

    topo = pair_topology("symmetric", "port-restricted-cone")

gives alice (caller) behind a symmetric NAT, bob (callee) behind a port-restricted cone,
a TURN/STUN + signaling node `turn` with two public addresses. No file to write.
"""

from __future__ import annotations

from typing import Any

from nattest.errors import UsageError
from nattest.model.load import parse_topology
from nattest.model.nat import PRESETS, composite
from nattest.model.topology import Topology

CONFIGS: dict[str, str] = {
    "open": "no NAT: a plain router, the host has a public address",
    "full-cone": "endpoint-independent mapping and filtering",
    "restricted-cone": "endpoint-independent mapping, address-dependent filtering",
    "port-restricted-cone": "endpoint-independent mapping, address-and-port-dependent filtering",
    "symmetric": "address-and-port-dependent mapping and filtering",
    "double-cone": "a full-cone NAT behind another full-cone NAT",
    "symmetric-then-cone": "a full-cone NAT behind a symmetric NAT",
    "udp-blocked": "a port-restricted NAT whose firewall drops all UDP (TURN over TCP/TLS only)",
}
"""Endpoint configuration → what it is, in RFC 4787 words."""

CHAINS: dict[str, list[str]] = {
    "full-cone": ["full-cone"],
    "restricted-cone": ["restricted-cone"],
    "port-restricted-cone": ["port-restricted-cone"],
    "symmetric": ["symmetric"],
    "double-cone": ["full-cone", "full-cone"],
    "symmetric-then-cone": ["symmetric", "full-cone"],
    "udp-blocked": ["port-restricted-cone"],
}
"""NAT presets from the internet inwards (`open` has none)."""


def behaviour(config: str) -> tuple[str, str, str]:
    """(NAT chain from the internet inwards, effective mapping, effective filtering) of a
    configuration, for legends: `("symmetric → full-cone", "address-and-port-dependent", ...)`."""
    chain = CHAINS.get(config, [])
    effective = composite(PRESETS[p] for p in chain)
    if effective is None:
        return "none (plain router)", "none", "none"
    mapping, filtering = effective
    return " → ".join(chain), mapping.value, filtering.value


def check_config(name: str) -> str:
    """UsageError naming the known configurations."""
    if name not in CONFIGS:
        raise UsageError(f"unknown configuration {name!r} (expected one of {', '.join(CONFIGS)})")
    return name


def _side(config: str, host: str, n: int) -> dict[str, Any]:
    """Networks, NATs and the host of one side (n = 1 for the caller, 2 for the callee)."""
    wan = {"network": "internet", "address": f"203.0.113.{10 + n}"}
    if config == "open":
        lan = f"198.51.100.{(n - 1) * 128}/25"
        base = (n - 1) * 128
        return {
            "networks": {f"lan-{host}": {"subnet": lan}},
            "nats": {
                f"nat-{host}": {
                    "behavior": "open",
                    "wan": wan,
                    "lan": {"network": f"lan-{host}", "address": f"198.51.100.{base + 1}"},
                }
            },
            "host": {"network": f"lan-{host}", "address": f"198.51.100.{base + 10}"},
        }
    chain = CHAINS[config]
    networks: dict[str, Any] = {}
    nats: dict[str, Any] = {}
    upstream = wan
    for depth, preset in enumerate(chain):
        inner = depth == len(chain) - 1
        net, name, prefix = (
            (f"lan-{host}", f"nat-{host}", f"10.{n}.0")
            if inner
            else (f"carrier-{host}", f"cgn-{host}", f"10.{64 + n}.0")
        )
        networks[net] = {"subnet": f"{prefix}.0/24"}
        nat: dict[str, Any] = {
            "behavior": preset,
            "wan": upstream,
            "lan": {"network": net, "address": f"{prefix}.1"},
        }
        if config == "udp-blocked":
            nat["firewall"] = "udp-blocked"
        nats[name] = nat
        upstream = {"network": net, "address": f"{prefix}.2"}
    host_address = f"10.{n}.0.10"
    return {
        "networks": networks,
        "nats": nats,
        "host": {"network": f"lan-{host}", "address": host_address},
    }


def pair_topology(caller: str, callee: str) -> Topology:
    """The standard lab: `alice` behind `caller`'s configuration, `bob` behind `callee`'s."""
    check_config(caller)
    check_config(callee)
    data: dict[str, Any] = {
        "name": "pair",
        "description": f"alice behind {caller}, bob behind {callee}",
        "networks": {"internet": {"subnet": "203.0.113.0/24"}},
        "nats": {},
        "hosts": {},
        "servers": {
            "turn": {
                "network": "internet",
                "addresses": ["203.0.113.2", "203.0.113.3"],
                "services": ["turn", "stun", "signaling"],
            },
        },
        "peers": ["alice", "bob"],
    }
    for n, (config, host) in enumerate(((caller, "alice"), (callee, "bob")), start=1):
        side = _side(config, host, n)
        data["networks"].update(side["networks"])
        data["nats"].update(side["nats"])
        data["hosts"][host] = side["host"]
    return parse_topology(data, f"<pair {caller}:{callee}>")
