"""What a NAT really does, as RFC 5780 sees it: coturn's ``turnutils_natdiscovery``.

A host behind the NAT runs the tool against the lab's coturn, which must listen on two
addresses (so its answers carry OTHER-ADDRESS). Its verdict lines are the words of
RFC 4787 (mapping 4.1, filtering 5, hairpinning 6)::

    NAT with Endpoint Independent Mapping!
    NAT with Address and Port Dependent Filtering!
    No NAT! (Endpoint Independent Mapping)          (needs -L <local address>)
    Received a request (maybe a successful hairpinning)

`parse_natdiscovery()` and `diff_behaviour()` are pure; `discover()` runs the tool.

Timing: the tool waits 3 s (hard-coded SO_RCVTIMEO) for each unanswered probe. Mapping
tests are always answered (≈10 ms); filtering costs 0 s (endpoint-independent), 3 s
(address-dependent) or 6 s (address-and-port-dependent); a failed hairpinning test costs
6 s. One ``-m -f -H`` run adds these up (12 s for a port-restricted NAT without
hairpinning), so `discover()` runs ``-m``, ``-f`` and ``-H`` as concurrent processes on
their own sockets: the wall time is the slowest test, ≤ 6 s.
"""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal, get_args

from pydantic import BaseModel, ConfigDict

from nattest.errors import CommandTimeout, LabError

if TYPE_CHECKING:
    from nattest.backends.base import Lab

__all__ = [
    "Filtering",
    "Mapping",
    "NatDiscoveryError",
    "NoStunAnswer",
    "Observed",
    "diff_behaviour",
    "discover",
    "parse_natdiscovery",
]

log = logging.getLogger(__name__)

Mapping = Literal["endpoint-independent", "address-dependent", "address-and-port-dependent", "none"]
"""RFC 4787 4.1 mapping behaviour; ``none`` is no NAT at all (mapped == local address)."""
Filtering = Literal["endpoint-independent", "address-dependent", "address-and-port-dependent"]
"""RFC 4787 5 filtering behaviour."""

PROBE_WAIT = 3.0
"""Seconds turnutils_natdiscovery waits for each unanswered probe (hard-coded in coturn)."""

_SECTION = re.compile(r"^-= (.+?) Behavior Discovery =-$", re.MULTILINE)
_REFLEXIVE = re.compile(r"UDP reflexive addr:? *([0-9a-fA-F.:\[\]]+:\d+)")
_NO_NAT = "No NAT! (Endpoint Independent Mapping)"
_HAIRPIN_OK = "Received a request (maybe a successful hairpinning)"
_ALG = "ALG detected! Mapped and XOR-Mapped differ!"
_MAPPINGS: dict[str, Mapping] = {
    "NAT with Endpoint Independent Mapping!": "endpoint-independent",
    "NAT with Address Dependent Mapping!": "address-dependent",
    "NAT with Address and Port Dependent Mapping!": "address-and-port-dependent",
}
_FILTERINGS: dict[str, Filtering] = {
    "NAT with Endpoint Independent Filtering!": "endpoint-independent",
    "NAT with Address Dependent Filtering!": "address-dependent",
    "NAT with Address and Port Dependent Filtering!": "address-and-port-dependent",
}


class NatDiscoveryError(LabError):
    """The NAT could not be classified: the message says why (timeout, no RFC 5780, ...)."""


class NoStunAnswer(NatDiscoveryError):
    """Nothing answered the STUN Binding requests (as behind a firewall that drops UDP)."""


class Observed(BaseModel):
    """NAT behaviour observed from one host with turnutils_natdiscovery."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mapping: Mapping | None = None
    """Mapping behaviour; None when not tested or not decidable."""
    filtering: Filtering | None = None
    """Filtering behaviour; None when not tested or not decidable."""
    hairpinning: bool | None = None
    """Did a packet to our own mapped address come back to us? None when not tested."""
    mapped_address: str | None = None
    """First server-reflexive address seen (``ip:port``)."""
    answered: bool = False
    """The STUN server answered at least one Binding request."""
    rfc5780: bool = False
    """The answers carried OTHER-ADDRESS (RFC 5780 behaviour discovery is on)."""
    alg: bool = False
    """MAPPED-ADDRESS and XOR-MAPPED-ADDRESS differed: an ALG rewrote the payload."""


def _sections(output: str) -> dict[str, str]:
    """Split the tool's output by its ``-= X Behavior Discovery =-`` headings."""
    marks = list(_SECTION.finditer(output))
    parts: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(output)
        name = mark.group(1).lower()
        parts[name] = parts.get(name, "") + output[mark.end() : end]
    return parts


