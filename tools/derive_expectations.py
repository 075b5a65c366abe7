#!/usr/bin/env python3
"""Derive the `cells:` of nattest/data/expectations/aiortc.yaml from RFC 4787 behaviour.

The table is data: the matrix reads only the YAML. This script is how its cells were
written, so a reader can see the rule behind each one, and rerun it after changing a rule:

    python tools/derive_expectations.py            # rewrite the cells in place
    python tools/derive_expectations.py --check    # exit 1 if the YAML differs

Per endpoint configuration: how the other peer sees it (its type in a pair: host, srflx,
prflx) and its filtering. A direct path exists unless an address-and-port-dependent
mapping (symmetric) meets address-and-port-dependent filtering on the other side; a
udp-blocked peer only has its relay (over TCP). aiortc nominates the first pair whose
check succeeds, so a cell with a direct path may end on a relayed pair (see the rules).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TABLE = Path(__file__).resolve().parents[1] / "nattest/data/expectations/aiortc.yaml"
CONFIGS = [
    "open",
    "full-cone",
    "restricted-cone",
    "port-restricted-cone",
    "symmetric",
    "double-cone",
    "symmetric-then-cone",
    "udp-blocked",
]
SEEN = {
    "open": "host",
    "full-cone": "srflx",
    "restricted-cone": "srflx",
    "port-restricted-cone": "srflx",
    "symmetric": "prflx",
    "double-cone": "srflx",
    "symmetric-then-cone": "prflx",
    "udp-blocked": "relay",
}
"""How the other peer sees this side: its address is the host's (no NAT), the STUN-learned
mapping (endpoint-independent mapping: srflx) or a new one per destination (prflx)."""
APDM = {"symmetric", "symmetric-then-cone"}
APDF = {"port-restricted-cone", "symmetric", "symmetric-then-cone", "udp-blocked"}
RELAY_ROW = ("port-restricted-cone", "port-restricted-cone")


def cell(a: str, b: str) -> dict[str, object]:
    """The expectation of caller `a` × callee `b` with policy all."""
    x, y = SEEN[a], SEEN[b]
    if "udp-blocked" in (a, b):
        if a == b:
            pairs = ["relay↔relay"]
        elif a == "udp-blocked":
            pairs = [f"relay↔{y}", "relay↔relay"]
        else:
            pairs = [f"{x}↔relay", "relay↔relay"]
        return {"path": "relay", "pair": pairs, "protocol": "tcp", "rule": "udp-blocked"}
    relayed = [f"relay↔{y}", f"{x}↔relay", "relay↔relay"]
    if (a in APDM and b in APDF) or (b in APDM and a in APDF):
        rule = "apdm-both" if a in APDM and b in APDM else "apdm-vs-apdf"
        return {"path": "relay", "pair": relayed, "protocol": "udp", "rule": rule}
    rule = "apdm-admitted" if a in APDM or b in APDM else "eim-both"
    return {
        "path": "direct",
        "pair": [f"{x}↔{y}", *relayed],
        "protocol": "udp",
        "rule": rule,
        "rfc_pair": f"{x}↔{y}",
    }


def render() -> str:
    lines = ["cells:"]
    for a in CONFIGS:
        lines.append(f"  # ---- caller: {a} " + "-" * (70 - len(a)))
        for b in CONFIGS:
            c = cell(a, b)
            pairs = ", ".join(c["pair"])  # type: ignore[arg-type]
            extra = ""
            if "rfc_pair" in c:
                extra = f", rfc_pair: {c['rfc_pair']}, deviation_rule: first-success"
            lines.append(
                f"  {a}--{b}--all: {{connect: true, path: {c['path']}, pair: [{pairs}], "
                f"protocol: {c['protocol']}, rule: {c['rule']}, basis: aioice, "
                f"confirmed: true{extra}}}"
            )
    lines.append("  # ---- relay-only row: iceTransportPolicy relay, per TURN transport ----------")
    for t in ("udp", "tcp", "tls"):
        a, b = RELAY_ROW
        lines.append(
            f"  {a}--{b}--relay-{t}: {{connect: true, path: relay, pair: [relay↔relay], "
            f"protocol: {t}, rule: relay-only, basis: rfc, confirmed: true}}"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the YAML's cells differ")
    args = ap.parse_args()
    text = TABLE.read_text()
    head = text[: text.index("\ncells:\n") + 1]
    new = head + render()
    if args.check:
        if new != text:
            print(f"{TABLE}: cells differ from tools/derive_expectations.py", file=sys.stderr)
            return 1
        return 0
    TABLE.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
