"""The docker backend: every node a container from the project's image, wired by nattest.

- ``engine``: the Docker SDK client and every "cannot use the engine" error (exit 2);
- ``lab``: ``DockerLab``, the netns plan applied to the containers' attached namespaces;
- ``process``: processes inside containers through the exec API, held by host PID.

Light on purpose: the SDK is imported when a lab is built or collected.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from nattest.backends.base import Backend
from nattest.errors import UsageError

if TYPE_CHECKING:
    from nattest.backends import records
    from nattest.backends.docker.lab import DockerLab
    from nattest.model.topology import Topology


class DockerBackend(Backend):
    """Containers of the Docker engine on this kernel, wired like namespaces (root)."""

    name = "docker"
    summary = "Docker containers (network_mode none) wired by nattest (needs root and dockerd)"
    matrix_jobs = 6
    """Every cell makes ≈5 containers and starts its peers cold (a fresh ``python3 -m``
    importing aiortc): 12 cells at once on 2 cores took 7–9 s per lab and skewed a
    timing-sensitive cell onto a relay; 6 keeps the cores as busy with half the wait."""

    def check(self) -> None:
        if os.geteuid() != 0:
            raise UsageError("the docker backend wires namespaces: run as root or with sudo")
        from nattest.backends.docker import engine

        engine.client()

    def up(self, topology: Topology, name: str, *, source: str = "") -> DockerLab:
        from nattest.backends.docker.lab import DockerLab

        return DockerLab.up(topology, name, source=source)

    def attach(self, record: records.LabRecord) -> DockerLab:
        from nattest.backends import records
        from nattest.backends.docker.lab import DockerLab
        from nattest.backends.plan import plan_lab
        from nattest.model.load import parse_topology

        topo = parse_topology(record.topology, record.topology_source or record.name)
        workdir = records.lab_dir(record.name)
        return DockerLab(record.name, topo, workdir, plan_lab(topo, record.name), owned=False)

    def collect(self, record: records.LabRecord) -> None:
        from nattest.backends import records
        from nattest.backends.docker.containers import remove_containers
        from nattest.backends.netns.cleanup import teardown

        try:
            teardown(record.name, record.namespaces)
        finally:
            remove_containers(record.name)  # an engine not answering: the record stays
        records.remove(record.name)

    def collect_strays(self) -> list[str]:
        """Labs of this run folder whose containers outlived their record: their
        containers and their namespaces (named ``nt-<lab>-*``) go."""
        from nattest.backends.docker import engine

        if not engine.available():  # no engine here: no container of ours either
            return []
        from nattest.backends.docker.containers import remove_containers, stray_labs
        from nattest.backends.netns.cleanup import teardown

        strays, known = stray_labs()
        for lab in strays:
            try:
                teardown(lab, [], others=known)
            finally:
                remove_containers(lab)
        return strays


__all__ = ["DockerBackend"]
