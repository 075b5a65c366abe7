"""NAT behaviour as data (RFC 4787): mapping × filtering, presets, firewalls, chains.

A NAT is ``mapping × filtering`` plus port preservation, hairpinning and the UDP mapping
lifetime (RFC 4787 sections 4.1, 5, 6, 4.3). Presets are names for combinations. How each
behaviour becomes netfilter rules is ``nattest.backends.rulesets`` (and docs/nat.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import Field, model_validator

from nattest.model.base import Spec


class Mapping(StrEnum):
    """RFC 4787 section 4.1 mapping behaviour."""

    ENDPOINT_INDEPENDENT = "endpoint-independent"
    """Same external port for every destination (cone NATs)."""
    ADDRESS_DEPENDENT = "address-dependent"
    """A new external port per destination address."""
    ADDRESS_AND_PORT_DEPENDENT = "address-and-port-dependent"
    """A new external port per destination address and port (symmetric NAT)."""


class Filtering(StrEnum):
    """RFC 4787 section 5 filtering behaviour."""

    ENDPOINT_INDEPENDENT = "endpoint-independent"
    """Anyone may send to a mapped port (full cone)."""
    ADDRESS_DEPENDENT = "address-dependent"
    """Only addresses the internal endpoint has sent to (restricted cone)."""
    ADDRESS_AND_PORT_DEPENDENT = "address-and-port-dependent"
    """Only address:port pairs the internal endpoint has sent to (port-restricted)."""


class Firewall(StrEnum):
    """Firewalls in front of a host or a LAN (outbound policy)."""

    UDP_BLOCKED = "udp-blocked"
    """No UDP leaves: only TCP (TURN over TCP/TLS) can work."""
    TCP_443_ONLY = "tcp-443-only"
    """Only TCP to port 443 leaves (a corporate proxy-less firewall)."""


class NatBehavior(Spec):
    """One NAT's behaviour, RFC 4787 terms."""

    mapping: Mapping = Mapping.ENDPOINT_INDEPENDENT
    """Mapping behaviour (RFC 4787 4.1)."""
    filtering: Filtering = Filtering.ADDRESS_AND_PORT_DEPENDENT
    """Filtering behaviour (RFC 4787 5)."""
    port_preservation: bool = True
    """Keep the internal source port as the external port when it is free (RFC 4787 4.2.1)."""
    hairpinning: bool = False
    """Internal hosts can reach each other through their external addresses (RFC 4787 6)."""
    udp_timeout: int = Field(default=120, ge=1, le=3600)
    """UDP mapping lifetime in seconds (RFC 4787 4.3; REQ-5 asks for at least 120)."""

    @model_validator(mode="after")
    def _preservation_needs_eim(self) -> NatBehavior:
        if self.port_preservation and self.mapping is not Mapping.ENDPOINT_INDEPENDENT:
            raise ValueError(
                "port_preservation needs endpoint-independent mapping "
                f"(mapping is {self.mapping.value}); set port_preservation: false"
            )
        return self

    def label(self) -> str:
        """The preset name when the behaviour is one, else `mapping/filtering`."""
        for name, preset in PRESETS.items():
            if preset == self:
                return name
        return f"{self.mapping.value} mapping / {self.filtering.value} filtering"


PRESETS: dict[str, NatBehavior] = {
    "full-cone": NatBehavior(filtering=Filtering.ENDPOINT_INDEPENDENT),
    "restricted-cone": NatBehavior(filtering=Filtering.ADDRESS_DEPENDENT),
    "port-restricted-cone": NatBehavior(filtering=Filtering.ADDRESS_AND_PORT_DEPENDENT),
    "symmetric": NatBehavior(
        mapping=Mapping.ADDRESS_AND_PORT_DEPENDENT,
        filtering=Filtering.ADDRESS_AND_PORT_DEPENDENT,
        port_preservation=False,
    ),
}
"""Preset names → behaviours. `open` (no NAT, plain routing) is not a NAT behaviour."""

OPEN = "open"
"""The preset name of a router that routes without translating or filtering."""


def composite(chain: Iterable[NatBehavior | None]) -> tuple[Mapping, Filtering] | None:
    """What a host sees through a chain of NATs: the most dependent mapping and the most
    restrictive filtering of the chain (RFC 4787 4.1, 5); None when nothing translates.

    A home NAT behind a carrier-grade NAT is as symmetric as the more symmetric of the two.
    """
    nats = [b for b in chain if b is not None]
    if not nats:
        return None
    mapping = max((b.mapping for b in nats), key=list(Mapping).index)
    filtering = max((b.filtering for b in nats), key=list(Filtering).index)
    return mapping, filtering


def blocks_udp(firewall: Firewall | None) -> bool:
    """Whether a firewall drops UDP (both do: tcp-443-only lets only TCP to 443 out)."""
    return firewall in (Firewall.UDP_BLOCKED, Firewall.TCP_443_ONLY)
