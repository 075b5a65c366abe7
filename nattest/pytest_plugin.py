"""pytest plugin (entry point `pytest11`): write NAT scenarios in a few lines.

    def test_symmetric_needs_relay(nattest_lab):
        lab = nattest_lab("topologies/symmetric.yaml")
        ...

Fixtures: `nattest_lab`, `nattest_call`, `nattest_strict`, `turn_check` (validate a TURN
deployment from CI). Options (group `nattest`, with ini fallbacks): `--nattest-keep-lab`,
`--nattest-backend` (default: $NATTEST_BACKEND, else netns), `--nattest-strict` (a matrix
cell that deviates, working on another pair than a standard agent selects, fails instead of
warning: ``judge_cell``), `--nattest-capture` (a pcap per node of every lab: tcpdump in
each namespace), `--nattest-results` (default `results`). A test that fails keeps its labs'
evidence (pcaps when captured, peer logs, CallResult, rulesets, repro.sh, the failure) in
`<results>/<test id>/`; a passing one keeps nothing. Labs get unique names per xdist worker
and are always torn down (unless kept), then checked for leftovers: a namespace, link,
container, process or folder of the lab still there fails the test. A test that cannot run
here (no root, no such backend) fails with the reason: a lab scenario never passes empty.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from nattest.backends.base import Lab
from nattest.call.result import CallResult
from nattest.model.load import load_topology
from nattest.model.topology import Topology

if TYPE_CHECKING:
    from nattest.evidence.session import TestEvidence
    from nattest.matrix.verdict import MatrixCell

_FAILURE = pytest.StashKey[str]()
"""A test's failure text, set when one of its phases failed (its evidence is kept)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nattest", "nattest NAT lab")
    group.addoption(
        "--nattest-keep-lab",
        action="store_true",
        default=None,
        help="leave each test's lab up after the test (inspect with `nattest status`)",
    )
    group.addoption(
        "--nattest-backend",
        default=None,
        help="how labs are realised (default: $NATTEST_BACKEND, else netns; "
        "`nattest plugins` lists the backends)",
    )
    group.addoption(
        "--nattest-strict",
        action="store_true",
        default=None,
        help="matrix cells that deviate (work, but not on the pair a standard agent selects) "
        "fail instead of warning",
    )
    group.addoption(
        "--nattest-capture",
        action="store_true",
        default=None,
        help="record a pcap per node of every lab (tcpdump in each lab namespace); a failing "
        "test keeps them with its other evidence",
    )
    group.addoption(
        "--nattest-results",
        default=None,
        help="where failing tests keep their evidence, one folder per test (default: results)",
    )
    parser.addini("nattest_keep_lab", "leave labs up after tests", type="bool", default=False)
    parser.addini("nattest_capture", "a pcap per lab node", type="bool", default=False)
    parser.addini("nattest_results", "folder of failing tests' evidence", default="results")
    parser.addini("nattest_strict", "deviating matrix cells fail", type="bool", default=False)
    parser.addini("nattest_backend", "lab backend (default: $NATTEST_BACKEND, else netns)")


def _opt(config: pytest.Config, name: str) -> object:
    value = config.getoption(f"--nattest-{name.replace('_', '-')}")
    return config.getini(f"nattest_{name}") if value is None else value


def backend_of(config: pytest.Config) -> str:
    """The backend this run builds its labs with (`--nattest-backend`, ini, environment)."""
    from nattest.backends import default_name

    return str(_opt(config, "backend") or default_name())


def pytest_configure(config: pytest.Config) -> None:
    from nattest.backends import available

    backend = backend_of(config)
    if backend not in available():
        raise pytest.UsageError(
            f"--nattest-backend {backend!r}: not available (available: {', '.join(available())})"
        )
    for marker in (
        "netns: needs root and network namespaces (real kernel lab)",
        "docker: needs a running Docker engine",
        "browser: needs headless Chromium",
        "slow: takes more than a few seconds",
    ):
        config.addinivalue_line("markers", marker)


