"""The seam every backend plugs into: a ``Backend`` builds ``Lab``s, a ``Lab`` runs things.

A backend realises a Topology on this machine (network namespaces, containers, ...) and
hands back a ``Lab``; everything above it (services, calls, checks, the matrix, the CLI)
talks to the ``Lab`` interface only, so a new backend is one module registered under the
entry-point group ``nattest.backends`` (see ``nattest.backends.get_backend``).

Files. ``Lab.workdir`` is a folder on the host (``/run/nattest/<lab>/``). Every process a
lab starts in a node sees that folder **at the same path**: the netns backend shares the
host's filesystem; a container backend bind-mounts the folder at that path. So services
and peers are given host paths (configs, result files) and nothing is copied.

Processes. ``spawn`` starts a process inside a node and the lab owns it: ``down()`` stops
it by PID (SIGTERM, then SIGKILL). ``python_argv`` says how to run a nattest module inside a
node (the host's interpreter for namespaces; the image's for containers). ``spawn_python``
runs a nattest module's ``main(argv)`` in a node; a backend may start it warm (the netns
backend forks it from a server that has already imported it), the default is a cold
``python -m``. Either way the handle is a ``Process`` (``subprocess.Popen`` is one).
"""

from __future__ import annotations

import socket
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Protocol

from nattest.errors import UsageError

if TYPE_CHECKING:
    from nattest.backends.records import LabRecord
    from nattest.model.impair import LinkImpairment
    from nattest.model.topology import Topology
    from nattest.services.credentials import LabServices


class Process(Protocol):
    """A process a lab started: what ``subprocess.Popen`` offers and callers use."""

    pid: int
    returncode: int | Any

    def poll(self) -> int | None:
        """Exit status (the code, or -signal), None while it runs."""

    def wait(self, timeout: float | None = None) -> int:
        """Wait for it; subprocess.TimeoutExpired after `timeout` seconds."""

    def kill(self) -> None:
        """SIGKILL it."""

    def terminate(self) -> None:
        """SIGTERM it."""


class Lab(ABC):
    """A topology realised on this machine. Nodes are addressed by their topology name."""

    name: str
    """Lab name (`demo`); every object it creates carries the prefix `nt-<name>-`."""
    backend: str
    """Name of the backend that built it (`netns`)."""
    topology: Topology
    """The model it was built from."""
    workdir: Path
    """Folder of this lab's files: rulesets, coturn config, logs, results (see above)."""
    timings: dict[str, float]
    """Seconds spent per phase: network, rulesets, services, down."""
    owned: bool
    """True for the lab this process built; False for a handle on a lab built elsewhere
    (``Backend.attach``), whose ``down()`` leaves the lab up."""

    @abstractmethod
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
        """Run `argv` inside `node`, wait, return its output (text).

        Raises CommandError (CommandTimeout when `timeout` passes) naming node and command."""

    @abstractmethod
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
        """Start `argv` inside `node` in the background. The lab stops it on down()."""

    def spawn_python(
        self,
        node: str,
        module: str,
        args: list[str],
        *,
        log: IO[Any],
        env: dict[str, str] | None = None,
    ) -> Process:
        """Run nattest module `module` (``main(args)``, as ``python -m module args``) inside
        `node`, stdout and stderr to `log`. The lab stops it on down()."""
        return self.spawn(
            node, self.python_argv(node, module, *args), stdout=log, stderr=log, env=env
        )

    def spawn_observer(self, node: str, argv: list[str], log: IO[Any]) -> Process:
        """Start a host tool that watches `node`'s network (tcpdump), its stderr to `log`:
        the host's binary and paths, inside the node's network namespace only, as
        ``nsenter -n tcpdump`` is run against a container. A lab process like any other
        (down() stops it). Default: ``spawn`` (a namespace node has the host's files)."""
        return self.spawn(node, argv, stdout=subprocess.DEVNULL, stderr=log)

    @abstractmethod
    def socket(
        self, node: str, family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM
    ) -> socket.socket:
        """A socket created inside `node`'s network (for probes run from this process)."""

    @abstractmethod
    def python_argv(self, node: str, module: str, *args: str) -> list[str]:
        """argv that runs ``python -m module args...`` inside `node` (via ``spawn``)."""

    @abstractmethod
    def host_argv(self, node: str, argv: list[str], *, interactive: bool = False) -> list[str]:
        """argv that, run on the host, runs `argv` inside `node` (`nattest exec`, `shell`)."""

    @abstractmethod
    def node_ref(self, node: str) -> str:
        """What the backend calls a node (`nt-demo-alice`: a namespace or container name).
        LabError naming the known nodes for an unknown one."""

    @abstractmethod
    def down(self) -> None:
        """Tear everything down: processes, then namespaces/containers, then the record.
        Idempotent; a no-op on a handle that is not `owned`."""

    @abstractmethod
    def leftovers(self) -> list[str]:
        """After down(): whatever of this lab still exists (namespaces, links, containers,
        processes, its folder), one line each. Empty when nothing leaked."""

    def impair(self, link: str, impairment: LinkImpairment | None) -> None:
        """Change the impairment of one link (`nat-a:wan`) of the running lab; None clears
        it. Takes effect before it returns; the lab's record follows, so `nattest status`
        and later handles see it. UsageError for an unknown link."""
        raise UsageError(f"the {self.backend} backend cannot change impairments on a running lab")

    def services_started(self, services: LabServices | None) -> None:
        """Called once the lab's services run (None: a lab without them): a backend starts
        what needs them here (the docker backend: hosts from a user's own image)."""
        return None

    def address(self, node: str) -> str:
        """The first address of `node` (hosts, servers, NAT WAN side)."""
        return self.topology.node_address(node)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()


class Backend(ABC):
    """Builds labs one way. Registered by name (entry points `nattest.backends`)."""

    name: ClassVar[str]
    """Name users pass to `--backend` / `NATTEST_BACKEND`."""
    summary: ClassVar[str]
    """One line for `--help` and errors."""
    matrix_jobs: ClassVar[int | None] = None
    """At most this many matrix cells at once on this backend (None: the peer kinds say)."""

    def check(self) -> None:
        """Raise UsageError saying what to do when this backend cannot run here."""
        return None  # usable everywhere unless a backend says otherwise

    def warm(self, modules: Sequence[str]) -> None:
        """A hint: these nattest modules will soon run in this backend's nodes
        (``Lab.spawn_python``). A backend that starts Python warm may import them now, in
        the background; the default does nothing."""
        return None

    @abstractmethod
    def up(self, topology: Topology, name: str, *, source: str = "") -> Lab:
        """Build `topology` as lab `name`; record it first; on any failure leave nothing."""

    @abstractmethod
    def attach(self, record: LabRecord) -> Lab:
        """A handle (not `owned`) on a running lab of this backend, from its record."""

    @abstractmethod
    def collect(self, record: LabRecord) -> None:
        """Tear down a recorded lab, also one left by a killed process, and forget it."""

    def collect_strays(self) -> list[str]:
        """Tear down what labs of this backend left with no record in this run folder (for
        ``nattest down --all``); the labs' names. The default finds none: a backend whose
        resources carry the run folder (the docker backend's labels) can find them."""
        return []
