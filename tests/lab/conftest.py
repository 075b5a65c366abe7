"""Lab tests: real namespaces, real kernel NAT. Every test module here is marked `netns`.

The `lab_name` fixture gives each test a fresh lab name and, after the test, fails it when
anything of that lab is left: a namespace, a link in the host namespace, a process of the
lab (in its namespaces or carrying its NATTEST_LAB marker) or its folder.
"""

from __future__ import annotations

import fcntl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nattest.backends.netns import namespaces
from nattest.backends.netns.cleanup import leftovers
from nattest.pytest_plugin import backend_of

TOPOLOGIES = Path(__file__).parents[2] / "topologies"
LAB_LINK_NAMES = {"wan", "lan", "eth0", "br0", "wn", "wb", *(f"p{i}" for i in range(64))}
"""Names a lab gives its interfaces (inside its namespaces, never the host's)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.netns)


def host_state() -> dict[str, str]:
    """What a lab must never change in the host's own namespace."""

    def cmd(*argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout

    return {
        "addresses": cmd("ip", "-br", "addr"),
        "routes": cmd("ip", "route", "show", "table", "all"),
        "links": cmd("ip", "-br", "link"),
        "nft": cmd("nft", "list", "ruleset"),
        "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text(),
    }


def lab_containers(name: str) -> list[str]:
    """Containers of lab `name` (docker backend), when an engine runs here."""
    if not Path("/var/run/docker.sock").exists():
        return []
    from nattest.backends.docker.containers import lab_containers as listed

    return sorted(b.name for b in listed(name))


def assert_nothing_left(name: str, host_links_before: set[str]) -> None:
    """Fail naming whatever of lab `name` still exists (containers too)."""
    left = leftovers(name, host_links_before=host_links_before, link_names=LAB_LINK_NAMES)
    left += [f"container {c}" for c in lab_containers(name)]
    assert not left, f"lab {name} left behind: {'; '.join(left)}"


CPU_LOCK = Path(tempfile.gettempdir()) / "nattest-tests-cpu.lock"
"""Every lab test holds it shared; a test marked `alone` holds it exclusively."""
CPU_GATE = CPU_LOCK.with_suffix(".gate")
"""Taken briefly before CPU_LOCK, and held by an `alone` test while it waits: new tests
queue behind it, so it never starves behind an endless stream of shared holders."""


@pytest.fixture(autouse=True)
def cpu_share(request: pytest.FixtureRequest) -> Iterator[None]:
    """Lab tests share the CPU across xdist workers, except a test marked `alone` (aiortc's
    delay-based bandwidth estimate reads a saturated CPU as a congested path): it waits
    for the running ones to end, runs by itself, and the others wait for it. On the docker
    backend a `timing` test runs alone too: there every peer and server starts as a cold
    ``python3`` in its container, and another worker's starts (≈ 0.5 s of CPU each, in
    bursts) delayed the measuring processes by milliseconds (a 30 ms delay measured
    outside ±3 ms, a clean direction's jitter over its bound: 2 failures in 4 repeated
    scenario runs here)."""
    alone = request.node.get_closest_marker("alone") is not None
    if request.node.get_closest_marker("timing") is not None:
        alone = alone or backend_of(request.config) == "docker"
    with CPU_GATE.open("a") as gate, CPU_LOCK.open("a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def lab_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A lab name unique to this test; fails the test if anything of it is left afterwards."""
    from nattest.pytest_plugin import lab_name_for

    worker = getattr(request.config, "workerinput", {}).get("workerid", "m")
    before = namespaces.host_links()
    name = lab_name_for(worker)
    yield name
    assert_nothing_left(name, before)
