"""Run the connectivity matrix: every ordered pair of endpoint configurations, one real call.

Each cell builds its own standard two-peer lab (``model.configs.pair_topology``), runs one
call, tears the lab down and is judged (``verdict.evaluate``) against the expectation table
of its peer kinds. Cells run concurrently: labs are isolated by their unique names, and a
cell's work is mostly waiting on its peer processes. An interrupt (Ctrl-C, SIGTERM) cancels
the queued cells and stops the running ones at once: their peers are killed, labs torn down.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from nattest.backends import get_backend
from nattest.backends.base import Lab
from nattest.call.result import CallResult, Policy
from nattest.call.run import run_call
from nattest.call.spec import CallSpec
from nattest.errors import Cancelled, NattestError, UsageError
from nattest.evidence.capture import Capture, start_capture
from nattest.evidence.keep import EvidenceOptions, add_file, discard, keep_evidence
from nattest.evidence.model import Evidence
from nattest.lab import build_lab
from nattest.matrix.expectations import Expectation, Expectations, load_expectations, table_name
from nattest.matrix.shard import cost
from nattest.matrix.verdict import (
    MachineInfo,
    MatrixCell,
    MatrixResult,
    ShardInfo,
    call_timings,
    evaluate,
)
from nattest.model.configs import check_config, pair_topology
from nattest.model.topology import Topology
from nattest.peers import get_peer_kind
from nattest.services import SIGNALING_MODULE

log = logging.getLogger("nattest.matrix")

LAB_STEM = "mx"
"""Stem of the cells' lab names (`mx-k3f9a`)."""


@dataclass(frozen=True)
class MatrixOptions:
    """How to run the cells."""

    duration: float = 0.5
    """Seconds of media per call (enough for frames and data-channel echoes)."""
    connect_timeout: float = 20.0
    """Seconds from a peer's start to connected. A UDP-blocked peer's gathering waits out
    aioice's STUN timeout (≈5 s), and with two of them the answer comes ≈10 s in."""
    jobs: int | None = None
    """Cells running at once; None: the peer kinds' ``matrix_jobs`` (12 for aiortc: a cell
    mostly waits, on its peers, on a udp-blocked peer's STUN timeout, so more cells than
    cores keep the cores busy; 3 with a browser on a side), at most the backend's (6 on
    docker)."""
    video_size: str | None = "320x240"
    """Synthetic video per call: smaller than the peer's 640x480 default, because 67 calls
    encode and decode VP8 on two cores; the path and the media verdicts are the same."""
    caller_kind: str = "aiortc"
    """Peer kind of every caller."""
    callee_kind: str = "aiortc"
    """Peer kind of every callee."""
    backend: str | None = None
    """Backend of the cells' labs (default: ``nattest.backends.default_name()``)."""
    impairments: tuple[str, ...] = ()
    """`LINK=OPTIONS` impairments applied to every cell's lab (`alice=delay:50ms`; see
    ``nattest.model.impair``): the matrix on bad links."""
    evidence: EvidenceOptions | None = None
    """Capture each cell (``capture``) and keep a failing cell's evidence in
    `<results>/<cell id>/`; None keeps nothing."""

    def cells_at_once(self) -> int:
        """`jobs`, or the smallest ``matrix_jobs`` of the two peer kinds and the backend."""
        if self.jobs is not None:
            return max(1, self.jobs)
        kinds = [get_peer_kind(k).matrix_jobs for k in (self.caller_kind, self.callee_kind)]
        cap = get_backend(self.backend).matrix_jobs
        return min([*kinds, cap] if cap is not None else kinds)

    def table(self) -> Expectations:
        """The expectation table judging these peer kinds."""
        return load_expectations(table_name(self.caller_kind, self.callee_kind))


