"""NAT rulesets are rendered as text by a pure function: check the exact rules."""

from __future__ import annotations

from nattest.backends.rulesets import host_firewall_ruleset, nat_ruleset
from nattest.model.nat import PRESETS, Firewall, NatBehavior

ARGS = {
    "wan_if": "wan",
    "wan_address": "203.0.113.11",
    "lan_if": "lan",
    "lan_subnet": "10.0.1.0/24",
}


def _rules(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_port_restricted_cone_exact() -> None:
    text = nat_ruleset(PRESETS["port-restricted-cone"], **ARGS)
    assert text == (
        "table ip nattest {\n"
        "  # mapped port -> internal endpoint, filled on egress (for inbound DNAT)\n"
        "  map mappings {\n"
        "    type inet_service : ipv4_addr . inet_service\n"
        "    flags dynamic,timeout; timeout 120s;\n"
        "  }\n"
        "  chain prerouting {\n"
        "    type nat hook prerouting priority dstnat;\n"
        "  }\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat;\n"
        '    oifname "wan" snat ip to 203.0.113.11\n'
        "  }\n"
        "  chain track {\n"
        "    type filter hook postrouting priority 300;\n"
        '    oifname "wan" meta l4proto udp ct direction original update @mappings '
        "{ ct reply proto-dst : ct original ip saddr . ct original proto-src }\n"
        '    oifname "wan" meta l4proto udp ct direction reply update @mappings '
        "{ ct original proto-dst : ct reply ip saddr . ct reply proto-src }\n"
        "  }\n"
        "  chain input {\n"
        "    type filter hook input priority filter;\n"
        '    iifname "wan" meta l4proto udp ct state new drop\n'
        "  }\n"
        "}\n"
    )


def test_symmetric_uses_random_ports() -> None:
    rules = _rules(nat_ruleset(PRESETS["symmetric"], **ARGS))
    assert 'oifname "wan" snat ip to 203.0.113.11 random' in rules
    assert not any("dnat" in r for r in rules)  # APDF: conntrack alone


def test_full_cone_dnats_any_source() -> None:
    rules = _rules(nat_ruleset(PRESETS["full-cone"], **ARGS))
    assert 'iifname "wan" meta l4proto udp dnat ip to udp dport map @mappings' in rules


def test_restricted_cone_checks_contacted_address() -> None:
    text = nat_ruleset(PRESETS["restricted-cone"], **ARGS)
    assert "set contacted {" in text
    assert (
        'iifname "wan" ip saddr . udp dport @contacted dnat ip to udp dport map @mappings' in text
    )
    assert "update @contacted { ip daddr . ct reply proto-dst }" in text


def test_no_port_preservation_uses_range() -> None:
    b = NatBehavior(port_preservation=False)
    rules = _rules(nat_ruleset(b, **ARGS))
    assert 'oifname "wan" meta l4proto { tcp, udp } snat ip to 203.0.113.11:20000-29999' in rules
    assert rules[rules.index('oifname "wan" snat ip to 203.0.113.11') - 1].endswith("20000-29999")


def test_address_dependent_mapping_ranges_per_destination() -> None:
    b = NatBehavior(mapping="address-dependent", port_preservation=False)
    rules = _rules(nat_ruleset(b, destinations=["203.0.113.3", "203.0.113.2"], **ARGS))
    ports = 'oifname "wan" meta l4proto { tcp, udp }'
    assert f"{ports} ip daddr 203.0.113.2 snat ip to 203.0.113.11:1024-1523" in rules
    assert f"{ports} ip daddr 203.0.113.3 snat ip to 203.0.113.11:1524-2023" in rules
    assert f"{ports} snat ip to 203.0.113.11:2024-2523" in rules


def test_hairpinning_rules() -> None:
    b = NatBehavior(hairpinning=True)
    rules = _rules(nat_ruleset(b, **ARGS))
    assert (
        'iifname "lan" ip daddr 203.0.113.11 meta l4proto udp dnat ip to udp dport map @mappings'
        in rules
    )
    assert 'oifname "lan" ip saddr 10.0.1.0/24 ct status dnat snat ip to 203.0.113.11' in rules


def test_udp_timeout_in_sets() -> None:
    assert "timeout 30s;" in nat_ruleset(NatBehavior(udp_timeout=30), **ARGS)


def test_open_router_has_no_nat_only_firewall() -> None:
    assert nat_ruleset(None, **ARGS) == "table ip nattest {\n}\n"
    text = nat_ruleset(None, firewall=Firewall.UDP_BLOCKED, **ARGS)
    assert 'iifname "lan" meta l4proto udp drop' in text and "snat" not in text


def test_tcp_443_only_firewall() -> None:
    rules = _rules(nat_ruleset(PRESETS["symmetric"], firewall=Firewall.TCP_443_ONLY, **ARGS))
    assert 'iifname "lan" meta l4proto != tcp drop' in rules
    assert 'iifname "lan" tcp dport != 443 drop' in rules


def test_host_firewall_is_a_bridge_port_filter() -> None:
    text = host_firewall_ruleset(Firewall.UDP_BLOCKED, "p3")
    assert text.startswith("table bridge nattest_fw {")
    assert 'iifname "p3" meta l4proto udp drop' in text


def test_preset_labels() -> None:
    for name, b in PRESETS.items():
        assert b.label() == name
    assert NatBehavior(hairpinning=True).label().startswith("endpoint-independent mapping")
