"""Faults during a call: what to do to a running lab, and when (pure model and parser),
plus the actions themselves.

    faults = parse_faults(["3s:cut nat-a", "20s:restore nat-a", "1500ms:kill turn"])

A fault is ``TIME:ACTION TARGET[=VALUE]``. TIME is seconds since **the call started** (the
moment ``run_call`` launches the peers), written ``3s``, ``2.5s`` or ``1500ms``; it is the
clock of the peers' timelines too (``StateEvent.t``), so a CallResult reads in one time
line. Actions (``ACTIONS``, a registry: ``register_action`` adds one):

* ``cut NODE`` / ``cut NODE:IFACE``: the node drops every packet in and out on all its
  interfaces (or that one), as if its cables were pulled: an nftables table
  ``inet nattest_cut[_IFACE]`` in the node's namespace, hooked at priority -400 (before
  conntrack), so its NAT mappings stay as they were. ``restore NODE[:IFACE]`` deletes it.
* ``kill SERVER``: SIGKILL to the coturn of that server node, by the PID coturn wrote.
* ``flush NAT``: the NAT forgets every mapping, as a router that rebooted: its conntrack
  table is flushed (``conntrack -F`` inside its namespace, never the host's) and its
  nftables mapping map and contacted set emptied. The next packet of a flow gets a new
  mapping: the same port where the NAT preserves ports and it is free, else a new one.

* ``rebind NAT``: the NAT forgets its UDP mappings only (``conntrack -D -p udp`` and the
  mapping map and contacted set emptied), as a home router whose UDP timeout is shorter
  than its TCP one: media flows get new mappings while a signaling TCP connection lives
  on, so peers that can restart ICE (chromium) renegotiate over it.

``impair LINK=SPEC`` and ``clear LINK`` belong to the impairment engine, which registers
them (``register_action`` from a module listed in ``ACTION_MODULES``). Bad values are
UsageErrors naming the value and what is allowed (exit code 2 at the CLI).
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nattest.call.result import FaultRecord
from nattest.errors import UsageError

if TYPE_CHECKING:
    from nattest.backends.base import Lab
    from nattest.model.topology import Topology

log = logging.getLogger(__name__)

FAULT_TIMEOUT = 10.0
"""Seconds one action's commands may take before it counts as failed."""
MAX_AT = 3600.0
"""Latest time a fault may be scheduled at (seconds)."""
ACTION_MODULES: tuple[str, ...] = ("nattest.impair.actions",)
"""Modules that register more actions when imported (the impairment engine adds its own
here, for ``impair``/``clear``); imported on the first lookup of an unknown action."""

_TIME = re.compile(r"(?P<num>\d+(?:\.\d+)?)(?P<unit>ms|s)")
_FAULT = re.compile(r"(?P<at>[^:\s]+):(?P<action>[a-z-]+)\s+(?P<target>\S+)")


@dataclass(frozen=True)
class Fault:
    """One scheduled fault."""

    at: float
    """Seconds since the call started."""
    action: str
    """Action name, a key of ``ACTIONS``."""
    target: str
    """Node, `node:iface` link or server it acts on."""
    value: str | None = None
    """What follows `=` for actions that take a value (`impair LINK=SPEC`)."""

    def __str__(self) -> str:
        value = f"={self.value}" if self.value is not None else ""
        return f"{format_time(self.at)}:{self.action} {self.target}{value}"


@dataclass(frozen=True)
class Action:
    """How one action checks its target against a topology and applies itself to a lab."""

    name: str
    """What users write (`cut`)."""
    usage: str
    """`cut NODE[:IFACE]`: the form users write, for help and errors."""
    apply: Callable[[Lab, Fault], str]
    """Do it; returns what was done, in network words. Raises on failure."""
    check: Callable[[Topology, Fault], None]
    """Raise UsageError when the target does not fit the topology."""
    takes_value: bool = False
    """Whether the target carries `=VALUE`."""


ACTIONS: dict[str, Action] = {}
"""Action name → Action."""


def register_action(action: Action) -> Action:
    """Add (or replace) an action of the registry."""
    ACTIONS[action.name] = action
    return action


def _lookup(name: str, where: str) -> Action:
    if name not in ACTIONS:
        for module in ACTION_MODULES:
            importlib.import_module(module)
    if name not in ACTIONS:
        raise UsageError(f"{where}: unknown action {name!r} (actions: {action_list()})")
    return ACTIONS[name]


def action_list() -> str:
    """`cut NODE[:IFACE], restore NODE[:IFACE], ...`: every registered form."""
    return ", ".join(a.usage for a in ACTIONS.values())


def parse_time(text: str, where: str = "time") -> float:
    """`3s` → 3.0, `1500ms` → 1.5, `2.5s` → 2.5. UsageError naming the value otherwise."""
    m = _TIME.fullmatch(text.strip())
    if m is None:
        raise UsageError(
            f"{where}: time {text!r}: expected a number of seconds or milliseconds "
            "with its unit (3s, 2.5s, 1500ms)"
        )
    value = float(m["num"]) / (1000 if m["unit"] == "ms" else 1)
    if value > MAX_AT:
        raise UsageError(f"{where}: time {text!r}: at most {MAX_AT:g}s into the call")
    return value


