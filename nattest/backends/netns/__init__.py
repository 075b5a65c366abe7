"""The default backend: every node and network is a Linux network namespace.

- ``lab``: ``NetnsLab``, building the shared plan with ``ip``/``nft`` and tearing it down;
- ``namespaces``: in-process access to named namespaces (setns sockets, sysctls, PIDs);
- ``runner``: the one place that runs kernel commands and writes ``repro.sh``.

Namespaces share the host's filesystem, so lab files are at the same path inside nodes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nattest.backends.base import Backend
from nattest.backends.netns import warmstart
from nattest.errors import UsageError

if TYPE_CHECKING:
    from nattest.backends import records
    from nattest.backends.netns.lab import NetnsLab
    from nattest.model.topology import Topology

# Light on purpose: the fork server (``zygote``) imports this package before anything
# else; the lab machinery (pydantic models, plans) is imported when a lab is built.


class NetnsBackend(Backend):
    """Network namespaces, veths, bridges and nftables on this kernel (root)."""

    name = "netns"
    summary = "Linux network namespaces on this kernel (fast; needs root)"

    def check(self) -> None:
        if os.geteuid() != 0:
            raise UsageError(
                "labs need root (network namespaces, nftables): run as root or with sudo"
            )

    def warm(self, modules: Sequence[str]) -> None:
        """Start the modules' fork servers now (``warmstart``): their imports overlap the
        lab's build instead of delaying the first start."""
        if os.environ.get(warmstart.COLD_ENV) != "1":
            warmstart.warm(list(modules))

    def up(self, topology: Topology, name: str, *, source: str = "") -> NetnsLab:
        from nattest.backends.netns.lab import NetnsLab

        for host, spec in topology.hosts.items():
            if spec.image is not None:
                raise UsageError(
                    f"hosts.{host}.image: a host from your own image needs --backend docker "
                    "(a namespace has no image to run)"
                )

        return NetnsLab.up(topology, name, source=source)

    def attach(self, record: records.LabRecord) -> NetnsLab:
        from nattest.backends import records
        from nattest.backends.netns.lab import NetnsLab
        from nattest.backends.plan import plan_lab
        from nattest.model.load import parse_topology

        topo = parse_topology(record.topology, record.topology_source or record.name)
        workdir = records.lab_dir(record.name)
        return NetnsLab(record.name, topo, workdir, plan_lab(topo, record.name), owned=False)

    def collect(self, record: records.LabRecord) -> None:
        from nattest.backends import records
        from nattest.backends.netns.cleanup import teardown

        teardown(record.name, record.namespaces)
        records.remove(record.name)


def __getattr__(name: str) -> Any:
    if name == "NetnsLab":
        from nattest.backends.netns.lab import NetnsLab

        return NetnsLab
    raise AttributeError(f"module 'nattest.backends.netns' has no attribute {name!r}")


__all__ = ["NetnsBackend", "NetnsLab"]