def plan_cells(
    table: Expectations,
    configs: Iterable[str] | None = None,
    policies: Iterable[Policy] = ("all", "relay"),
) -> list[Expectation]:
    """The cells to run: configs × configs for policy all, the relay-only row for relay."""
    chosen = [check_config(c) for c in configs] if configs else list(table.configs)
    wanted = set(policies)
    unknown = wanted - {"all", "relay"}
    if unknown:
        raise UsageError(f"unknown policy {sorted(unknown)[0]!r} (expected all or relay)")
    cells: list[Expectation] = []
    if "all" in wanted:
        cells += [table.get(a, b) for a in chosen for b in chosen]
    if "relay" in wanted:
        cells += [e for e in table.relay_row() if e.caller in chosen and e.callee in chosen]
    if not cells:
        raise UsageError(
            "no cells to run: the relay-only row uses "
            + ", ".join(sorted({e.caller for e in table.relay_row()}))
        )
    return cells


def cell_spec(exp: Expectation, opts: MatrixOptions) -> CallSpec:
    """CallSpec of a cell (a udp-blocked peer reaches TURN over TCP when the cell uses UDP:
    ``CallSpec.resolved``)."""
    return CallSpec(
        policy=exp.policy,
        turn_transport=exp.turn_transport or "udp",
        duration=opts.duration,
        connect_timeout=opts.connect_timeout,
        video_size=opts.video_size,
        caller_kind=opts.caller_kind,
        callee_kind=opts.callee_kind,
    )


def cell_topology(exp: Expectation, opts: MatrixOptions) -> Topology:
    """The lab of one cell: its pair topology with the run's impairments (UsageError for
    a bad one or a link the pair lab does not have)."""
    from nattest.model.impair import parse_link_impairment

    topology = pair_topology(exp.caller, exp.callee)
    for arg in opts.impairments:
        link, imp = parse_link_impairment(arg)
        topology = topology.with_impairment(link, imp)
    return topology


def impairment_summary(opts: MatrixOptions) -> dict[str, str]:
    """Link → what its impairment does, for reports (pure)."""
    from nattest.model.impair import parse_link_impairment

    return {
        link: imp.describe() for link, imp in (parse_link_impairment(a) for a in opts.impairments)
    }


def run_cell(
    exp: Expectation, opts: MatrixOptions, cancel: threading.Event | None = None
) -> MatrixCell:
    """Build the cell's lab, run its call, tear the lab down, judge the result.

    With ``opts.evidence`` the lab is captured (``capture``) and a cell that differs keeps
    its evidence (``nattest.evidence.keep``) in `<results>/<cell id>/` before its lab goes.
    With `cancel` set (before or during the call) the cell stops and raises Cancelled."""
    cancel = cancel or threading.Event()
    if cancel.is_set():
        raise Cancelled(f"cell {exp.id} cancelled")
    t0 = time.perf_counter()
    try:
        topology = cell_topology(exp, opts)
        lab = build_lab(topology, stem=LAB_STEM, backend=opts.backend)
    except NattestError as e:
        return evaluate(exp, error=str(e))
    t_setup = time.perf_counter()
    result: CallResult | None = None
    error: str | None = None
    evidence: Evidence | None = None
    capture: Capture | None = None
    try:
        try:
            if opts.evidence is not None and opts.evidence.capture:
                capture = start_capture(lab)
            if cancel.is_set():
                raise Cancelled(f"cell {exp.id} cancelled")
            result = run_call(lab, cell_spec(exp, opts), cancel=cancel)
        except Cancelled:
            raise
        except NattestError as e:
            error = str(e)
        finally:
            t_call = time.perf_counter()
        if opts.evidence is not None:
            evidence = _keep(lab, exp, opts.evidence, result, error, capture)
    finally:
        if capture is not None:
            capture.stop()
        lab.down()
    if error is not None:
        return _with_evidence(evaluate(exp, error=error, lab=lab.name), evidence)
    assert result is not None
    t_end = time.perf_counter()
    timings = call_timings(result, total=t_end - t0)
    timings.update(
        lab_setup=round(t_setup - t0, 4),
        call=round(t_call - t_setup, 4),
        teardown=round(t_end - t_call, 4),
    )
    return _with_evidence(evaluate(exp, result, timings=timings, lab=lab.name), evidence)