def parse_natdiscovery(output: str) -> Observed:
    """Read the verdicts of one or more ``turnutils_natdiscovery`` outputs (pure)."""
    mapping: Mapping | None = None
    filtering: Filtering | None = None
    hairpinning: bool | None = None
    for name, text in _sections(output).items():
        lines = {line.strip() for line in text.splitlines()}
        if name == "mapping":
            if _NO_NAT in lines:
                mapping = "none"
            else:
                mapping = next((v for k, v in _MAPPINGS.items() if k in lines), mapping)
        elif name == "filtering":
            filtering = next((v for k, v in _FILTERINGS.items() if k in lines), filtering)
        elif name == "hairpinning":
            if _HAIRPIN_OK in lines:
                hairpinning = True
            elif _REFLEXIVE.search(text):  # the server answered, our own mapping did not
                hairpinning = False
    reflexive = _REFLEXIVE.search(output)
    return Observed(
        mapping=mapping,
        filtering=filtering,
        hairpinning=hairpinning,
        mapped_address=reflexive.group(1) if reflexive else None,
        answered=reflexive is not None,
        rfc5780="RFC 5780 response" in output,
        alg=_ALG in output,
    )


def _norm(value: str) -> str:
    return value.strip().lower().replace("_", "-").replace(" ", "-")


def diff_behaviour(
    declared_mapping: str | None,
    declared_filtering: str | None,
    declared_hairpin: bool | None,
    observed: Observed,
) -> list[str]:
    """Each declared behaviour the observation contradicts, one line each (pure).

    ``mapping: declared endpoint-independent, observed address-and-port-dependent``;
    a None declaration is not checked; an untested behaviour reads ``observed nothing``.
    """
    problems: list[str] = []
    for what, declared, seen, known in (
        ("mapping", declared_mapping, observed.mapping, get_args(Mapping)),
        ("filtering", declared_filtering, observed.filtering, get_args(Filtering)),
    ):
        if declared is None:
            continue
        want = _norm(declared)
        if want not in known:
            raise ValueError(f"{what}: unknown behaviour {declared!r} (expected one of {known})")
        if want != seen:
            problems.append(f"{what}: declared {want}, observed {seen or 'nothing'}")
    if declared_hairpin is not None and declared_hairpin != observed.hairpinning:
        seen_hp = {True: "on", False: "off", None: "nothing"}[observed.hairpinning]
        problems.append(
            f"hairpinning: declared {'on' if declared_hairpin else 'off'}, observed {seen_hp}"
        )
    return problems


def natdiscovery_argv(test: str, turn_address: str, local_address: str, port: int) -> list[str]:
    """argv of one test (``-m``, ``-f`` or ``-H``) from `local_address` to the server."""
    return ["turnutils_natdiscovery", test, "-L", local_address, "-p", str(port), turn_address]


def discover(
    lab: Lab,
    host_node: str,
    turn_address: str,
    local_address: str | None = None,
    hairpin: bool = False,
    timeout: float = 15.0,
    port: int = 3478,
) -> Observed:
    """Classify the NAT in front of `host_node` against coturn at `turn_address`.

    Mapping, filtering (and hairpinning) run as concurrent processes inside the node;
    `local_address` (default: the node's address) lets the tool see "No NAT".
    Raises NatDiscoveryError when the server never answers or lacks RFC 5780.
    """
    local = local_address or lab.address(host_node)
    tests = ["-m", "-f", *(["-H"] if hairpin else [])]
    server = f"{turn_address}:{port}"

    def run(test: str) -> str:
        argv = natdiscovery_argv(test, turn_address, local, port)
        try:
            done = lab.exec(host_node, argv, timeout=timeout, check=False)
        except CommandTimeout as exc:
            raise NatDiscoveryError(
                f"[{host_node}] turnutils_natdiscovery {test} to {server} "
                f"did not finish within {timeout} s"
            ) from exc
        # Exit status is 0 even when nothing answers (255 for -H, "Address family not
        # supported", when the first probe is unanswered): the text is the verdict.
        return done.stdout

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(tests)) as pool:
        outputs = list(pool.map(run, tests))
    observed = parse_natdiscovery("\n".join(outputs))
    elapsed = time.monotonic() - t0
    if not observed.answered:
        raise NoStunAnswer(
            f"[{host_node}] no STUN Binding answer from {server} (from {local}) "
            f"within {PROBE_WAIT} s: is coturn up and the route through the NAT in place?"
        )
    if not observed.rfc5780:
        raise NatDiscoveryError(
            f"[{host_node}] {server} answers without OTHER-ADDRESS: RFC 5780 discovery "
            "needs coturn on two addresses of one family (and no no-rfc5780)"
        )
    log.info(
        "[%s] natdiscovery: mapping %s, filtering %s, hairpinning %s (%.1f s)",
        host_node,
        observed.mapping,
        observed.filtering,
        "untested" if observed.hairpinning is None else observed.hairpinning,
        elapsed,
    )
    return observed
