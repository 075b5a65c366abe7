"""pytest plugin (entry point `pytest11`): write NAT scenarios in a few lines.

    def test_symmetric_needs_relay(nattest_lab):
        lab = nattest_lab("topologies/symmetric.yaml")
        ...

Options (group `nattest`, with ini fallbacks): `--nattest-keep-lab`, `--nattest-backend`.
Labs get unique names per xdist worker and are always torn down (unless kept). A test that
needs root on a machine without it fails with the reason: a lab scenario never passes empty.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nattest.backends.base import Lab
from nattest.result import CallResult
from nattest.topology import Topology, load_topology

_counter = itertools.count()


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
        choices=["netns"],
        help="how labs are realised (default: netns; the only backend so far)",
    )
    parser.addini("nattest_keep_lab", "leave labs up after tests", type="bool", default=False)
    parser.addini("nattest_backend", "lab backend (netns)", default="netns")


def _opt(config: pytest.Config, name: str) -> object:
    value = config.getoption(f"--nattest-{name.replace('_', '-')}")
    return config.getini(f"nattest_{name}") if value is None else value


def pytest_configure(config: pytest.Config) -> None:
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
        f"nattest: backend={_opt(config, 'backend')} keep-lab={_opt(config, 'keep_lab')} ({root})"
    ]


def lab_name_for(worker: str) -> str:
    """A short unique lab name for this process (`t-gw1-7`)."""
    return f"t-{worker}-{os.getpid() % 1000}-{next(_counter)}"[:16].rstrip("-")


@pytest.fixture
def nattest_lab(request: pytest.FixtureRequest) -> Iterator[Callable[..., Lab]]:
    """A factory: `nattest_lab(topology_or_path, services=True) -> Lab`.

    Every lab it made is torn down after the test (unless --nattest-keep-lab)."""
    from nattest.lab import build_lab

    if os.geteuid() != 0:
        pytest.fail("nattest lab scenarios need root (network namespaces, nftables)")
    keep = bool(_opt(request.config, "keep_lab"))
    backend = str(_opt(request.config, "backend"))
    worker = getattr(request.config, "workerinput", {}).get("workerid", "m")
    labs: list[Lab] = []

    def make(topology: Topology | str | Path, *, services: bool = True) -> Lab:
        topo = topology if isinstance(topology, Topology) else load_topology(topology)
        lab = build_lab(topo, lab_name_for(worker), services=services, backend=backend)
        labs.append(lab)
        return lab

    try:
        yield make
    finally:
        if not keep:
            for lab in labs:
                lab.down()


@pytest.fixture
def nattest_call(nattest_lab: Callable[..., Lab]) -> Callable[..., CallResult]:
    """A factory: `nattest_call(topology_or_path, policy=..., turn_transport=..., ...)`.

    Builds the lab, runs one real call between its peers, tears the lab down, returns
    the CallResult. Keyword arguments are CallSpec fields; a peer behind a UDP-blocking
    firewall gets TURN over TCP unless `peer_transports` says otherwise.
    """
    from nattest.call import CallSpec, run_call, tcp_turn_overrides

    def call(topology: Topology | str | Path, **spec: Any) -> CallResult:
        lab = nattest_lab(topology)
        if "peer_transports" not in spec:
            spec["peer_transports"] = tcp_turn_overrides(
                lab.topology, spec.get("turn_transport", "udp")
            )
        result = run_call(lab, CallSpec(**spec))
        lab.down()
        return result

    return call


def describe(call: CallResult) -> str:
    """The call summary, for assertion messages: `assert ok, describe(call)`."""
    from nattest.peer import summary

    return summary(call)
