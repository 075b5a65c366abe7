"""Lab tests: real namespaces, real kernel NAT. Every test module here is marked `netns`."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from nattest import netns, registry

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
def lab_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A lab name unique to this test and xdist worker; fails the test if anything of it
    (namespace, lab folder, process) is left afterwards."""
    from nattest.pytest_plugin import lab_name_for

    worker = getattr(request.config, "workerinput", {}).get("workerid", "m")
    name = lab_name_for(worker.replace("gw", "w"))
    yield name
    left = netns.list_namespaces(f"nt-{name}-")
    assert not left, f"leaked namespaces: {left}"
    assert not registry.lab_dir(name).exists(), f"leaked lab folder {registry.lab_dir(name)}"
