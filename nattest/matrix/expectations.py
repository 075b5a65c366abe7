"""The connectivity matrix's expectations: which path and pair each cell must take.

The tables are data (``nattest/data/expectations/<table>.yaml``, one per peer kind), one
entry per cell: every ordered pair of the endpoint configurations with
``iceTransportPolicy`` ``all``, plus the relay-only row (policy ``relay`` over TURN udp,
tcp and tls). Loading validates a table and names file,
field and reason on error::

    table = load_expectations("aiortc")           # keyed by peer kind: table_name(a, b)
    exp = table.get("symmetric", "port-restricted-cone")
    ok, why = exp.matches(call)

Pairs are written from the caller's point of view, like libwebrtc's getStats reports the
selected pair: ``<local type>↔<remote type>`` (RFC 8445 candidate types). The reasoning
behind each rule is in ``docs/matrix.md``. Pure: reading the package data is the only I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from nattest.call.result import CallResult, Candidate, Policy, Transport
from nattest.errors import FileFieldError, UsageError
from nattest.matrix.cells import PathKind, cell_id, pair_types, parse_cell_id, path_of
from nattest.model.base import Model
from nattest.model.yamlfile import parse_yaml, read_yaml

DATA_DIR = "expectations"
"""Folder of the tables in the package data (`nattest/data/expectations/<name>.yaml`)."""
DEFAULT_TABLE = "aiortc"
"""The table of aiortc peers on both sides."""

Basis = Literal["rfc", "aioice", "libwebrtc"]
"""Where a cell's pair comes from: RFC 4787/8445 alone; aioice's check timing (the listed
relayed pairs it may nominate); libwebrtc's own connectivity matrix (its unit test)."""


class ExpectationsError(FileFieldError):
    """The expectation table failed validation: `file: field: reason`."""