def format_time(seconds: float) -> str:
    """The short form `parse_time` reads: `3s`, `1.5s`, `250ms`."""
    if seconds and seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def parse_fault(text: str, where: str = "--at") -> Fault:
    """One fault from `TIME:ACTION TARGET[=VALUE]` (e.g. `3s:cut nat-a`)."""
    where = f"{where} {text!r}"
    m = _FAULT.fullmatch(text.strip())
    if m is None:
        raise UsageError(
            f"{where}: expected TIME:ACTION TARGET, e.g. 3s:cut nat-a or 1500ms:kill turn "
            f"(actions: {action_list()})"
        )
    at = parse_time(m["at"], where)
    action = _lookup(m["action"], where)
    target, eq, value = m["target"].partition("=")
    if action.takes_value and (not eq or not value or not target):
        raise UsageError(f"{where}: expected {action.usage}")
    if not action.takes_value and eq:
        raise UsageError(f"{where}: {action.name} takes no value: expected {action.usage}")
    return Fault(at=at, action=action.name, target=target, value=value if eq else None)


def parse_faults(items: Iterable[str | Fault], where: str = "--at") -> tuple[Fault, ...]:
    """Faults from strings (or Faults, kept), in time order (stable for equal times)."""
    faults = [f if isinstance(f, Fault) else parse_fault(f, where) for f in items]
    return tuple(sorted(faults, key=lambda f: f.at))


def check_faults(topology: Topology, faults: Iterable[Fault]) -> None:
    """UsageError for the first fault whose target does not fit `topology`."""
    for fault in faults:
        _lookup(fault.action, f"fault '{fault}'").check(topology, fault)


# ------------------------------------------------------------------------- the actions


def _node_and_iface(topology: Topology, fault: Fault) -> tuple[str, str | None]:
    node, _, iface = fault.target.partition(":")
    if node not in topology.nodes():
        raise UsageError(
            f"fault '{fault}': no node {node!r} in {topology.name} "
            f"(nodes: {', '.join(topology.nodes())})"
        )
    if iface:
        ifaces = [a[0] for a in topology.attachments(node)]
        if iface not in ifaces:
            raise UsageError(
                f"fault '{fault}': {node} has no interface {iface!r} "
                f"(interfaces: {', '.join(dict.fromkeys(ifaces))})"
            )
    return node, iface or None


def cut_table(iface: str | None) -> str:
    """The nftables table that cuts one interface (or every one) of a node."""
    return f"nattest_cut_{iface}" if iface else "nattest_cut"


def cut_ruleset(iface: str | None) -> str:
    """The table that drops every packet in and out on `iface` (None: every interface but
    loopback). Priority -400 runs before conntrack, so no mapping is touched (pure)."""
    match_in = f'iifname "{iface}"' if iface else 'iifname != "lo"'
    match_out = f'oifname "{iface}"' if iface else 'oifname != "lo"'
    return (
        f"table inet {cut_table(iface)} {{\n"
        "  chain in {\n    type filter hook prerouting priority -400;\n"
        f"    {match_in} drop\n  }}\n"
        "  chain out {\n    type filter hook postrouting priority -400;\n"
        f"    {match_out} drop\n  }}\n"
        "  chain local {\n    type filter hook output priority -400;\n"
        f"    {match_out} drop\n  }}\n}}\n"
    )


def _what(node: str, iface: str | None) -> str:
    return f"{node}:{iface}" if iface else f"every interface of {node}"


def _cut(lab: Lab, fault: Fault) -> str:
    node, iface = _node_and_iface(lab.topology, fault)
    lab.exec(node, ["nft", "-f", "-"], input=cut_ruleset(iface), timeout=FAULT_TIMEOUT)
    return f"{_what(node, iface)} drops every packet (nft table inet {cut_table(iface)})"


def _restore(lab: Lab, fault: Fault) -> str:
    node, iface = _node_and_iface(lab.topology, fault)
    argv = ["nft", "delete", "table", "inet", cut_table(iface)]
    lab.exec(node, argv, timeout=FAULT_TIMEOUT)
    return f"{_what(node, iface)} passes packets again (nft table inet {cut_table(iface)} deleted)"


def _check_turn_server(topology: Topology, fault: Fault) -> None:
    turn = [n for n, s in topology.servers.items() if "turn" in s.services]
    if fault.target not in turn:
        raise UsageError(
            f"fault '{fault}': {fault.target!r} is not a server running TURN "
            f"(TURN servers: {', '.join(turn) or 'none'})"
        )


