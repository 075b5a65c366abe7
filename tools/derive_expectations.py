#!/usr/bin/env python3
"""Derive the `cells:` of the expectation tables in nattest/data/expectations/.

The tables are data: the matrix reads only the YAML. This script is how their cells were
written, so a reader can see the rule behind each one, and rerun it after changing a rule:

    python tools/derive_expectations.py            # rewrite the cells in place
    python tools/derive_expectations.py --check    # exit 1 if a table differs

Per endpoint configuration: how the other peer sees it (its type in a pair: host, srflx,
prflx) and its filtering. A direct path exists unless an address-and-port-dependent
mapping (symmetric) meets address-and-port-dependent filtering on the other side; a
udp-blocked peer only has its relay (over TCP).

- `aiortc`: aiortc nominates the first pair whose check succeeds, so a cell with a direct
  path may end on a relayed pair (rule `first-success`).
- `chromium`: libwebrtc's own answer, LIBWEBRTC_MATRIX below, for the 7×7 UDP cells; the
  udp-blocked row and column (libwebrtc's BLOCK_UDP firewall has a public address, the
  lab's udp-blocked peer sits behind a NAT) follow the lab's rule `udp-blocked`.
- `chromium+aiortc` (Chromium calls, so it nominates): libwebrtc's pair where a direct path
  exists; any relayed pair where none does (which relay ends up carrying the call depends on
  aiortc's checks).
- `aiortc+chromium` (aiortc calls and nominates): aiortc's cells.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "nattest/data/expectations"
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

LIBWEBRTC_SOURCE = (
    "signalapp/webrtc p2p/base/p2p_transport_channel_unittest.cc "
    "@ bd635df3471c6a4e1fa3a51eb6dd7b1cb49f61fd (2026-07-17), "
    "P2PTransportChannelMatrixTest::kMatrix"
)
SHORTHAND = {"L": "host", "S": "srflx", "P": "prflx", "R": "relay"}
"""kMatrix's shorthands: `SUPU` is kStunUdpToPrflxUdp, the controlling (caller's) local
candidate then the remote one as ep1_ch1 sees them (CheckCandidate1)."""
LIBWEBRTC_ROWS = {
    # OPEN   CONE    ADDR    PORT    SYMM    2CON    SCON   (libwebrtc's column order)
    "open": ["LULU", "LUSU", "LUSU", "LUSU", "LUPU", "LUSU", "LUPU"],
    "full-cone": ["SULU", "SUSU", "SUSU", "SUSU", "SUPU", "SUSU", "SUPU"],
    "restricted-cone": ["SULU", "SUSU", "SUSU", "SUSU", "SUPU", "SUSU", "SUPU"],
    "port-restricted-cone": ["SULU", "SUSU", "SUSU", "SUSU", "RUPU", "SUSU", "RUPU"],
    "symmetric": ["PULU", "PUSU", "PUSU", "PURU", "PURU", "PUSU", "PURU"],
    "double-cone": ["SULU", "SUSU", "SUSU", "SUSU", "SUPU", "SUSU", "SUPU"],
    "symmetric-then-cone": ["PULU", "PUSU", "PUSU", "PURU", "PURU", "PUSU", "PURU"],
}
"""The UDP cells of libwebrtc's kMatrix (rows: originator, columns: receiver), copied from
LIBWEBRTC_SOURCE; its configurations are the first seven of CONFIGS in the same order."""


def libwebrtc_pair(a: str, b: str) -> str:
    code = LIBWEBRTC_ROWS[a][CONFIGS.index(b)]
    return f"{SHORTHAND[code[0]]}↔{SHORTHAND[code[2]]}"


def _blocked(a: str, b: str) -> dict[str, object]:
    x, y = SEEN[a], SEEN[b]
    if a == b:
        pairs = ["relay↔relay"]
    elif a == "udp-blocked":
        pairs = [f"relay↔{y}", "relay↔relay"]
    else:
        pairs = [f"{x}↔relay", "relay↔relay"]
    return {"path": "relay", "pair": pairs, "protocol": "tcp", "rule": "udp-blocked"}


def _physics(a: str, b: str) -> dict[str, object]:
    """What RFC 4787 behaviour decides: path, rule, the direct pair and the relayed ones."""
    x, y = SEEN[a], SEEN[b]
    relayed = [f"relay↔{y}", f"{x}↔relay", "relay↔relay"]
    if (a in APDM and b in APDF) or (b in APDM and a in APDF):
        rule = "apdm-both" if a in APDM and b in APDM else "apdm-vs-apdf"
        return {"path": "relay", "pair": relayed, "protocol": "udp", "rule": rule}
    rule = "apdm-admitted" if a in APDM or b in APDM else "eim-both"
    return {"path": "direct", "direct": f"{x}↔{y}", "relayed": relayed, "rule": rule}


def aiortc_cell(a: str, b: str) -> dict[str, object]:
    """aiortc caller `a` × callee `b`, policy all: any listed pair, the direct one the RFC's."""
    if "udp-blocked" in (a, b):
        return {**_blocked(a, b), "basis": "aioice"}
    c = _physics(a, b)
    if c["path"] == "relay":
        return {**c, "basis": "aioice"}
    return {
        "path": "direct",
        "pair": [c["direct"], *c["relayed"]],  # type: ignore[list-item]
        "protocol": "udp",
        "rule": c["rule"],
        "basis": "aioice",
        "rfc_pair": c["direct"],
        "deviation_rule": "first-success",
    }


