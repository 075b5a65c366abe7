"""The one interface every backend realises: a built, running lab."""

from __future__ import annotations

import socket
import subprocess
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nattest.topology import Topology


class Lab(ABC):
    """A topology realised on this machine. Nodes are addressed by their topology name."""

    name: str
    """Lab name (`demo`); every kernel object carries the prefix `nt-<name>-`."""
    topology: Topology
    """The model it was built from."""
    workdir: Path
    """Folder of this lab's files: rulesets, coturn config, logs, results."""
    timings: dict[str, float]
    """Seconds spent per phase: network, rulesets, services, down."""

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
        """Run `argv` inside `node`, wait, return its output (text). Raises CommandError."""

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

    @abstractmethod
    def socket(
        self, node: str, family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM
    ) -> socket.socket:
        """A socket created inside `node`'s network (for probes run from this process)."""

    @abstractmethod
    def down(self) -> None:
        """Tear everything down: processes, then namespaces/containers. Idempotent."""

    def address(self, node: str) -> str:
        """The first address of `node` (hosts, servers, NAT WAN side)."""
        return self.topology.node_address(node)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()
