"""The verdicts of a matrix run: one MatrixCell per call, a MatrixResult for the run.

``evaluate()`` is the one place that decides a cell's verdict: as expected, deviation or
differs. Pure data with JSON round-trips (``MatrixResult.model_validate_json(text)``); field
names are camelCase in JSON, like the CallResults they carry (webrtc-internals style); the
``timings`` keys are ``lab_setup``, ``gathering``, ``connecting``, ``media`` (from the peers'
timelines), ``call`` (the call's wall time, peer start to exit), ``teardown`` and ``total``
(seconds). Renderers (``nattest.report``) read these and nothing else.
"""

from __future__ import annotations

import os
import platform
import socket
from datetime import datetime
from importlib import metadata
from typing import Any, Literal

from pydantic import Field, computed_field, model_validator

from nattest.call.result import CallResult, PeerResult, Policy, Transport
from nattest.evidence.model import Evidence
from nattest.matrix.cells import cell_id
from nattest.matrix.expectations import Expectation
from nattest.model.base import Model

TIMING_KEYS = ("lab_setup", "gathering", "connecting", "media", "call", "teardown", "total")
"""Keys of `MatrixCell.timings`, in the order reports show them."""

Status = Literal["ok", "deviation", "mismatch", "error", "missing"]
"""ok: as expected; deviation: works, but the stack selected another pair than a standard
agent; mismatch: differs; error: the lab or call could not run; missing: no data."""
Verdict = Literal["as expected", "deviation", "differs"]
"""The three verdicts reports show: mismatch, error and missing all *differ*."""
VERDICTS: tuple[Verdict, ...] = ("as expected", "deviation", "differs")
STATUSES: tuple[Status, ...] = ("ok", "deviation", "mismatch", "error", "missing")
SYMBOLS: dict[Status, str] = {
    "ok": "✔",
    "deviation": "~",
    "mismatch": "✘",
    "error": "✘",
    "missing": "·",
}
"""Verdict symbol per status, for every report: it survives a log without colour."""


