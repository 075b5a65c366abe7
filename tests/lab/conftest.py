"""Lab tests: real namespaces, real kernel NAT. Every test module here is marked `netns`.

The `lab_name` fixture gives each test a fresh lab name and, after the test, fails it when
anything of that lab is left: a namespace, a link in the host namespace, a process of the
lab (in its namespaces or carrying its NATTEST_LAB marker) or its folder.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from nattest.backends.netns import namespaces
from nattest.backends.netns.cleanup import leftovers

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


def assert_nothing_left(name: str, host_links_before: set[str]) -> None:
    """Fail naming whatever of lab `name` still exists."""
    left = leftovers(name, host_links_before=host_links_before, link_names=LAB_LINK_NAMES)
    assert not left, f"lab {name} left behind: {'; '.join(left)}"


@pytest.fixture
def lab_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A lab name unique to this test; fails the test if anything of it is left afterwards."""
    from nattest.pytest_plugin import lab_name_for

    worker = getattr(request.config, "workerinput", {}).get("workerid", "m")
    before = namespaces.host_links()
    name = lab_name_for(worker)
    yield name
    assert_nothing_left(name, before)
