"""Processes inside containers, started through the engine's exec API, held by host PID.

A detached exec has no stdio of its own, so every process runs under one constant wrapper,
``sh -c 'exec "$@" <"$NT_STDIN" >>"$NT_STDOUT" 2>>"$NT_STDERR"' nattest ARGV...``: the
argv is never put in a shell string, and its output lands in files of the lab folder (which
every container sees at the same path). ``exec_inspect`` gives the process's host PID; the
handle waits and signals through a pidfd, so it can never hit a reused PID.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from nattest.backends.docker import engine
from nattest.errors import LabError

WRAPPER = 'exec "$@" <"$NT_STDIN" >>"$NT_STDOUT" 2>>"$NT_STDERR"'
HOST_ONLY = {"PATH", "HOME", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "LD_LIBRARY_PATH"}
HOST_ONLY |= {"PWD", "OLDPWD", "SHELL", "TERM", "HOSTNAME", "_"}
"""Host variables that mean nothing (or the wrong thing) inside a container."""
POLL_FIRST, POLL_MAX = 0.002, 0.05
"""Seconds between the engine's answers polled for (a PID, an exit seen), doubling: a
process shows up at once, so a fixed fine step only hammered the engine under load."""


def wrapper_argv(argv: list[str]) -> list[str]:
    """The exec's argv: the wrapper, then `argv` as its positional arguments (pure)."""
    return ["/bin/sh", "-c", WRAPPER, "nattest", *argv]


def io_path(target: int | IO[Any] | None, default: str = "/dev/null") -> str:
    """Where a stdout/stderr argument points, as a path both sides see: a file object's
    path, /dev/null for None or DEVNULL (LabError for a pipe: a detached exec has none)."""
    if target is None or target == subprocess.DEVNULL:
        return default
    if target == subprocess.PIPE:
        raise LabError("a process in a container cannot write to a pipe: give it a file")
    fd = target if isinstance(target, int) else target.fileno()
    return os.readlink(f"/proc/self/fd/{fd}")


def env_delta(env: dict[str, str] | None) -> dict[str, str]:
    """What of `env` a container process gets: what differs from this process's environment
    (the additions callers make) and every NATTEST_* variable, never host-only paths."""
    if env is None:
        env = dict(os.environ)
    out = {
        k: v
        for k, v in env.items()
        if k not in HOST_ONLY and (k.startswith("NATTEST_") or os.environ.get(k) != v)
    }
    if "SSL_CERT_FILE" in env:
        out["SSL_CERT_FILE"] = env["SSL_CERT_FILE"]
    return out


def inspect_until(
    api: Any, exec_id: str, done: Callable[[dict[str, Any]], bool], seconds: float
) -> dict[str, Any]:
    """The exec's inspection once `done` says so, or the last one after `seconds`
    (polled with a doubling pause, ``POLL_FIRST`` up to ``POLL_MAX``)."""
    deadline = time.monotonic() + seconds
    pause = POLL_FIRST
    info: dict[str, Any] = api.exec_inspect(exec_id)
    while not done(info) and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, POLL_MAX)
        info = api.exec_inspect(exec_id)
    return info


class ContainerProcess:
    """A process started in a container; what callers use of ``subprocess.Popen``."""

    def __init__(self, api: Any, exec_id: str, pid: int, args: list[str]) -> None:
        self._api = api
        self._exec_id = exec_id
        self.pid = pid
        self.args = args
        self.returncode: int | None = None
        try:
            self._fd = os.pidfd_open(pid)
        except ProcessLookupError:  # it ended before we looked
            self._fd = -1
            self._reap()

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._fd], [], [], 0)[0]:
            self._reap()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._fd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            self._reap()
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._fd, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _reap(self) -> None:
        """The engine's exit code once it has seen the exit (128+n: killed by signal n)."""
        try:
            with engine.answering(f"the exit code of {self.args[0]} (host PID {self.pid})"):
                info = inspect_until(self._api, self._exec_id, lambda i: not i.get("Running"), 2.0)
        except engine.NotFound:  # its container is gone, and it with it
            info = {"ExitCode": 128 + signal.SIGKILL}
        code = int(info.get("ExitCode") or 0)
        self.returncode = -(code - 128) if 128 < code < 160 else code
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def start(
    api: Any,
    container: str,
    argv: list[str],
    *,
    stdin: str = "/dev/null",
    stdout: str = "/dev/null",
    stderr: str = "/dev/null",
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> ContainerProcess:
    """Start `argv` in `container` (paths as both sides see them)."""
    environment = {**env_delta(env), "NT_STDIN": stdin, "NT_STDOUT": stdout, "NT_STDERR": stderr}
    with engine.answering(f"starting {argv[0]} in {container}"):
        created = api.exec_create(
            container,
            wrapper_argv(argv),
            stdout=False,
            stderr=False,
            environment=environment,
            workdir=str(cwd) if cwd else None,
        )
        api.exec_start(created["Id"], detach=True)
        info = inspect_until(
            api, created["Id"], lambda i: bool(i.get("Pid")) or not i.get("Running", True), 5.0
        )
    pid = int(info.get("Pid") or 0)
    if not pid:
        raise LabError(f"[{container}] {argv[0]}: the engine started no process ({info})")
    return ContainerProcess(api, created["Id"], pid, argv)


__all__ = ["ContainerProcess", "env_delta", "io_path", "start", "wrapper_argv"]
