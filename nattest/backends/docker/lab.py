"""A lab whose nodes are Docker containers: ``DockerLab``.

Each node is a container started with ``network_mode="none"`` from the project's image; its
network namespace is attached by name (``ip netns attach nt-<lab>-<node> <pid>``), and from
there the netns backend's own plan builds the lab unchanged: veths, bridges (network
namespaces, not Docker networks), addresses, routes, sysctls, nftables NAT rulesets, wires.
So no Docker bridge, gateway or iptables rule is on a lab path and NAT behaviour is the
same on both backends. Processes (services, peers, checks) run inside the containers; the
lab folder is bind-mounted at the same path, so results land where the netns backend puts
them.
"""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from nattest.backends import records
from nattest.backends.base import Lab
from nattest.backends.docker import byo, engine, process
from nattest.backends.docker.containers import lab_containers, labels, remove_containers
from nattest.backends.netns import namespaces
from nattest.backends.netns.cleanup import leftovers, teardown
from nattest.backends.netns.lab import NetnsLab
from nattest.backends.plan import Plan
from nattest.errors import CommandError, CommandTimeout
from nattest.model.topology import Topology
from nattest.services.credentials import LabServices

IMAGE_ENV = "NATTEST_DOCKER_IMAGE"
IMAGE_PATH = "/opt/nattest/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""PATH inside the image (its venv first)."""


def image() -> str:
    """The nodes' image: ``NATTEST_DOCKER_IMAGE``, else ``nattest:<version>``."""
    from importlib.metadata import version

    return os.environ.get(IMAGE_ENV) or f"nattest:{version('nattest')}"


def container_plan(plan: Plan, pids: dict[str, int]) -> Plan:
    """The netns plan with each container's namespace attached instead of created
    (namespace name → the container's PID 1); networks and wires stay plain namespaces."""
    create = [
        f"netns attach {line.split()[2]} {pids[line.split()[2]]}"
        if line.startswith("netns add ") and line.split()[2] in pids
        else line
        for line in plan.create
    ]
    return replace(plan, create=create)


