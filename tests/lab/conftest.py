"""Lab tests: real namespaces, real kernel NAT. Every test module here is marked `netns`."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from nattest import netns

TOPOLOGIES = Path(__file__).parents[2] / "topologies"


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


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fails the test if it leaves any namespace or host link of ours behind."""
    before = set(netns.list_namespaces("nt-t-"))
    yield
    after = set(netns.list_namespaces("nt-t-"))
    assert after <= before, f"leaked namespaces: {sorted(after - before)}"
