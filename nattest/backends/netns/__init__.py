"""The default backend: every node and network is a Linux network namespace.

- ``lab``: ``NetnsLab``, building the shared plan with ``ip``/``nft`` and tearing it down;
- ``namespaces``: in-process access to named namespaces (setns sockets, sysctls, PIDs);
- ``runner``: the one place that runs kernel commands and writes ``repro.sh``.

Namespaces share the host's filesystem, so lab files are at the same path inside nodes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from nattest.backends import records
from nattest.backends.base import Backend
from nattest.backends.netns import warmstart
from nattest.backends.netns.lab import COLD_ENV, NetnsLab, teardown
from nattest.backends.plan import plan_lab
from nattest.errors import UsageError
from nattest.model.load import parse_topology
from nattest.model.topology import Topology


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
        if os.environ.get(COLD_ENV) != "1":
            warmstart.warm(list(modules))

    def up(self, topology: Topology, name: str, *, source: str = "") -> NetnsLab:
        return NetnsLab.up(topology, name, source=source)

    def attach(self, record: records.LabRecord) -> NetnsLab:
        topo = parse_topology(record.topology, record.topology_source or record.name)
        workdir = records.lab_dir(record.name)
        return NetnsLab(record.name, topo, workdir, plan_lab(topo, record.name), owned=False)

    def collect(self, record: records.LabRecord) -> None:
        teardown(record.name, record.namespaces)
        records.remove(record.name)


__all__ = ["NetnsBackend", "NetnsLab"]
