"""Exceptions of nattest. Every error speaks network and names what failed."""

from __future__ import annotations


class NattestError(Exception):
    """Base class of every error nattest raises on purpose."""

    exit_code = 1


class UsageError(NattestError):
    """Bad input from the user: a topology file, an option, a name (exit code 2)."""

    exit_code = 2


class FileFieldError(UsageError):
    """A data file failed validation: `file: field: reason`."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        self.source = source
        self.field = field
        self.reason = reason
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {reason}")


class TopologyError(FileFieldError):
    """A topology file failed validation."""


class CommandError(NattestError):
    """A kernel or service command failed: names the node, the command and its stderr."""

    def __init__(self, node: str, argv: list[str], returncode: int, stderr: str) -> None:
        self.node = node
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr.strip()
        cmd = " ".join(argv)
        super().__init__(f"[{node}] `{cmd}` exited {returncode}: {self.stderr or '(no stderr)'}")


class CommandTimeout(CommandError):
    """A command did not finish within its time limit (it was killed)."""

    def __init__(self, node: str, argv: list[str], timeout: float | None) -> None:
        self.timeout = timeout
        super().__init__(node, argv, -1, f"timed out after {timeout} s")


class LabError(NattestError):
    """A lab could not be built, found or torn down."""


class LabExists(UsageError):
    """A lab of that name is already recorded on this machine."""


class Cancelled(NattestError):
    """The run was interrupted (Ctrl-C, SIGTERM) and stopped what it had started."""

    exit_code = 130