class DockerLab(NetnsLab):
    """A lab of containers wired by nattest. Build with `DockerLab.up(...)`."""

    backend = "docker"

    @classmethod
    def up(cls, topology: Topology, name: str, *, source: str = "") -> DockerLab:
        records.check_lab_name(name)
        ref = image()
        engine.require_image(ref)
        plan, workdir = cls._record(topology, name, source)
        lab = cls(name, topology, workdir, plan)
        try:
            t0 = time.perf_counter()
            pids = lab._start_containers(ref)
            lab.timings["containers"] = time.perf_counter() - t0
            lab.plan = container_plan(plan, pids)
            lab._build()
        except BaseException:
            lab.down()
            raise
        return lab

    def _start_containers(self, ref: str) -> dict[str, int]:
        """One container per node, in parallel; namespace name → its PID 1 (host view)."""
        c = engine.client()
        folder = str(self.workdir)

        def start(node: str) -> tuple[str, int]:
            ns = self.plan.namespaces[node]
            box = c.containers.run(
                ref,
                ["tini", "--", "sleep", "infinity"],
                name=ns,
                hostname=node,
                detach=True,
                network_mode="none",
                cap_add=["NET_ADMIN"],
                labels=labels(self.name, node),
                volumes={folder: {"bind": folder, "mode": "rw"}},
            )
            box.reload()
            return ns, int(box.attrs["State"]["Pid"])

        with (
            engine.answering(f"starting lab {self.name}'s containers"),
            ThreadPoolExecutor(max_workers=8) as pool,
        ):
            return dict(pool.map(start, self.topology.nodes()))

    def services_started(self, services: LabServices | None) -> None:
        """Hosts from a user's own image start now, with the lab's servers to talk to."""
        refs = {node: self.plan.namespaces[node] for node in self.topology.hosts}
        with engine.answering(f"starting lab {self.name}'s own-image containers"):
            byo.start_apps(self.topology, self.name, refs, services, labels(self.name))

    # -- use ---------------------------------------------------------------------------

    def python_argv(self, node: str, module: str, *args: str) -> list[str]:
        """The image's interpreter (its venv is first on PATH)."""
        self.node_ref(node)
        return ["python3", "-m", module, *args]

    def host_argv(self, node: str, argv: list[str], *, interactive: bool = False) -> list[str]:
        """nsenter into every namespace of the node's container (mount, UTS, IPC, network,
        PID): the image's files and tools, as `docker exec` would give, without its CLI."""
        with engine.answering(f"inspecting {self.node_ref(node)}"):
            box = engine.client().containers.get(self.node_ref(node))
        pid = str(box.attrs["State"]["Pid"])
        enter = ["nsenter", "-t", pid, "-m", "-u", "-i", "-n", "-p", "--"]
        return [*enter, "env", f"PATH={IMAGE_PATH}", "HOME=/root", *argv]

    def spawn(
        self,
        node: str,
        argv: list[str],
        *,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Any:
        out = process.io_path(stdout)
        err = out if stderr == subprocess.STDOUT else process.io_path(stderr)
        proc = self._start(node, argv, "/dev/null", out, err, env, cwd)
        self.children.append(proc)
        return proc

    def _start(
        self,
        node: str,
        argv: list[str],
        stdin: str,
        stdout: str,
        stderr: str,
        env: dict[str, str] | None,
        cwd: Path | None = None,
    ) -> process.ContainerProcess:
        """`argv` in the node's container, marked as this lab's (paths both sides see)."""
        return process.start(
            engine.client().api,
            self.node_ref(node),
            argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env={**(os.environ if env is None else env), namespaces.LAB_ENV: self.name},
            cwd=cwd,
        )

    def spawn_observer(self, node: str, argv: list[str], log: IO[Any]) -> Any:
        """The host's tool in the container's network namespace (attached by name), so a
        capture writes wherever the caller asks, not only where the containers see, and
        the image needs no capture tools. Teardown stops it with the namespace's other
        processes."""
        return NetnsLab.spawn(self, node, argv, stdout=subprocess.DEVNULL, stderr=log)

    spawn_python = Lab.spawn_python
    """Cold, in the container (``python3 -m`` of the image): the netns fork server runs
    from the host's files, which a container's processes must not."""

    def exec(
        self,
        node: str,
        argv: list[str],
        *,
        timeout: float | None = 30.0,
        check: bool = True,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        io = self.workdir / ".exec"
        io.mkdir(exist_ok=True)
        stem = io / f"{node}-{time.monotonic_ns()}"
        paths = {k: Path(f"{stem}.{k}") for k in ("in", "out", "err")}
        paths["in"].write_text(input or "")
        try:
            proc = self._start(
                node, argv, str(paths["in"]), str(paths["out"]), str(paths["err"]), env
            )
            try:
                rc = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
                raise CommandTimeout(node, argv, timeout) from None
            out, err = (p.read_text() if p.exists() else "" for p in (paths["out"], paths["err"]))
        finally:
            for p in paths.values():
                p.unlink(missing_ok=True)
        if check and rc != 0:
            raise CommandError(node, argv, rc, err)
        return subprocess.CompletedProcess(argv, rc, out, err)

    # -- teardown ----------------------------------------------------------------------

    def down(self) -> None:
        if self._down:
            return
        self._down = True
        t0 = time.perf_counter()
        try:
            teardown(self.name, list(self.plan.namespaces.values()), self.runner)
            for child in self.children:  # reaped while the engine still knows their execs
                try:
                    child.wait(1.0)
                except subprocess.TimeoutExpired:
                    child.kill()
        finally:
            # an engine that does not answer raises here: the record stays, for `down --all`
            remove_containers(self.name)
        records.remove(self.name)
        self.timings["down"] = time.perf_counter() - t0

    def leftovers(self) -> list[str]:
        """Namespaces, host links, processes carrying the lab's marker (every process
        nattest starts in a container does), its folder, and its containers. Not by
        namespace inode as on netns: the engine starts and ends its own `runc init`
        helpers in new namespaces all the time, and a deleted namespace's inode number is
        soon another lab's."""
        left = leftovers(self.name, set(), self._host_links, self._planned_links())
        boxes = lab_containers(self.name)
        return left + [f"container {b.name} ({b.status})" for b in boxes]


__all__ = ["DockerLab", "container_plan", "image"]