class Expectation(Model):
    """What one cell of the matrix must do."""

    caller: str
    """Endpoint configuration of the caller (offerer, controlling agent)."""
    callee: str
    """Endpoint configuration of the callee."""
    policy: Policy = "all"
    """iceTransportPolicy of both peers."""
    turn_transport: Transport | None = None
    """Relay-only row: the TURN transport of both peers; None for policy all."""
    connect: bool
    """Does the call connect at all."""
    path: PathKind | None = None
    """direct or relay (a TURN relay carries the media); None when it must not connect."""
    pair: list[str] = Field(default_factory=list)
    """Acceptable selected pairs, caller's view (`srflx↔prflx`); usually exactly one."""
    protocol: Transport | None = None
    """Relay paths: transport to the TURN server of the relay leg the call needs."""
    rule: str
    """Id of the rule (kind of cell) this entry follows; see `Expectations.rules`."""
    basis: Basis = "rfc"
    """rfc: follows from RFC 4787/8445 alone; aioice: depends on aioice's check timing;
    libwebrtc: the pair libwebrtc's own matrix test expects (Chromium nominating)."""
    confirmed: bool = False
    """True once a real run of the matrix agreed with this entry."""
    rfc_pair: str | None = None
    """The pair a standard agent selects (RFC 8445 regular nomination, libwebrtc) where
    this stack may end elsewhere; a call on another listed pair is a *deviation*."""
    deviation_rule: str | None = None
    """Id of the rule naming the stack behaviour behind such a deviation (`first-success`);
    a table must give one wherever it gives `rfc_pair`."""
    note: str | None = None
    """Anything a reader of a failing cell should know."""

    @field_validator("pair", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("pair", "rfc_pair")
    @classmethod
    def _pair_syntax(cls, value: Any) -> Any:
        for p in [value] if isinstance(value, str) else value or []:
            pair_types(p)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Expectation:
        if not self.connect:
            if self.path or self.pair or self.protocol:
                raise ValueError("a cell that must not connect has no path, pair or protocol")
            return self
        if self.path is None or not self.pair:
            raise ValueError("a cell that connects needs `path` and `pair`")
        for p in self.pair:
            if self.path == "relay" and path_of(p) == "direct":
                raise ValueError(f"pair {p} is direct, but the cell needs a relay")
            if path_of(p) != self.path and self.basis != "aioice":
                raise ValueError(
                    f"pair {p} is not a {self.path} path (only `basis: aioice` cells may "
                    "list relayed pairs aioice's first-success nomination can end on)"
                )
        relayed = any(path_of(p) == "relay" for p in self.pair)
        if relayed and self.protocol is None:
            raise ValueError("a cell whose pairs include a relay needs `protocol`")
        if not relayed and self.protocol is not None:
            raise ValueError("`protocol` is for cells whose pairs include a relay")
        if len(set(self.pair)) != len(self.pair):
            raise ValueError("repeated pair")
        if self.deviation_rule is not None and self.rfc_pair is None:
            raise ValueError("`deviation_rule` needs the `rfc_pair` it departs from")
        if self.rfc_pair is not None and self.rfc_pair not in self.pair:
            raise ValueError(f"rfc_pair {self.rfc_pair} is not one of the listed pairs")
        return self

    @property
    def id(self) -> str:
        """The cell id."""
        return cell_id(self.caller, self.callee, self.policy, self.turn_transport)

    def describe(self) -> str:
        """`srflx↔prflx (direct path)`, `relay↔prflx or relay↔relay (relay over udp)`."""
        if not self.connect:
            return "no connection"
        via = "direct path" if self.path == "direct" else f"relay over {self.protocol}"
        return f"{' or '.join(self.pair)} ({via})"

    def matches(self, call: CallResult) -> tuple[bool, str]:
        """(True, "") when the call did what this cell expects, else (False, why)."""
        if call.policy != self.policy:
            return False, f"call ran with policy {call.policy}, the cell is policy {self.policy}"
        if not self.connect:
            if call.connected:
                got = call.selected_pair.short() if call.selected_pair else "an unknown pair"
                return False, f"expected no connection, connected via {got}"
            return True, ""
        if not call.connected:
            reason = call.caller.reason or call.callee.reason or "no reason given"
            return False, f"expected {self.describe()}, the call failed: {reason}"
        pair = call.selected_pair
        if pair is None:
            return False, f"expected {self.describe()}, connected but no selected pair reported"
        got = pair.short()
        # The path is judged on the valid list (every pair whose check succeeded), which
        # is deterministic; the nominated pair depends on which check completed first.
        if self.path == "direct" and not call.direct_path:
            return False, (
                f"expected a working direct path, but no direct pair succeeded "
                f"(selected {got}; valid: {valid_text(call)})"
            )
        if self.path == "relay" and call.direct_path:
            return False, (
                f"expected no direct path (a relay is needed), but a direct pair succeeded "
                f"(valid: {valid_text(call)}): is a NAT more permissive than declared?"
            )
        if got not in self.pair:
            return False, f"expected {self.describe()}, got {got}"
        if path_of(got) == "relay" and self.protocol is not None:
            used = relay_protocols(call)
            # relay-only: both peers' relays use the cell's transport; otherwise the
            # relayed side(s) of the pair must include it
            if (self.policy == "relay" and used != {self.protocol}) or self.protocol not in used:
                seen = ", ".join(sorted(used)) or "unknown"
                return False, f"expected the relay leg over {self.protocol}, got {seen} ({got})"
        return True, ""

    def deviation(self, call: CallResult, kind: str = "this stack") -> str | None:
        """For a call that `matches`: None when it selected what a standard agent selects,
        else what `kind` did instead, the standard pair and the rule naming why."""
        pair = call.selected_pair
        if self.rfc_pair is None or pair is None or pair.short() == self.rfc_pair:
            return None
        got = pair.short()
        if path_of(got) == "direct":  # the same direct path, a side typed otherwise (a
            return None  # srflx seen as prflx): no relay paid for, nothing to flag
        return (
            f"{kind} selected {got}, a relayed pair, although a direct pair succeeded; a standard "
            f"agent (RFC 8445, libwebrtc) selects {self.rfc_pair} (rule {self.deviation_rule})"
        )


def valid_text(call: CallResult) -> str:
    """`caller: host↔srflx, host↔relay; callee: ...` for failure messages."""
    parts = []
    for peer in (call.caller, call.callee):
        pairs = ", ".join(sorted({p.short() for p in peer.valid_pairs})) or "none"
        parts.append(f"{peer.name}: {pairs}")
    return "; ".join(parts)


def relay_protocols(call: CallResult) -> set[str]:
    """TURN transports of the relay candidates on the selected pair, as either peer saw them.

    SDP does not carry a relay candidate's transport, so a peer knows it for its own relay
    candidates only: a relay on the pair is looked up among both peers' local candidates
    (the peers' own selected pairs may differ from each other under aggressive nomination).
    """
    own = {
        (c.address, c.port): c.relay_protocol
        for peer in (call.caller, call.callee)
        for c in peer.local_candidates
        if _is_relay(c) and c.relay_protocol
    }
    out: set[str] = set()
    for sp in (call.selected_pair, call.caller.selected_pair, call.callee.selected_pair):
        if sp is None:
            continue
        for c in (sp.local, sp.remote):
            protocol = c.relay_protocol or own.get((c.address, c.port))
            if _is_relay(c) and protocol:
                out.add(protocol)
    return out


def _is_relay(c: Candidate) -> bool:
    return c.type == "relay"


class Expectations(Model):
    """The whole table: configurations, rules and one entry per cell."""

    version: Literal[1]
    """Format version of the table."""
    configs: list[str]
    """Endpoint configurations, in the order of the grid's rows and columns."""
    rules: dict[str, str]
    """Rule id → the reasoning behind every cell of that kind."""
    cells: list[Expectation]
    """One entry per cell: configs × configs with policy all, then the relay-only row."""

    def get(
        self,
        caller: str,
        callee: str,
        policy: Policy = "all",
        transport: Transport | None = None,
    ) -> Expectation:
        """The entry of one cell; KeyError naming the cell when there is none."""
        return self[cell_id(caller, callee, policy, transport)]

    def __getitem__(self, cell: str) -> Expectation:
        for e in self.cells:
            if e.id == cell:
                return e
        raise KeyError(f"no expectation for cell {cell}")

    def grid(self) -> list[Expectation]:
        """The policy-all cells, caller-major in `configs` order."""
        return [self.get(a, b) for a in self.configs for b in self.configs]

    def configs_used(self, cells: Iterable[Expectation | Any]) -> list[str]:
        """The configurations any of `cells` (anything with caller/callee) uses, in grid
        order."""
        used = {c for cell in cells for c in (cell.caller, cell.callee)}
        return [c for c in self.configs if c in used]

    def relay_row(self) -> list[Expectation]:
        """The relay-only cells, in file order."""
        return [e for e in self.cells if e.policy == "relay"]

    def rule_text(self, exp: Expectation) -> str:
        """The reasoning of an entry's rule."""
        return self.rules.get(exp.rule, "")


def _cells_from_mapping(data: dict[str, Any], source: str) -> list[dict[str, Any]]:
    cells = data.get("cells")
    if not isinstance(cells, dict):
        raise ExpectationsError(source, "cells", "a mapping of cell id → entry is required")
    out = []
    for key, entry in cells.items():
        try:
            caller, callee, policy, transport = parse_cell_id(str(key))
        except ValueError as e:
            raise ExpectationsError(source, f"cells.{key}", str(e)) from None
        if not isinstance(entry, dict):
            raise ExpectationsError(source, f"cells.{key}", "an entry must be a mapping")
        out.append(
            {
                **entry,
                "caller": caller,
                "callee": callee,
                "policy": policy,
                "turn_transport": transport,
            }
        )
    return out


def _field(source_keys: list[str], loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "cells" and isinstance(loc[1], int):
        rest = "".join(f".{p}" for p in loc[2:])
        return f"cells.{source_keys[loc[1]]}{rest}"
    return ".".join(str(p) for p in loc)


def parse_expectations(data: Any, source: str) -> Expectations:
    """Validate already-parsed YAML data. Raises ExpectationsError."""
    if not isinstance(data, dict):
        raise ExpectationsError(source, "", "the table must be a YAML mapping")
    cells = _cells_from_mapping(data, source)
    keys = [str(k) for k in data["cells"]]
    try:
        table = Expectations.model_validate({**data, "cells": cells})
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        reason = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown field"
        raise ExpectationsError(source, _field(keys, err["loc"]), reason) from None
    _check_table(table, source, keys)
    return table


def _check_table(table: Expectations, source: str, keys: list[str]) -> None:
    """Cross-checks: known configs and rules, every grid cell present exactly once."""
    known = set(table.configs)
    if len(known) != len(table.configs):
        raise ExpectationsError(source, "configs", "a configuration is listed twice")
    for key, e in zip(keys, table.cells, strict=True):
        for role, name in (("caller", e.caller), ("callee", e.callee)):
            if name not in known:
                raise ExpectationsError(
                    source,
                    f"cells.{key}",
                    f"unknown {role} configuration {name!r} (expected one of "
                    f"{', '.join(table.configs)})",
                )
        if e.rfc_pair is not None and e.deviation_rule is None:
            raise ExpectationsError(
                source,
                f"cells.{key}",
                "a cell with `rfc_pair` needs `deviation_rule`: the rule naming why this "
                "stack may select another pair",
            )
        for field, rule in (("rule", e.rule), ("deviation_rule", e.deviation_rule)):
            if rule is not None and rule not in table.rules:
                raise ExpectationsError(
                    source,
                    f"cells.{key}.{field}",
                    f"unknown rule {rule!r} (expected one of {', '.join(table.rules)})",
                )
    for a in table.configs:
        for b in table.configs:
            if cell_id(a, b) not in keys:
                raise ExpectationsError(source, "cells", f"no entry for cell {cell_id(a, b)}")


def table_name(caller_kind: str, callee_kind: str) -> str:
    """The table judging a pair of peer kinds: the kind's own when both sides are the same
    kind (`aiortc`), else `<caller>+<callee>` (a derived table of that mixed pair)."""
    from nattest.peers import get_peer_kind

    caller, callee = get_peer_kind(caller_kind), get_peer_kind(callee_kind)
    if caller.expectations == callee.expectations:
        return caller.expectations
    return f"{caller.expectations}+{callee.expectations}"


def packaged_tables() -> list[str]:
    """Names of the tables shipped in the package."""
    folder = resources.files("nattest") / "data" / DATA_DIR
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_expectations(name: str = DEFAULT_TABLE, *, path: str | Path | None = None) -> Expectations:
    """Read and validate a table: the packaged one called `name`, or the file at `path`."""
    if path is not None:
        return parse_expectations(read_yaml(path, ExpectationsError), str(path))
    ref = resources.files("nattest") / "data" / DATA_DIR / f"{name}.yaml"
    if not ref.is_file():
        raise UsageError(
            f"no expectation table {name!r} (packaged: {', '.join(packaged_tables())}): "
            f"add nattest/data/{DATA_DIR}/{name}.yaml"
        )
    source = f"nattest/data/{DATA_DIR}/{name}.yaml"
    return parse_expectations(
        parse_yaml(ref.read_text(encoding="utf-8"), source, ExpectationsError), source
    )
