"""A lab as Linux network namespaces, veths, bridges and nftables: ``NetnsLab``.

Builds a ``Plan`` (see ../plan.py) in four parallel batches, records the lab before creating
anything, and tears everything down (processes by PID, then namespaces) on any exit.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from nattest.backends import records
from nattest.backends.base import Lab, Process
from nattest.backends.netns import namespaces, warmstart, wiring
from nattest.backends.netns.cleanup import leftovers, teardown
from nattest.backends.netns.runner import Runner, in_netns
from nattest.backends.plan import Plan, plan_lab
from nattest.errors import LabError
from nattest.model.impair import LinkImpairment
from nattest.model.topology import Topology

log = logging.getLogger("nattest.backends.netns")


class NetnsLab(Lab):
    """A lab realised as network namespaces. Build with `NetnsLab.up(...)`."""

    backend = "netns"

    def __init__(
        self, name: str, topology: Topology, workdir: Path, plan: Plan, *, owned: bool = True
    ) -> None:
        self.name = name
        self.topology = topology
        self.workdir = workdir
        self.plan = plan
        self.owned = owned
        self.runner = Runner(workdir / "repro.sh" if owned else None)
        self.children: list[Process] = []
        self.timings: dict[str, float] = {}
        self.inodes: set[int] = set()
        """Inodes of the lab's namespaces: a process still in one after down() leaked."""
        self._host_links = namespaces.host_links()
        self._down = not owned

    # -- build -------------------------------------------------------------------------

    @classmethod
    def up(cls, topology: Topology, name: str, *, source: str = "") -> NetnsLab:
        """Build the lab. On any failure or interrupt, whatever was built is torn down."""
        plan, workdir = cls._record(topology, name, source)
        if plan.wires and os.environ.get(warmstart.COLD_ENV) != "1":
            warmstart.warm([wiring.SHAPER])  # its imports overlap building the network
        lab = cls(name, topology, workdir, plan)
        try:
            lab._build()
        except BaseException:
            lab.down()
            raise
        return lab

    @classmethod
    def _record(cls, topology: Topology, name: str, source: str) -> tuple[Plan, Path]:
        """The lab's plan, and its record written (before anything is built, so a crash
        mid-build can be collected); the lab folder."""
        records.check_lab_name(name)
        plan = plan_lab(topology, name)
        record = records.LabRecord(
            name=name,
            backend=cls.backend,
            topology_source=source,
            topology=topology.model_dump(mode="json"),
            namespaces=list(plan.namespaces.values()),
            owner_pid=os.getpid(),
        )
        return plan, records.create(record)

    def _build(self) -> None:
        p, r = self.plan, self.runner
        t0 = time.perf_counter()
        r.run(["ip", "-batch", "-"], input="\n".join(p.create) + "\n")
        self.inodes = {namespaces.inode(ns) for ns in p.namespaces.values()}
        for ns, values in p.sysctls.items():
            self.write_sysctls(ns, values)
        # Bridge ports first, then node sides: the second `up` of a veth pair then turns
        # carrier on with both ends running, which linkwatch handles at once (else ~1 s).
        networks = {self.plan.namespaces[n] for n in self.topology.networks}
        for group in (networks, set(p.configure) - networks):
            batches = [
                (
                    ns,
                    r.start(
                        ["ip", "-n", ns, "-batch", "-"], input="\n".join(p.configure[ns]) + "\n"
                    ),
                )
                for ns in sorted(group)
            ]
            for ns, proc in batches:
                r.finish(proc, ns)
        self._wait_links_up()
        t1 = time.perf_counter()
        loads = []
        for ns, text in p.rulesets.items():
            path = self.workdir / f"{ns}.nft"
            path.write_text(text)
            loads.append((ns, r.start(in_netns(ns, ["nft", "-f", "-"]), input=text, node=ns)))
        for ns, proc in loads:
            r.finish(proc, ns)
        for ns, values in p.late_sysctls.items():
            self.write_sysctls(ns, values)
        self.timings["network"] = t1 - t0
        self.timings["rulesets"] = time.perf_counter() - t1
        if p.wires:
            t2 = time.perf_counter()
            for w in p.wires.values():
                wiring.apply_wire(r, self.workdir, w, ruleset=False)
                wiring.start_shaper(self, w)
            self.timings["impairments"] = time.perf_counter() - t2

    def _wait_links_up(self, timeout: float = 3.0) -> None:
        """Poll until every interface is operationally UP.

        `ip link set up` returns before the kernel's linkwatch has activated the device's
        queue; packets sent before that are dropped and the first ARP is lost (seen as a
        ~0.7 s first-packet delay). A lab is up only when its links really carry packets.
        """
        pending = [self.plan.namespaces[n] for n in self.topology.nodes()]
        pending += [w.namespace for w in self.plan.wires.values()]
        deadline = time.monotonic() + timeout
        while pending:
            procs = [
                (
                    ns,
                    subprocess.Popen(
                        ["ip", "-n", ns, "-o", "link", "show"],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL,
                        text=True,
                    ),
                )
                for ns in pending
            ]
            pending = [ns for ns, proc in procs if not _all_up(proc.communicate()[0])]
            if pending and time.monotonic() > deadline:
                raise LabError(f"lab {self.name}: links not up after {timeout} s in {pending}")
            if pending:
                time.sleep(0.002)

    def write_sysctls(self, ns: str, values: dict[str, str]) -> None:
        """Write sysctls inside one of the lab's namespaces (recorded in repro.sh)."""
        for k, v in values.items():
            self.runner.record(in_netns(ns, ["sysctl", "-qw", f"{k}={v}"]))
        try:
            namespaces.write_sysctls(ns, values)
        except OSError as e:
            raise LabError(f"[{ns}] sysctl {', '.join(values)}: {e}") from e

    # -- use ---------------------------------------------------------------------------

    def node_ref(self, node: str) -> str:
        """Namespace of a node; LabError for an unknown node."""
        if node not in self.topology.nodes():
            known = ", ".join(self.topology.nodes())
            raise LabError(f"lab {self.name}: no node {node!r} (nodes: {known})")
        return self.plan.namespaces[node]

    def python_argv(self, node: str, module: str, *args: str) -> list[str]:
        """This interpreter: a namespace shares the host's filesystem and virtualenv."""
        self.node_ref(node)
        return [sys.executable, "-m", module, *args]

    def host_argv(self, node: str, argv: list[str], *, interactive: bool = False) -> list[str]:
        return in_netns(self.node_ref(node), argv)

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
        return self.runner.run(
            in_netns(self.node_ref(node), argv),
            node=node,
            input=input,
            check=check,
            timeout=timeout,
            env={**(os.environ if env is None else env), namespaces.LAB_ENV: self.name},
            record=False,
        )

    def spawn(
        self,
        node: str,
        argv: list[str],
        *,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            in_netns(self.node_ref(node), argv),
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env={**(os.environ if env is None else env), namespaces.LAB_ENV: self.name},
            cwd=cwd,
            start_new_session=True,  # Ctrl-C reaches us; teardown stops it by PID
        )
        self.children.append(proc)
        return proc

    def spawn_python(
        self,
        node: str,
        module: str,
        args: list[str],
        *,
        log: IO[Any],
        env: dict[str, str] | None = None,
    ) -> Process:
        """Warm: forked from this process's fork server, straight into the node's
        namespace (``warmstart``); ``NATTEST_COLD=1`` starts ``python -m`` instead, and so
        does a fork server that cannot start it (logged: the start is slower, not lost)."""
        return self.spawn_python_in(self.node_ref(node), module, args, log=log, env=env)

    def spawn_python_in(
        self,
        ns: str,
        module: str,
        args: list[str],
        *,
        log: IO[Any],
        env: dict[str, str] | None = None,
    ) -> Process:
        """``spawn_python`` into one of the lab's namespaces (a node's, or a wire's)."""
        if os.environ.get(warmstart.COLD_ENV) == "1":
            return self._spawn_cold(ns, module, args, log=log, env=env)
        try:
            proc = warmstart.server_for(module).spawn(
                ns,
                args,
                env={**(os.environ if env is None else env), namespaces.LAB_ENV: self.name},
                stdout=log.fileno(),
                stderr=log.fileno(),
            )
        except OSError as e:
            logging.getLogger("nattest.backends.netns").warning(
                "[%s] warm start of %s failed (%s); starting it cold", ns, module, e
            )
            return self._spawn_cold(ns, module, args, log=log, env=env)
        self.children.append(proc)
        return proc

    def _spawn_cold(
        self, ns: str, module: str, args: list[str], *, log: IO[Any], env: dict[str, str] | None
    ) -> Process:
        proc = subprocess.Popen(
            in_netns(ns, [sys.executable, "-m", module, *args]),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env={**(os.environ if env is None else env), namespaces.LAB_ENV: self.name},
            start_new_session=True,
        )
        self.children.append(proc)
        return proc

    def socket(
        self, node: str, family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM
    ) -> socket.socket:
        return namespaces.open_socket(self.node_ref(node), family, type)

    # -- impairments -------------------------------------------------------------------

    def impair(self, link: str, impairment: LinkImpairment | None) -> None:
        """Change a link's impairment live; a link without a wire gets one spliced in
        (``wiring.splice_wire``), a cleared one keeps its wire, doing nothing."""
        node, ifname = self.topology.resolve_link(link)
        topology = self.topology.with_impairment(link, impairment or LinkImpairment())
        plan = plan_lab(topology, self.name)
        w = plan.wires[f"{node}:{ifname}"]
        new = w.link not in self.plan.wires
        if new:
            wiring.splice_wire(self, w, plan.ports[(node, ifname)], plan.indexes[(node, ifname)])
        gen = wiring.apply_wire(self.runner, self.workdir, w)
        if new:
            wiring.start_shaper(self, w)
        else:
            wiring.wait_applied(self.workdir, w, gen)
        self.topology, self.plan = topology, plan
        record = records.load(self.name)
        record.topology = topology.model_dump(mode="json")
        record.namespaces = list(plan.namespaces.values())
        records.save(record)

    # -- teardown ----------------------------------------------------------------------

    def down(self) -> None:
        if self._down:
            return
        self._down = True
        t0 = time.perf_counter()
        teardown(self.name, list(self.plan.namespaces.values()), self.runner)
        for child in self.children:
            try:
                child.wait(1.0)
            except subprocess.TimeoutExpired:
                child.kill()
        records.remove(self.name)
        self.timings["down"] = time.perf_counter() - t0

    def leftovers(self) -> list[str]:
        return leftovers(self.name, self.inodes, self._host_links, self._planned_links())

    def _planned_links(self) -> set[str]:
        """Names of the links the plan makes in the host namespace before moving them."""
        planned = {line.split()[2] for line in self.plan.create if line.startswith("link add")}
        return planned | set(self.plan.ports.values())


def _all_up(ip_link_output: str) -> bool:
    """True when every non-loopback interface in `ip -o link` output has `state UP`."""
    lines = [ln for ln in ip_link_output.splitlines() if ln.strip() and ": lo:" not in ln]
    return bool(lines) and all(" state UP " in ln for ln in lines)


__all__ = ["NetnsLab"]