def _kill(lab: Lab, fault: Fault) -> str:
    pid_file = lab.workdir / "coturn" / fault.target / "turnserver.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError) as e:
        raise RuntimeError(f"no coturn PID for {fault.target} ({pid_file}: {e})") from e
    comm = lab.exec(fault.target, ["cat", f"/proc/{pid}/comm"], check=False, timeout=FAULT_TIMEOUT)
    if comm.stdout.strip() != "turnserver":
        raise RuntimeError(f"PID {pid} of {pid_file} is not a running turnserver")
    lab.exec(fault.target, ["kill", "-KILL", str(pid)], timeout=FAULT_TIMEOUT)
    return f"coturn on {fault.target} (PID {pid}) killed with SIGKILL"


def _check_nat(topology: Topology, fault: Fault) -> None:
    if fault.target not in topology.nats:
        raise UsageError(
            f"fault '{fault}': {fault.target!r} is not a NAT (NATs: "
            f"{', '.join(topology.nats) or 'none'})"
        )


def _empty_mapping_tables(lab: Lab, node: str) -> list[str]:
    """Empty the NAT's own (UDP) mapping map and contacted set, where its preset has them."""
    emptied = []
    for kind, name in (("map", "mappings"), ("set", "contacted")):
        argv = ["nft", "flush", kind, "ip", "nattest", name]
        if lab.exec(node, argv, check=False, timeout=FAULT_TIMEOUT).returncode == 0:
            emptied.append(f"nft {kind} {name} emptied")
    return emptied


def _flush(lab: Lab, fault: Fault) -> str:
    node = fault.target
    lab.exec(node, ["conntrack", "-F"], timeout=FAULT_TIMEOUT)
    flushed = ["conntrack table flushed", *_empty_mapping_tables(lab, node)]
    return f"{node} forgot its mappings: {'; '.join(flushed)}"


def _rebind(lab: Lab, fault: Fault) -> str:
    node = fault.target
    gone = lab.exec(node, ["conntrack", "-D", "-p", "udp"], check=False, timeout=FAULT_TIMEOUT)
    if gone.returncode not in (0, 1):  # 1: there was nothing to delete
        raise RuntimeError(f"conntrack -D -p udp in {node} failed: {gone.stderr.strip()}")
    forgot = ["UDP conntrack entries deleted", *_empty_mapping_tables(lab, node)]
    return f"{node} forgot its UDP mappings (TCP kept): {'; '.join(forgot)}"


def _check_node(topology: Topology, fault: Fault) -> None:
    _node_and_iface(topology, fault)


for _action in (
    Action("cut", "cut NODE[:IFACE]", _cut, _check_node),
    Action("restore", "restore NODE[:IFACE]", _restore, _check_node),
    Action("kill", "kill TURN-SERVER", _kill, _check_turn_server),
    Action("flush", "flush NAT", _flush, _check_nat),
    Action("rebind", "rebind NAT", _rebind, _check_nat),
):
    register_action(_action)


# -------------------------------------------------------------------- running them


class FaultRunner:
    """Applies faults to a lab on a thread, each at its time since `clock0` (a
    ``time.monotonic()`` value: the call's start). ``stop()`` ends it at once and returns
    every fault's record: applied, error (with the reason) or skipped. Never raises."""

    def __init__(self, lab: Lab, faults: Iterable[Fault], clock0: float) -> None:
        self.lab = lab
        """The lab the faults act on."""
        self.clock0 = clock0
        """CLOCK_MONOTONIC seconds of the call's start."""
        self.records = [
            FaultRecord(at=f.at, spec=str(f), action=f.action, target=f.target) for f in faults
        ]
        """One record per fault, filled in as they are applied."""
        self._faults = list(faults)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="nattest-faults", daemon=True)

    def start(self) -> FaultRunner:
        """Start the timer thread (nothing to do without faults)."""
        if self._faults:
            self._thread.start()
        return self

    def _run(self) -> None:
        for i, fault in enumerate(self._faults):
            if self._stop.wait(max(self.clock0 + fault.at - time.monotonic(), 0)):
                return
            t = round(time.monotonic() - self.clock0, 4)
            try:
                detail, outcome = ACTIONS[fault.action].apply(self.lab, fault), "applied"
            except Exception as exc:  # reported in the record, never raised
                detail, outcome = f"{type(exc).__name__}: {exc}", "error"
            log.info("fault %s at %.3f s: %s: %s", fault, t, outcome, detail)
            with self._lock:
                self.records[i] = self.records[i].model_copy(
                    update={"t": t, "outcome": outcome, "detail": detail}
                )

    def stop(self) -> list[FaultRecord]:
        """Stop applying faults; the records (faults not reached yet: skipped)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(FAULT_TIMEOUT + 1.0)
        with self._lock:
            records = list(self.records)
        for i, r in enumerate(records):
            if r.t is None and not r.detail:
                why = "still running" if self._thread.is_alive() else "the call ended first"
                records[i] = r.model_copy(update={"detail": why})
        return records


__all__ = [
    "ACTIONS",
    "ACTION_MODULES",
    "Action",
    "Fault",
    "FaultRunner",
    "action_list",
    "check_faults",
    "cut_ruleset",
    "format_time",
    "parse_fault",
    "parse_faults",
    "parse_time",
    "register_action",
]
