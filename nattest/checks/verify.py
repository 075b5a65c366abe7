"""`nattest verify-nat`: check every NAT of a lab against its declaration, RFC 5780 style.

For each NAT with hosts on its LAN, coturn's `turnutils_natdiscovery` runs from the first
such host against the lab's TURN node (two addresses, so OTHER-ADDRESS is there). What a
host sees is the whole chain in front of it (a home NAT behind a CGN), so the declaration
it is checked against is the chain's composite: the most dependent mapping and the most
restrictive filtering of the chain (RFC 4787 4.1, 5). NATs are checked concurrently.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from nattest.backends.base import Lab
from nattest.checks.natdiscovery import NoStunAnswer, Observed, diff_behaviour, discover
from nattest.errors import NattestError, UsageError
from nattest.model.nat import composite
from nattest.model.topology import Topology


@dataclass
class Declared:
    """What a host should observe through its chain of NATs."""

    mapping: str
    """`none` (no translation) or an RFC 4787 mapping."""
    filtering: str | None
    """RFC 4787 filtering, None when there is no NAT."""
    hairpinning: bool | None
    """Checked only where declared on (a failed hairpin probe costs 6 s)."""
    udp_blocked: bool = False
    """A firewall drops UDP: nothing should answer."""

    def text(self) -> str:
        """`endpoint-independent mapping, address-dependent filtering`."""
        if self.udp_blocked:
            return "UDP blocked"
        if self.mapping == "none":
            return "no NAT"
        hp = ", hairpinning" if self.hairpinning else ""
        return f"{self.mapping} mapping, {self.filtering} filtering{hp}"


@dataclass
class NatReport:
    """The verdict for one NAT (chain)."""

    nat: str
    """NAT checked (the one the host sits behind)."""
    host: str
    """Host the probes ran from."""
    chain: list[str]
    """NATs between the host and the internet."""
    declared: Declared
    """Composite declaration."""
    observed: Observed
    """What natdiscovery saw."""
    diff: list[str] = field(default_factory=list)
    """Mismatches, one line each; empty when the NAT behaves as declared."""
    error: str | None = None
    """Why the NAT could not be classified (the discovery's own message), if it could not."""

    @property
    def ok(self) -> bool:
        """No mismatch."""
        return not self.diff

    def observed_text(self) -> str:
        """Short form of the observation."""
        o = self.observed
        if not o.answered:
            return "no STUN answer"
        if o.mapping == "none":
            return "no NAT"
        hp = "" if o.hairpinning is None else f", hairpinning {'on' if o.hairpinning else 'off'}"
        return f"{o.mapping} mapping, {o.filtering} filtering{hp}"

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "nat": self.nat,
            "host": self.host,
            "chain": self.chain,
            "declared": self.declared.text(),
            "observed": self.observed_text(),
            "ok": self.ok,
            "diff": self.diff,
            "error": self.error,
        }


def declared_for(t: Topology, host: str) -> Declared:
    """Composite behaviour of the NAT chain in front of `host` (pure)."""
    behaviours = [t.nats[n].nat for n in t.behind(host)]
    blocked = t.blocks_udp(host)
    effective = composite(behaviours)
    if effective is None:
        return Declared("none", None, None, blocked)
    nats = [b for b in behaviours if b is not None]
    hairpin = True if len(nats) == 1 and nats[0].hairpinning else None
    return Declared(effective[0].value, effective[1].value, hairpin, blocked)


def verify_lab(lab: Lab, timeout: float = 20.0) -> list[NatReport]:
    """Check every NAT that has hosts on its LAN. UsageError without a TURN/STUN node."""
    t = lab.topology
    turn = t.server_with("turn") or t.server_with("stun")
    if turn is None or len(t.servers[turn].addresses) < 2:
        raise UsageError(
            f"{t.name}: verify-nat needs a TURN/STUN server with two addresses (RFC 5780)"
        )
    turn_address = str(t.servers[turn].addresses[0])
    jobs: list[tuple[str, str]] = []
    for name, nat in t.nats.items():
        hosts = [h for h, spec in t.hosts.items() if spec.network == nat.lan.network]
        if hosts:
            jobs.append((name, hosts[0]))

    def one(job: tuple[str, str]) -> NatReport:
        name, host = job
        want = declared_for(t, host)
        chain = t.behind(host)
        try:
            seen = discover(
                lab, host, turn_address, hairpin=bool(want.hairpinning), timeout=timeout
            )
        except NoStunAnswer as e:
            # what a UDP-blocking firewall must cause; anything else is a finding
            diff = [] if want.udp_blocked else [f"{e} (declared {want.text()})"]
            return NatReport(name, host, chain, want, Observed(answered=False), diff, str(e))
        except NattestError as e:  # a timeout, no RFC 5780, a missing tool: say which
            return NatReport(name, host, chain, want, Observed(), [str(e)], str(e))
        if want.udp_blocked:
            diff = ["declared UDP blocked, but STUN answered"]
        else:
            diff = diff_behaviour(want.mapping, want.filtering, want.hairpinning, seen)
        return NatReport(name, host, chain, want, seen, diff)

    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        return list(pool.map(one, jobs))