def _keep(
    lab: Lab,
    exp: Expectation,
    opts: EvidenceOptions,
    result: CallResult | None,
    error: str | None,
    capture: Capture | None,
) -> Evidence | None:
    """The cell's evidence, kept while its lab is up, when the cell fails (it differs, or
    deviates under ``opts.strict``); None when it passes or the folder cannot be written."""
    judged = evaluate(exp, result, error=error)
    try:
        if judged.passed(opts.strict):
            discard(opts.folder(exp.id))
            return None
        return keep_evidence(lab, opts.folder(exp.id), call=result, error=error, capture=capture)
    except OSError as e:
        log.warning("cell %s: cannot keep its evidence in %s: %s", exp.id, opts.results, e)
        return None


def _with_evidence(cell: MatrixCell, evidence: Evidence | None) -> MatrixCell:
    """The cell with its evidence folder, its verdict written there as `cell.json`."""
    if evidence is None:
        return cell
    try:
        kept = add_file(Path(evidence.folder), "cell.json", cell.to_json() + "\n")
    except OSError as e:
        log.warning("cell %s: cannot write cell.json: %s", cell.id, e)
        kept = evidence
    return cell.model_copy(update={"evidence": kept})


def run_matrix(
    cells: list[Expectation],
    opts: MatrixOptions | None = None,
    table: Expectations | None = None,
    on_done: Callable[[MatrixCell], None] | None = None,
    shard: ShardInfo | None = None,
) -> MatrixResult:
    """Run every cell, `opts.cells_at_once()` at a time; `on_done` is called as each
    finishes; `shard` says which part of a larger plan `cells` are (recorded in the result).

        On an interrupt (KeyboardInterrupt, also SIGTERM under ``terminate_as_interrupt``)
        queued cells are dropped, running ones stopped, every lab torn down; then it re-raises."""
    opts = opts or MatrixOptions()
    backend = get_backend(opts.backend)
    backend.check()  # fail once, not once per cell
    kinds = {get_peer_kind(kind) for kind in (opts.caller_kind, opts.callee_kind)}
    for kind in kinds:
        kind.check()
    backend.warm(sorted({SIGNALING_MODULE, *(m for k in kinds for m in k.python_modules)}))
    table = table or opts.table()
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    done: dict[str, MatrixCell] = {}
    cancel = threading.Event()
    pool = ThreadPoolExecutor(max_workers=opts.cells_at_once(), thread_name_prefix="cell")
    futures: list[Future[MatrixCell]] = []
    try:
        # longest first: a udp-blocked peer waits out aioice's STUN timeout (≈5 s) before
        # it offers or answers; started last, those cells would be the run's tail
        longest_first = sorted(cells, key=lambda e: -cost(e))
        futures += [pool.submit(run_cell, exp, opts, cancel) for exp in longest_first]
        for fut in as_completed(futures):
            cell = fut.result()
            done[cell.id] = cell
            if on_done is not None:
                on_done(cell)
    except BaseException:
        cancel.set()  # running cells kill their peers and tear their labs down
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if cancel.is_set():
            _report_unseen_errors(futures)
    grid = table.configs_used(cells)
    return MatrixResult(
        cells=[done[e.id] for e in cells],
        configs=grid,
        started=started,
        wall_time=round(time.perf_counter() - t0, 3),
        machine=MachineInfo.here(coturn=_coturn_version()),
        caller_kind=opts.caller_kind,
        callee_kind=opts.callee_kind,
        table=table_name(opts.caller_kind, opts.callee_kind),
        rules=dict(table.rules),
        shard=shard,
        impairments=impairment_summary(opts),
    )


def _report_unseen_errors(futures: list[Future[MatrixCell]]) -> None:
    """After an interrupt nobody reads the stopped cells' futures: say what failed in
    them (a teardown that failed leaves a lab for ``nattest down --all``), not silently."""
    for fut in futures:
        if fut.done() and not fut.cancelled():
            e = fut.exception()
            if e is not None and not isinstance(e, Cancelled):
                log.error("a stopped cell failed: %s: %s", type(e).__name__, e)


def _coturn_version() -> str:
    try:
        out = subprocess.run(["turnserver", "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (
        (out.stdout or out.stderr).strip().splitlines()[0]
        if (out.stdout or out.stderr)
        else "unknown"
    )


__all__ = ["MatrixOptions", "cell_spec", "plan_cells", "run_cell", "run_matrix"]
