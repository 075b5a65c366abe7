"""Names of the matrix's cells and pairs: `symmetric--port-restricted-cone--all`, `srflx↔prflx`.

Pure string helpers shared by the expectation table, the verdicts and the reports.
"""

from __future__ import annotations

from typing import Literal, get_args

from nattest.call.result import CandidateType, Policy, Transport

PAIR_SEP = "↔"
"""Separator of the local and remote candidate types in a pair (`srflx↔prflx`)."""
CELL_SEP = "--"
"""Separator of the parts of a cell id (`symmetric--port-restricted-cone--all`)."""

PathKind = Literal["direct", "relay"]
_TYPES: tuple[str, ...] = get_args(CandidateType)
_TRANSPORTS: tuple[str, ...] = get_args(Transport)


def cell_id(
    caller: str, callee: str, policy: Policy = "all", transport: Transport | None = None
) -> str:
    """`symmetric--port-restricted-cone--all`, or `...--relay-tcp` for the relay-only row."""
    if policy == "relay":
        if transport is None:
            raise ValueError("cell_id: policy relay needs the TURN transport")
        return CELL_SEP.join((caller, callee, f"relay-{transport}"))
    return CELL_SEP.join((caller, callee, policy))


def parse_cell_id(cell: str) -> tuple[str, str, Policy, Transport | None]:
    """(caller, callee, policy, transport) of a cell id; ValueError when malformed."""
    parts = cell.split(CELL_SEP)
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"cell id {cell!r} is not caller--callee--policy")
    caller, callee, pol = parts
    if pol == "all":
        return caller, callee, "all", None
    transport = pol.removeprefix("relay-")
    if pol.startswith("relay-") and transport in _TRANSPORTS:
        return caller, callee, "relay", transport  # type: ignore[return-value]
    raise ValueError(f"cell id {cell!r}: policy part {pol!r} is not all or relay-udp|tcp|tls")


def pair_types(pair: str) -> tuple[str, str]:
    """(local, remote) of `srflx↔prflx`; ValueError when it is not two candidate types."""
    local, sep, remote = pair.partition(PAIR_SEP)
    if not sep or local not in _TYPES or remote not in _TYPES:
        raise ValueError(
            f"pair {pair!r} is not <local>{PAIR_SEP}<remote> with types {', '.join(_TYPES)}"
        )
    return local, remote


def path_of(pair: str) -> PathKind:
    """`relay` when either side of the pair is a relay candidate, else `direct`."""
    return "relay" if "relay" in pair_types(pair) else "direct"


__all__ = ["CELL_SEP", "PAIR_SEP", "PathKind", "cell_id", "pair_types", "parse_cell_id", "path_of"]