def _callee_typed_prflx(a: str, b: str, pairs: list[str]) -> list[str]:
    """A Chromium callee behind an endpoint-independent NAT, called from an open host, may
    stop gathering before its srflx exists: its first check to the caller's public host
    succeeds at once, and libwebrtc stops gathering on a strongly connected pair (field trial
    stop_gather_on_strongly_connected, on by default: P2PTransportChannel::
    OnConnectionStateChange). The caller then sees the very same NAT mapping as prflx."""
    if a == "open" and SEEN[b] == "srflx":
        return [pairs[0], "host↔prflx", *pairs[1:]]
    return pairs


def chromium_cell(a: str, b: str) -> dict[str, object]:
    """Chromium on both sides: libwebrtc's own kMatrix pair for the UDP cells."""
    if "udp-blocked" in (a, b):
        return {**_blocked(a, b), "basis": "rfc"}
    c = _physics(a, b)
    pair = libwebrtc_pair(a, b)
    assert (c["path"] == "relay") == ("relay" in pair), (a, b, pair)  # the same physics
    if c["path"] == "direct":
        pairs = _callee_typed_prflx(a, b, [pair])
        return {"path": "direct", "pair": pairs, "rule": c["rule"], "basis": "libwebrtc"}
    # No direct path: libwebrtc's pair, or the other pair with one relay leg. Both carry the
    # call through one TURN allocation; which one is writable first depends on timing, which
    # libwebrtc's virtual network fixes and a real lab does not (both seen in real runs).
    x, y = SEEN[a], SEEN[b]
    other = next(p for p in (f"relay↔{y}", f"{x}↔relay") if p != pair)
    return {**c, "pair": [pair, other], "basis": "libwebrtc"}


ADF = {"restricted-cone"}
"""Address-dependent filtering only (admits any port of an address it has sent to)."""


def chromium_aiortc_cell(a: str, b: str) -> dict[str, object]:
    """Chromium caller, aiortc callee: Chromium nominates (regular nomination)."""
    if "udp-blocked" in (a, b):
        return {**_blocked(a, b), "basis": "rfc"}
    c = _physics(a, b)
    if c["path"] == "direct" and a in ADF and b in APDM:
        c = {"path": "relay", "pair": c["relayed"], "protocol": "udp", "rule": "adf-too-late"}
    if c["path"] == "relay":
        return {**c, "basis": "rfc"}
    pair = libwebrtc_pair(a, b)
    return {"path": "direct", "pair": [pair], "rule": c["rule"], "basis": "libwebrtc"}


def _format(a: str, b: str, c: dict[str, object]) -> str:
    pairs = ", ".join(c["pair"])  # type: ignore[arg-type]
    fields = f"connect: true, path: {c['path']}, pair: [{pairs}]"
    if "protocol" in c:
        fields += f", protocol: {c['protocol']}"
    fields += f", rule: {c['rule']}, basis: {c['basis']}, confirmed: true"
    if "rfc_pair" in c:
        fields += f", rfc_pair: {c['rfc_pair']}, deviation_rule: {c['deviation_rule']}"
    return f"  {a}--{b}--all: {{{fields}}}"