def pytest_report_header(config: pytest.Config) -> list[str]:
    root = "root" if os.geteuid() == 0 else "NOT root: lab tests will fail"
    return [
        f"nattest: backend={backend_of(config)} keep-lab={_opt(config, 'keep_lab')} "
        f"capture={bool(_opt(config, 'capture'))} results={_results(config)} ({root})"
    ]


def _results(config: pytest.Config) -> Path:
    """The evidence folder, relative to where pytest was started."""
    return config.invocation_params.dir / str(_opt(config, "results") or "results")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Note a failed phase on the item: the fixtures' teardown keeps the evidence then."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        previous = item.stash.get(_FAILURE, "")
        item.stash[_FAILURE] = (previous + "\n\n" if previous else "") + report.longreprtext


@pytest.fixture
def nattest_evidence(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> TestEvidence:
    """This test's labs and their evidence (captures, what a failure keeps): shared by
    `nattest_lab` and `nattest_call`."""
    from nattest.errors import UsageError
    from nattest.evidence.capture import check_capture
    from nattest.evidence.keep import EvidenceOptions
    from nattest.evidence.session import TestEvidence

    options = EvidenceOptions(
        results=_results(request.config), capture=bool(_opt(request.config, "capture"))
    )
    if options.capture:
        try:
            check_capture()
        except UsageError as e:
            pytest.fail(f"--nattest-capture: {e}", pytrace=False)
    return TestEvidence(
        options, request.node.nodeid, lambda: tmp_path_factory.mktemp("nattest-evidence")
    )


def lab_name_for(worker: str) -> str:
    """A fresh lab name for a test on this xdist worker (`t-gw1-k3f9a`)."""
    from nattest.backends.records import new_lab_name

    return new_lab_name(f"t-{worker}")


def check_no_leftovers(lab: Lab) -> None:
    """Fail the test when anything of a torn-down lab is still there."""
    left = lab.leftovers()
    if left:
        pytest.fail(f"lab {lab.name} left behind: " + "; ".join(left), pytrace=False)


@pytest.fixture
def nattest_lab(
    request: pytest.FixtureRequest, nattest_evidence: TestEvidence
) -> Iterator[Callable[..., Lab]]:
    """A factory: `nattest_lab(topology_or_path, services=True) -> Lab`.

    Every lab it made is captured with --nattest-capture, keeps its evidence when the test
    fails, is torn down after the test (unless --nattest-keep-lab) and checked for
    leftovers."""
    from nattest.backends import get_backend
    from nattest.errors import UsageError
    from nattest.lab import build_lab

    keep = bool(_opt(request.config, "keep_lab"))
    backend = backend_of(request.config)
    try:
        get_backend(backend).check()
    except UsageError as e:
        pytest.fail(f"nattest lab scenarios cannot run here: {e}", pytrace=False)
    worker = getattr(request.config, "workerinput", {}).get("workerid", "m")
    labs: list[Lab] = []

    def make(topology: Topology | str | Path, *, services: bool = True) -> Lab:
        topo = topology if isinstance(topology, Topology) else load_topology(topology)
        lab = build_lab(topo, lab_name_for(worker), services=services, backend=backend)
        labs.append(lab)
        nattest_evidence.started(lab)
        return lab

    try:
        yield make
    finally:
        failure = request.node.stash.get(_FAILURE, "")
        try:
            nattest_evidence.finish(bool(failure), failure)  # before the labs go down
        finally:
            if not keep:
                for lab in labs:
                    lab.down()
                for lab in labs:
                    check_no_leftovers(lab)


@pytest.fixture
def nattest_call(
    nattest_lab: Callable[..., Lab],
    nattest_evidence: TestEvidence,
    request: pytest.FixtureRequest,
) -> Callable[..., CallResult]:
    """A factory: `nattest_call(topology_or_path, policy=..., turn_transport=..., ...)`.

    Builds the lab, runs one real call between its peers, sets its evidence aside (kept if
    the test fails), tears the lab down, returns the CallResult. Keyword arguments are
    CallSpec fields (peer kinds included: `caller_kind="aiortc"`); a peer behind a
    UDP-blocking firewall gets TURN over TCP unless `peer_transports` says otherwise.
    """
    from nattest.call.run import peer_kinds, run_call, warm_peers
    from nattest.call.spec import CallSpec

    backend = backend_of(request.config)

    def call(topology: Topology | str | Path, **spec: Any) -> CallResult:
        call_spec = CallSpec(**spec)
        warm_peers(peer_kinds(call_spec), backend)  # an unknown kind fails before a lab
        lab = nattest_lab(topology)
        try:
            try:
                result = run_call(lab, call_spec)
            except Exception as e:
                nattest_evidence.stage(lab, error=f"{type(e).__name__}: {e}")
                raise
            nattest_evidence.stage(lab, call=result)  # kept if the test fails later
            return result
        finally:
            lab.down()

    return call


@pytest.fixture
def turn_check() -> Callable[..., Any]:
    """A factory: `turn_check(urls, user=..., password=..., secret=..., transports=...,
    ca=..., insecure=..., resolve_pins=..., timeout=..., call=..., expect_ok=True)`.

    Runs `nattest check-turn` from this machine and returns the TurnReport; with
    `expect_ok` (the default) a failing transport fails the test with the report's
    diagnoses, so a team keeps its TURN deployment checked in CI::

        def test_our_turn(turn_check):
            turn_check(["turns:turn.example.com"], user="ci", password=os.environ["TURN_PW"])
    """
    from nattest.checks.turn import check_turn

    def run(urls: list[str], *, expect_ok: bool = True, **options: Any) -> Any:
        report = check_turn(urls, **options)
        if expect_ok and not report.ok:
            pytest.fail(describe_turn(report), pytrace=False)
        return report

    return run


def describe_turn(report: Any) -> str:
    """A TurnReport as plain text (each transport's stages and diagnoses)."""
    lines = []
    for c in report.checks:
        lines.append(f"{'✔' if c.ok else '✘'} {c.url} ({c.server or 'unresolved'})")
        for step in c.steps:
            lines.append(f"    {'✔' if step.ok else '✘'} {step.step}: {step.detail}")
        for d in c.diagnoses:
            lines.append(f"    problem [{d.id}]: {d.problem}\n    fix: {d.fix}")
    for d in report.diagnoses:
        lines.append(f"problem [{d.id}]: {d.problem}\nfix: {d.fix}")
    return "\n".join(lines)


class NattestDeviation(UserWarning):
    """A matrix cell works, but its stack selected another pair than a standard agent."""


@pytest.fixture
def nattest_strict(request: pytest.FixtureRequest) -> bool:
    """Whether deviations fail (`--nattest-strict` / ini `nattest_strict`)."""
    return bool(_opt(request.config, "strict"))


def judge_cell(cell: MatrixCell, strict: bool = False, details: str = "") -> None:
    """The pytest form of a cell's verdict: pass when as expected; warn (NattestDeviation)
    on a deviation, or fail when `strict`; fail when it differs. `details` goes under the
    reason of a failure."""
    import warnings

    if cell.ok:
        return
    message = f"{cell.verdict}: {cell.id}: {cell.why}"
    if cell.evidence is not None:
        message += f"\nevidence: {cell.evidence.folder.rstrip('/')}/"
    if cell.deviation and not strict:
        warnings.warn(NattestDeviation(message), stacklevel=2)
        return
    pytest.fail(message + (f"\n{details}" if details else ""), pytrace=False)


def describe(call: CallResult) -> str:
    """The call summary, for assertion messages: `assert ok, describe(call)`."""
    from nattest.report.call import summary

    return summary(call)
