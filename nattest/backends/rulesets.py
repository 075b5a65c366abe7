"""Render, don't mutate: RFC 4787 NAT behaviour and firewalls as nftables ruleset text.

Shared by every backend (the same text is loaded in a namespace or a container). The
renderer is pure: ``nat_ruleset(behavior, ...) -> str``; the backend applies the text with
``nft -f`` inside the router's namespace, atomically.

How each behaviour is realised on the Linux kernel (see docs/nat.md for the reasoning):

- endpoint-independent mapping: ``snat`` without ``random``. nf_nat reuses the existing
  binding of an internal address:port when it fits the rule (``find_appropriate_src``);
  without a port range the internal port is kept (port preservation).
- address-dependent mapping: one port range per destination address, so a new
  destination address never fits the binding made for another one.
- address-and-port-dependent mapping: ``snat ... random`` skips the reuse: every
  5-tuple gets a fresh random port (symmetric NAT).
- address-and-port-dependent filtering: conntrack alone (only replies come in).
- endpoint-independent / address-dependent filtering: a dynamic map
  ``mapped port → internal address . port`` filled on egress after SNAT from conntrack's
  tuples, and (for address-dependent) a set ``remote address . mapped port``; a
  prerouting DNAT looks them up.
- every behaviour drops new inbound UDP addressed to the router itself: otherwise an
  unsolicited check creates a confirmed conntrack entry on a mapped port and the next
  outbound packet of that endpoint gets another port (LAB_NOTES: Linux port-restricted pitfall).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from nattest.model.nat import Filtering, Firewall, Mapping, NatBehavior

PORT_RANGE_NO_PRESERVATION = (20000, 29999)
"""External ports of an EIM NAT without port preservation (outside Linux's ephemeral range)."""
ADM_BASE_PORT = 1024
"""First external port of an address-dependent NAT; each destination gets 500 ports."""
ADM_PORTS_PER_DESTINATION = 500


def _mapping_rules(
    behavior: NatBehavior, wan_if: str, wan_address: IPv4Address, destinations: list[IPv4Address]
) -> list[str]:
    """SNAT rules realising the mapping behaviour (RFC 4787 4.1).

    Port ranges apply to TCP and UDP; a last rule translates everything else (ICMP).
    """
    out = f'oifname "{wan_if}"'
    ports = f"{out} meta l4proto {{ tcp, udp }}"
    if behavior.mapping is Mapping.ADDRESS_AND_PORT_DEPENDENT:
        return [f"{out} snat ip to {wan_address} random"]
    if behavior.mapping is Mapping.ENDPOINT_INDEPENDENT and behavior.port_preservation:
        return [f"{out} snat ip to {wan_address}"]
    rules = []
    if behavior.mapping is Mapping.ADDRESS_DEPENDENT:
        for i, dst in enumerate(sorted(set(destinations))):
            lo = ADM_BASE_PORT + i * ADM_PORTS_PER_DESTINATION
            hi = lo + ADM_PORTS_PER_DESTINATION - 1
            rules.append(f"{ports} ip daddr {dst} snat ip to {wan_address}:{lo}-{hi}")
        lo = ADM_BASE_PORT + len(set(destinations)) * ADM_PORTS_PER_DESTINATION
        hi = lo + ADM_PORTS_PER_DESTINATION - 1
    else:
        lo, hi = PORT_RANGE_NO_PRESERVATION
    rules.append(f"{ports} snat ip to {wan_address}:{lo}-{hi}")
    rules.append(f"{out} snat ip to {wan_address}")
    return rules


def _firewall_rules(firewall: Firewall | None, lan_if: str) -> list[str]:
    """Forward-chain rules for a firewall in front of the LAN."""
    if firewall is None:
        return []
    return firewall_rules(firewall, f'iifname "{lan_if}"')


def firewall_rules(firewall: Firewall, match: str) -> list[str]:
    """Drop rules of an outbound firewall for packets matched by `match`."""
    if firewall is Firewall.UDP_BLOCKED:
        return [f"{match} meta l4proto udp drop"]
    return [
        f"{match} meta l4proto != tcp drop",
        f"{match} tcp dport != 443 drop",
    ]


def nat_ruleset(
    behavior: NatBehavior | None,
    *,
    wan_if: str,
    wan_address: str,
    lan_if: str,
    lan_subnet: str,
    destinations: list[str] | None = None,
    firewall: Firewall | None = None,
    table: str = "nattest",
) -> str:
    """Render one router's nftables ruleset. `behavior=None` is a plain router (`open`).

    `destinations` are the public addresses an address-dependent NAT gives their own
    port ranges to (the lab's public nodes); other destinations share one more range.
    """
    wan = IPv4Address(wan_address)
    lan = IPv4Network(lan_subnet)
    dsts = [IPv4Address(d) for d in destinations or []]
    lines = [f"table ip {table} {{"]
    forward = _firewall_rules(firewall, lan_if)
    if behavior is not None:
        t = behavior.udp_timeout
        f = behavior.filtering
        lines += [
            "  # mapped port -> internal endpoint, filled on egress (for inbound DNAT)",
            "  map mappings {",
            "    type inet_service : ipv4_addr . inet_service",
            f"    flags dynamic,timeout; timeout {t}s;",
            "  }",
        ]
        if f is Filtering.ADDRESS_DEPENDENT:
            lines += [
                "  # remote address . mapped port the internal endpoint has sent to",
                "  set contacted {",
                "    type ipv4_addr . inet_service",
                f"    flags dynamic,timeout; timeout {t}s;",
                "  }",
            ]
        pre = []
        if f is Filtering.ENDPOINT_INDEPENDENT:
            pre.append(f'iifname "{wan_if}" meta l4proto udp dnat ip to udp dport map @mappings')
        elif f is Filtering.ADDRESS_DEPENDENT:
            pre.append(
                f'iifname "{wan_if}" ip saddr . udp dport @contacted '
                "dnat ip to udp dport map @mappings"
            )
        if behavior.hairpinning:
            pre.append(
                f'iifname "{lan_if}" ip daddr {wan} meta l4proto udp '
                "dnat ip to udp dport map @mappings"
            )
        post = _mapping_rules(behavior, wan_if, wan, dsts)
        if behavior.hairpinning:
            post.append(f'oifname "{lan_if}" ip saddr {lan} ct status dnat snat ip to {wan}')
        track = [
            f'oifname "{wan_if}" meta l4proto udp ct direction original update @mappings '
            "{ ct reply proto-dst : ct original ip saddr . ct original proto-src }",
            f'oifname "{wan_if}" meta l4proto udp ct direction reply update @mappings '
            "{ ct original proto-dst : ct reply ip saddr . ct reply proto-src }",
        ]
        if f is Filtering.ADDRESS_DEPENDENT:
            track += [
                f'oifname "{wan_if}" meta l4proto udp ct direction original '
                "update @contacted { ip daddr . ct reply proto-dst }",
                f'oifname "{wan_if}" meta l4proto udp ct direction reply '
                "update @contacted { ip daddr . ct original proto-dst }",
            ]
        lines += _chain("prerouting", "type nat hook prerouting priority dstnat;", pre)
        lines += _chain("postrouting", "type nat hook postrouting priority srcnat;", post)
        lines += _chain("track", "type filter hook postrouting priority 300;", track)
        lines += _chain(
            "input",
            "type filter hook input priority filter;",
            [f'iifname "{wan_if}" meta l4proto udp ct state new drop'],
        )
    if forward:
        lines += _chain("forward", "type filter hook forward priority filter;", forward)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _chain(name: str, hook: str, rules: list[str]) -> list[str]:
    """One chain: its hook line, then one rule per line (nft dislikes `}` after an address)."""
    return [f"  chain {name} {{", f"    {hook}", *(f"    {r}" for r in rules), "  }"]


def host_firewall_ruleset(firewall: Firewall, port_if: str, table: str = "nattest_fw") -> str:
    """A bridge-family ruleset dropping a host's outbound traffic at its switch port.

    Applied in the network's bridge namespace, so the host sees silent loss (as behind a
    real firewall) instead of EPERM from its own stack.
    """
    rules = firewall_rules(firewall, f'iifname "{port_if}"')
    lines = [f"table bridge {table} {{"]
    lines += _chain("forward", "type filter hook forward priority filter;", rules)
    lines.append("}")
    return "\n".join(lines) + "\n"