def render(cell: Callable[[str, str], dict[str, object]]) -> str:
    lines = ["cells:"]
    for a in CONFIGS:
        lines.append(f"  # ---- caller: {a} " + "-" * (70 - len(a)))
        lines.extend(_format(a, b, cell(a, b)) for b in CONFIGS)
    lines.append("  # ---- relay-only row: iceTransportPolicy relay, per TURN transport ----------")
    for t in ("udp", "tcp", "tls"):
        a, b = RELAY_ROW
        lines.append(
            f"  {a}--{b}--relay-{t}: {{connect: true, path: relay, pair: [relay↔relay], "
            f"protocol: {t}, rule: relay-only, basis: rfc, confirmed: true}}"
        )
    return "\n".join(lines) + "\n"


def aiortc_chromium_cell(a: str, b: str) -> dict[str, object]:
    """aiortc caller, Chromium callee: aiortc nominates, so aiortc's cells; the callee's
    srflx may be seen as prflx (_callee_typed_prflx)."""
    c = aiortc_cell(a, b)
    return {**c, "pair": _callee_typed_prflx(a, b, c["pair"])}  # type: ignore[arg-type]


TABLES: dict[str, Callable[[str, str], dict[str, object]]] = {
    "aiortc": aiortc_cell,
    "chromium": chromium_cell,
    "chromium+aiortc": chromium_aiortc_cell,
    "aiortc+chromium": aiortc_chromium_cell,
}
"""Each packaged table and the rule writing its cells (the text above `cells:` is the
table's own: its header and rules, written by hand)."""


DOC = DATA.parents[2] / "docs/matrix.md"
DOC_START = "<!-- side-by-side: written by tools/derive_expectations.py -->\n"
DOC_END = "<!-- end of side-by-side -->\n"
WHY = {
    "direct": "[first-success](#first-success)",
    "relay": "relay↔relay",
}
"""The why column: aiortc's aggressive nomination may end on a relayed pair where a direct
one exists; where none does, aiortc may also end on both relays (see the legend)."""
PRFLX_WHY = "callee seen as prflx"


def side_by_side() -> str:
    """The docs table of cells where aiortc↔aiortc and chromium↔chromium accept other pairs."""
    rows = [
        "| cell (caller → callee) | aiortc↔aiortc may end on | chromium↔chromium ends on | why |",
        "|---|---|---|---|",
    ]
    for a in CONFIGS:
        for b in CONFIGS:
            ai, ch = aiortc_cell(a, b), chromium_cell(a, b)
            if ai["pair"] == ch["pair"]:
                continue
            why = WHY[str(ch["path"])]
            if "host↔prflx" in ch["pair"] and "host↔prflx" not in ai["pair"]:  # type: ignore[operator]
                why += f", {PRFLX_WHY}"
            rows.append(
                f"| {a} → {b} | {' or '.join(ai['pair'])} "  # type: ignore[arg-type]
                f"| {' or '.join(ch['pair'])} | {why} |"  # type: ignore[arg-type]
            )
    return DOC_START + "\n".join(rows) + "\n" + DOC_END


def _with_side_by_side(doc: str) -> str:
    head, rest = doc.split(DOC_START, 1)
    return head + side_by_side() + rest.split(DOC_END, 1)[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a table's cells differ")
    args = ap.parse_args()
    differ = []
    for name, cell in TABLES.items():
        path = DATA / f"{name}.yaml"
        text = path.read_text()
        new = text[: text.index("\ncells:\n") + 1] + render(cell)
        if new == text:
            continue
        if args.check:
            differ.append(path)
        else:
            path.write_text(new)
    doc = DOC.read_text()
    new_doc = _with_side_by_side(doc)
    if new_doc != doc:
        if args.check:
            differ.append(DOC)
        else:
            DOC.write_text(new_doc)
    for path in differ:
        print(f"{path}: differs from what tools/derive_expectations.py writes", file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
