"""Impairments without root: the model and its parser, the wire's rendered plan, and the
shaper's per-packet decisions."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from nattest.backends.plan import plan_lab
from nattest.backends.wires import (
    plan_wire,
    shaper_config,
    tbf_burst,
    wire_configure,
    wire_queue_rules,
    wire_ruleset,
    wire_tc,
)
from nattest.errors import UsageError
from nattest.impair.shaper import Direction, Rules
from nattest.model.configs import pair_topology
from nattest.model.impair import (
    Impairment,
    LinkImpairment,
    parse_impairment,
    parse_link_impairment,
)
from nattest.model.load import load_topology

TOPOLOGIES = Path(__file__).parents[2] / "topologies"

# ---------------------------------------------------------------------------- the model


def test_options_apply_to_both_directions_unless_one_is_named() -> None:
    imp = parse_impairment("delay:100ms,loss:5%,ingress.jitter:10ms,egress.rate:1mbit")
    assert imp.egress == Impairment(delay="100ms", loss="5%", rate="1mbit")
    assert imp.ingress == Impairment(delay="100ms", loss="5%", jitter="10ms")
    assert (imp.egress.delay, imp.egress.loss, imp.egress.rate) == (0.1, 5.0, 1_000_000)
    assert imp.describe() == (
        "egress: delay 100ms, loss 5%, rate 1mbit; ingress: delay 100ms ± 10ms, loss 5%"
    )
    assert parse_impairment("delay:80ms").describe() == "delay 80ms"
    assert not parse_impairment("none").active


def test_yaml_form_merges_shared_and_per_direction_options() -> None:
    imp = LinkImpairment.model_validate(
        {"delay": "80ms", "loss": "3%", "ingress": {"loss": "10%", "burst": 4}}
    )
    assert imp.egress.loss == 3.0 and imp.ingress.loss == 10.0
    assert imp.ingress.delay == imp.egress.delay == 0.08
    assert imp.ingress.burst == 4 and imp.egress.burst is None


def test_round_trip_through_json() -> None:
    imp = parse_impairment("delay:40ms,jitter:250us,loss:2.5%,rate:1500kbit,ingress.burst:3")
    assert LinkImpairment.model_validate(imp.model_dump(mode="json")) == imp
    assert LinkImpairment.model_validate(LinkImpairment().model_dump(mode="json")) == (
        LinkImpairment()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("delay:100", "'100' is not a time: expected a number with us, ms or s"),
        ("loss:5", "'5' is not a percentage"),
        ("rate:fast", "'fast' is not a rate: expected a number with bit, kbit, mbit or gbit"),
        ("lossy:3%", "unknown option 'lossy' (options: delay, jitter, loss, burst"),
        ("sideways.loss:3%", "unknown option 'sideways.loss'"),
        ("loss", "expected OPTION:VALUE"),
        ("loss:300%", "less than or equal to 100"),
        ("delay:20s", "less than or equal to 10"),
        ("reorder:5%", "reorder needs a delay"),
        ("burst:4", "burst needs a loss rate"),
        ("rate:1kbit", "greater than or equal to 8000"),
    ],
)
def test_bad_values_name_the_value_and_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(UsageError, match="impairment") as e:
        parse_impairment(text)
    assert message in str(e.value)


def test_link_impairment_argument() -> None:
    link, imp = parse_link_impairment("nat-a:wan=delay:100ms,loss:5%")
    assert link == "nat-a:wan" and imp.egress.loss == 5.0
    with pytest.raises(UsageError, match="expected LINK=OPTIONS"):
        parse_link_impairment("delay:100ms")


def test_gilbert_elliott_parameters_give_the_mean_loss_and_burst() -> None:
    p, r = Impairment(loss="5%", burst=4).gilbert_elliott()
    assert r == pytest.approx(0.25)
    assert p / (p + r) == pytest.approx(0.05)


def test_links_and_their_names() -> None:
    t = load_topology(TOPOLOGIES / "symmetric.yaml")
    assert t.links() == [
        "nat-a:wan", "nat-a:lan", "nat-b:wan", "nat-b:lan", "alice:eth0", "bob:eth0", "turn:eth0"
    ]  # fmt: skip
    assert t.resolve_link("alice") == ("alice", "eth0")
    with pytest.raises(UsageError, match=r"no link 'nat-a' \(links: nat-a:wan, nat-a:lan"):
        t.resolve_link("nat-a")
    t2 = t.with_impairment("nat-a:wan", parse_impairment("delay:5ms"))
    assert t2.impaired_links() == {("nat-a", "wan"): parse_impairment("delay:5ms")}
    assert t.impaired_links() == {}


def test_a_topology_file_with_impairments_loads_and_a_bad_one_names_the_field(
    tmp_path: Path,
) -> None:
    good = load_topology(TOPOLOGIES / "lossy-uplink.yaml")
    assert good.impaired_links()
    text = (TOPOLOGIES / "port-restricted-cone.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        text.replace("address: 203.0.113.11}", "address: 203.0.113.11, impair: {delay: 80}}")
    )
    with pytest.raises(UsageError) as e:
        load_topology(bad)
    assert "bad.yaml: nats.nat-a.wan.impair" in str(e.value)
    assert "'80' is not a time" in str(e.value) or "80 is not a time" in str(e.value)


# ---------------------------------------------------------------------------- the wire


def test_a_wire_routes_both_ways_and_answers_arp_for_the_other_side() -> None:
    t = load_topology(TOPOLOGIES / "symmetric.yaml")
    wan = plan_wire(t, "demo", "nat-a", "wan")
    assert wan.namespace == "nt-demo-nat-a.wan"
    assert wan.node_routes == ["203.0.113.11/32"]
    assert wan.net_routes == ["203.0.113.0/24 dev wb"]
    lan = plan_wire(t, "demo", "nat-a", "lan")
    assert lan.node_routes == ["10.0.1.1/32", "default"]  # everything beyond the NAT
    assert "route replace default via 10.0.1.1 dev wn onlink" in wire_configure(lan)
    host = plan_wire(t, "demo", "alice", "eth0")
    assert host.net_routes == ["10.0.1.0/24 dev wb", "default via 10.0.1.1 dev wb"]


def test_an_open_routers_lan_is_reached_through_its_wan_wire() -> None:
    t = pair_topology("open", "open")
    w = plan_wire(t, "demo", "nat-alice", "wan")
    assert str(t.networks[t.nats["nat-alice"].lan.network].subnet) in w.node_routes


def test_the_plan_splices_the_wire_into_the_link() -> None:
    t = load_topology(TOPOLOGIES / "symmetric.yaml").with_impairment(
        "nat-a:wan", parse_impairment("delay:10ms,ingress.loss:2%")
    )
    p = plan_lab(t, "demo")
    assert p.namespaces["nat-a.wan"] == "nt-demo-nat-a.wan"
    assert "netns add nt-demo-nat-a.wan" in p.create
    veths = [ln for ln in p.create if "nt-demo-nat-a.wan" in ln and ln.startswith("link add")]
    assert veths == [
        "link add wan index 101 netns nt-demo-nat-a type veth peer name wn index 201 "
        "netns nt-demo-nat-a.wan",
        "link add wb index 202 netns nt-demo-nat-a.wan type veth peer name p0 "
        "netns nt-demo-internet",
    ]
    ruleset = p.rulesets["nt-demo-nat-a.wan"]
    assert "notrack" in ruleset
    assert 'iifname "wb" numgen random mod 10000 < 200 counter drop' in ruleset
    assert 'iifname "wn" numgen' not in ruleset
    assert p.sysctls["nt-demo-nat-a.wan"]["net.ipv4.conf.wn.proxy_arp"] == "1"
    assert load_topology(TOPOLOGIES / "symmetric.yaml").impaired_links() == {}
    assert not plan_lab(load_topology(TOPOLOGIES / "symmetric.yaml"), "demo").wires


def test_what_runs_in_a_wire_per_direction() -> None:
    t = pair_topology("open", "open").with_impairment(
        "alice", parse_impairment("egress.delay:50ms,egress.duplicate:1%,ingress.rate:2mbit,"
                                  "ingress.loss:5%,ingress.burst:3")
    )  # fmt: skip
    w = plan_wire(t, "demo", "alice", "eth0")
    rules = wire_queue_rules(w)
    assert "-A FORWARD -i wn -j NFQUEUE --queue-num 0 --queue-bypass" in rules
    assert "-A FORWARD -i wb -j NFQUEUE --queue-num 1 --queue-bypass" in rules  # bursts
    assert "numgen" not in wire_ruleset(w)  # burst loss is the shaper's
    tc = wire_tc(w)
    assert tc[0] == ["tc", "qdisc", "del", "dev", "wb", "root"]
    assert tc[1][:6] == ["tc", "qdisc", "replace", "dev", "wn", "root"]
    assert "2000000bit" in tc[1] and str(tbf_burst(2_000_000)) in tc[1]
    cfg = json.loads(shaper_config(w, generation=3, seed=7))
    assert cfg["generation"] == 3 and cfg["seed"] == 7
    assert cfg["directions"]["egress"]["delay"] == 0.05
    assert cfg["directions"]["egress"]["duplicate"] == pytest.approx(0.01)
    assert cfg["directions"]["ingress"]["burst_r"] == pytest.approx(1 / 3)


# -------------------------------------------------------------------------- the shaper


def _run(rules: Rules, n: int = 100_000, seed: int = 1) -> tuple[Direction, list[list[float]]]:
    d = Direction("egress", rules, random.Random(seed))
    return d, [d.decide(float(i)) for i in range(n)]


def test_shaper_delays_and_jitters() -> None:
    _, out = _run(Rules(delay=0.1), n=10)
    assert out == [[i + 0.1] for i in range(10)]
    _, out = _run(Rules(delay=0.05, jitter=0.01), n=20_000)
    delays = [t[0] - i for i, t in enumerate(out)]
    mean = sum(delays) / len(delays)
    sd = (sum((x - mean) ** 2 for x in delays) / len(delays)) ** 0.5
    assert mean == pytest.approx(0.05, abs=0.0005) and sd == pytest.approx(0.01, rel=0.05)
    _, out = _run(Rules(delay=0.001, jitter=0.01), n=1000)
    assert all(t[0] >= i for i, t in enumerate(out))  # never before it arrived


def test_shaper_bursts_have_the_asked_mean_loss_and_length() -> None:
    p, r = Impairment(loss="5%", burst=4).gilbert_elliott()
    d, out = _run(Rules(burst_p=p, burst_r=r))
    lost = [not t for t in out]
    assert 100 * sum(lost) / len(lost) == pytest.approx(5.0, abs=0.5)
    bursts, run = [], 0
    for x in [*lost, False]:
        if x:
            run += 1
        elif run:
            bursts.append(run)
            run = 0
    assert sum(bursts) / len(bursts) == pytest.approx(4.0, rel=0.1)
    assert d.counts["dropped"] == sum(lost)


def test_shaper_duplicates_and_reorders() -> None:
    d, out = _run(Rules(delay=0.02, duplicate=0.1, reorder=0.2))
    copies = sum(len(t) == 2 for t in out) / len(out)
    at_once = sum(t[0] == i for i, t in enumerate(out)) / len(out)
    assert copies == pytest.approx(0.1, abs=0.01) and at_once == pytest.approx(0.2, abs=0.01)
    assert d.counts["duplicated"] == sum(len(t) == 2 for t in out)


def test_shaper_rules_from_config_ignore_the_wiring_keys() -> None:
    rules = Rules.from_config({"queue": 1, "output": "wn", "active": True, "delay": 0.2})
    assert rules == Rules(delay=0.2)