class MachineInfo(Model):
    """Where the matrix ran."""

    hostname: str = ""
    """Host name of the machine."""
    system: str = ""
    """Kernel and architecture, e.g. `Linux 6.1.0-18-amd64 x86_64`."""
    python: str = ""
    """Python version."""
    cpus: int | None = None
    """Number of CPUs."""
    versions: dict[str, str] = Field(default_factory=dict)
    """Versions of the software under test (nattest, aiortc, aioice, coturn, ...)."""

    @classmethod
    def here(cls, **versions: str) -> MachineInfo:
        """This machine, with the installed nattest/aiortc/aioice versions plus `versions`."""
        found: dict[str, str] = {}
        for dist in ("nattest", "aiortc", "aioice"):
            try:
                found[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
        uname = platform.uname()
        return cls(
            hostname=socket.gethostname(),
            system=f"{uname.system} {uname.release} {uname.machine}",
            python=platform.python_version(),
            cpus=os.cpu_count(),
            versions={**found, **versions},
        )

    def label(self) -> str:
        """`host · Linux 6.1 x86_64 · Python 3.11.2 · aiortc 1.16.0 · aioice 0.13.0`."""
        parts = [self.hostname, self.system, f"Python {self.python}" if self.python else ""]
        parts += [f"{k} {v}" for k, v in self.versions.items()]
        return " · ".join(p for p in parts if p)


class MatrixCell(Model):
    """One cell of the matrix: what was expected, what happened, and the verdict."""

    caller: str
    """Endpoint configuration of the caller."""
    callee: str
    """Endpoint configuration of the callee."""
    policy: Policy = "all"
    """iceTransportPolicy of the call."""
    turn_transport: Transport | None = None
    """TURN transport of the relay-only row; None for policy all."""
    expectation: Expectation
    """The table's entry for this cell."""
    result: CallResult | None = None
    """The call, when it ran."""
    error: str | None = None
    """Why the cell could not run (lab failed to build, peer crashed), in network words."""
    ok: bool = False
    """As expected: the call did what the expectation says, media flowed, and it selected
    the pair a standard agent selects."""
    deviation: bool = False
    """Connected, media flowed, the path is right, but this stack selected another pair than
    a standard agent (RFC 8445, libwebrtc) would, e.g. a relay while a direct pair
    succeeded; `why` says which pair and names the rule."""
    why: str = ""
    """Why the cell is not as expected (empty when it is)."""
    timings: dict[str, float] = Field(default_factory=dict)
    """Seconds per phase: lab_setup, gathering, connecting, media, total."""
    lab: str | None = None
    """Name of the lab the cell ran in (its files were in /run/nattest/<lab>/)."""
    evidence: Evidence | None = None
    """Where a failing cell kept its pcaps, peer logs, CallResult and repro.sh
    (`results/<cell id>/`); None for a passing cell or a run that kept nothing."""

    @property
    def id(self) -> str:
        """The cell id, `symmetric--port-restricted-cone--all`."""
        return cell_id(self.caller, self.callee, self.policy, self.turn_transport)

    @property
    def status(self) -> Status:
        """ok, deviation, mismatch, error or missing."""
        if self.ok:
            return "ok"
        if self.deviation:
            return "deviation"
        if self.error is not None:
            return "error"
        return "missing" if self.result is None else "mismatch"

    @model_validator(mode="before")
    @classmethod
    def _derived_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and "verdict" in data:  # written for readers, derived here
            data = {k: v for k, v in data.items() if k != "verdict"}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verdict(self) -> Verdict:
        """as expected, deviation or differs (also in the JSON, for machines)."""
        status = self.status
        return (
            "as expected" if status == "ok" else "deviation" if status == "deviation" else "differs"
        )

    def passed(self, strict: bool = False) -> bool:
        """As expected, or a deviation unless `strict`."""
        return self.ok or (self.deviation and not strict)

    @property
    def observed(self) -> str:
        """What the grid shows: the caller's selected pair, `FAILED`, `ERROR` or `-`."""
        if self.error is not None:
            return "ERROR"
        if self.result is None:
            return "-"
        pair = self.result.selected_pair
        if not self.result.connected:
            return "FAILED"
        return pair.short() if pair is not None else "no pair"

    @property
    def path(self) -> str | None:
        """direct or relay, as observed (None when the call did not connect)."""
        if self.result is None or not self.result.connected or not self.result.selected_pair:
            return None
        return "relay" if "relay" in self.observed else "direct"


def _media_problem(peer: PeerResult) -> str:
    m = peer.media
    return (
        f"{peer.name} decoded {m.audio_frames} audio / {m.video_frames} video frames, "
        f"{m.data_echoed}/{m.data_sent} data-channel messages echoed"
    )


def evaluate(
    expectation: Expectation,
    result: CallResult | None = None,
    error: str | None = None,
    timings: dict[str, float] | None = None,
    lab: str | None = None,
) -> MatrixCell:
    """A MatrixCell with its verdict: as expected when the expectation matches, media flowed
    (if connected) and the standard pair was selected; a deviation when only the last fails."""
    ok, deviation, why = False, False, ""
    if error is not None:
        why = f"lab error: {error}"
    elif result is None:
        why = "not run"
    else:
        ok, why = expectation.matches(result)
        if ok and result.connected and not result.media_ok:
            bad = [p for p in (result.caller, result.callee) if not p.media.ok]
            ok = False
            problems = "; ".join(map(_media_problem, bad))
            why = f"connected as expected, but media did not flow: {problems}"
        if ok and (departs := expectation.deviation(result, result.caller.kind)) is not None:
            ok, deviation, why = False, True, departs
    if timings is None:
        timings = call_timings(result) if result is not None else {}
    return MatrixCell(
        caller=expectation.caller,
        callee=expectation.callee,
        policy=expectation.policy,
        turn_transport=expectation.turn_transport,
        expectation=expectation,
        result=result,
        error=error,
        ok=ok,
        deviation=deviation,
        why=why,
        timings=timings,
        lab=lab,
    )


def _event_time(peer: PeerResult, machine: str, states: tuple[str, ...]) -> float | None:
    for e in peer.timeline:
        if e.machine == machine and e.state in states:
            return e.t
    return None


def call_timings(call: CallResult, total: float | None = None) -> dict[str, float]:
    """Best-effort phase durations of a call, from its timelines (seconds).

    gathering: `iceGathering` gathering → complete, the slower peer; connecting: offer to
    ICE connected (`time_to_connected`), the slower peer; media: ICE connected to the end of
    the caller's run; total: `total`, else lab setup + the longer peer run.
    """
    out: dict[str, float] = {}
    if call.lab_setup is not None:
        out["lab_setup"] = call.lab_setup
    peers = (call.caller, call.callee)
    gathering = []
    for p in peers:
        start = _event_time(p, "iceGathering", ("gathering",))
        end = _event_time(p, "iceGathering", ("complete",))
        if start is not None and end is not None:
            gathering.append(end - start)
    if gathering:
        out["gathering"] = max(gathering)
    connecting = [p.time_to_connected for p in peers if p.time_to_connected is not None]
    if connecting:
        out["connecting"] = max(connecting)
    connected = _event_time(call.caller, "iceConnection", ("connected", "completed"))
    if connected is not None and call.caller.call_duration is not None:
        out["media"] = max(call.caller.call_duration - connected, 0.0)
    runs = [p.call_duration for p in peers if p.call_duration is not None]
    if total is not None:
        out["total"] = total
    elif runs:
        out["total"] = (call.lab_setup or 0.0) + max(runs)
    return {k: round(v, 4) for k, v in out.items()}


class ShardInfo(Model):
    """Which part of a sharded run this is (``nattest matrix --shard K/N``)."""

    index: int
    """K: this shard, 1-based."""
    of: int
    """N: the number of shards."""
    planned: list[str]
    """Ids of every cell of the whole (unsharded) plan, in plan order."""


class MatrixResult(Model):
    """One run of the matrix."""

    cells: list[MatrixCell]
    """Every cell that was planned, in run order."""
    configs: list[str] = Field(default_factory=list)
    """Endpoint configurations in grid order (rows = caller, columns = callee)."""
    started: datetime
    """When the run started."""
    wall_time: float
    """Seconds the whole run took."""
    machine: MachineInfo = Field(default_factory=MachineInfo)
    """Where it ran."""
    caller_kind: str = "aiortc"
    """Peer kind of every caller."""
    callee_kind: str = "aiortc"
    """Peer kind of every callee."""
    table: str = "aiortc"
    """Name of the expectation table the cells were judged against."""
    rules: dict[str, str] = Field(default_factory=dict)
    """That table's rules (rule id → reasoning), for reports."""
    shard: ShardInfo | None = None
    """Set when this run is one shard of a larger plan (`nattest report merge` joins them)."""
    impairments: dict[str, str] = Field(default_factory=dict)
    """Links impaired in every cell's lab (`alice` → `delay 50ms`); empty: clean links."""

    def impairment_line(self) -> str:
        """`impaired links: alice delay 50ms; nat-alice:wan loss 2%`, or "" on clean links."""
        if not self.impairments:
            return ""
        return "impaired links: " + "; ".join(f"{k} {v}" for k, v in self.impairments.items())

    def grid_configs(self) -> list[str]:
        """Row/column order: `configs`, else the order configurations appear in the cells."""
        if self.configs:
            return list(self.configs)
        seen: dict[str, None] = {}
        for c in self.cells:
            if c.policy == "all":
                seen.setdefault(c.caller)
                seen.setdefault(c.callee)
        return list(seen)

    def cell(
        self,
        caller: str,
        callee: str,
        policy: Policy = "all",
        transport: Transport | None = None,
    ) -> MatrixCell | None:
        """The cell with this id, None when it was not part of the run."""
        wanted = cell_id(caller, callee, policy, transport)
        return next((c for c in self.cells if c.id == wanted), None)

    def relay_row(self) -> list[MatrixCell]:
        """The relay-only cells."""
        return [c for c in self.cells if c.policy == "relay"]

    def not_ok(self) -> list[MatrixCell]:
        """Cells that are not as expected (deviations included)."""
        return [c for c in self.cells if not c.ok]

    def failures(self, strict: bool = False) -> list[MatrixCell]:
        """Cells that fail the run: those that differ, and deviations too when `strict`."""
        return [c for c in self.cells if not c.passed(strict)]

    def counts(self) -> dict[Status, int]:
        """Number of cells per status."""
        out: dict[Status, int] = dict.fromkeys(STATUSES, 0)
        for c in self.cells:
            out[c.status] += 1
        return out

    def verdict_counts(self) -> dict[Verdict, int]:
        """Number of cells per verdict."""
        out: dict[Verdict, int] = dict.fromkeys(VERDICTS, 0)
        for c in self.cells:
            out[c.verdict] += 1
        return out

    def summary_line(self) -> str:
        """`59/67 as expected, 7 deviations, 1 differs (1 lab error) · 41.2 s`."""
        n, v = self.counts(), self.verdict_counts()
        plural = {"deviation": "deviations", "differs": "differ"}
        parts = [f"{v['as expected']}/{len(self.cells)} as expected"]
        for key in ("deviation", "differs"):
            parts.append(f"{v[key]} {key if v[key] == 1 else plural[key]}")
        within = [f"{n['error']} lab error{'s' if n['error'] > 1 else ''}"] if n["error"] else []
        within += [f"{n['missing']} not run"] if n["missing"] else []
        if within:
            parts[-1] += f" ({', '.join(within)})"
        return ", ".join(parts) + f" · {self.wall_time:.1f} s"
