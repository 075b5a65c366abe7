"""Warm starts: a fork server with the peer's modules already imported forks each peer
straight into its node's network namespace.

A peer process pays ≈0.5 s of CPU importing aiortc, av and cryptography; a matrix runs 134
of them on two cores. Instead, the first warm start of a module in a nattest process (or an
earlier ``warm``) starts that module's server (``python -m nattest.backends.netns.zygote``,
in the host's namespace, a child of this process) that imports it once, with the modules
it lists in ``WARM_IMPORTS``; every start after that is a ``fork()``
(copy-on-write: a few milliseconds) followed, in the child, by ``setns(2)`` into the node's
namespace, the caller's stdout/stderr and environment, then the module's ``main(argv)``.

Protocol: one SOCK_SEQPACKET control socket. A start is one message, a JSON request plus
three file descriptors (a reply socket, stdout, stderr); the server answers on the reply
socket with ``{"pid": N}`` (or ``{"error": ...}``), then ``{"exit": code}`` when the child
ends (its waitstatus as ``Popen.returncode`` would show it). ``WarmProcess`` is the client's
``Popen``-like handle on it.

The server is single-threaded (so forking it is safe), ignores Ctrl-C (the client handles
it), and exits when its client does: at the client's exit, or at end of file on the control
socket when the client dies (the kernel closes the client's end; no parent-death signal,
which would fire when the *thread* that started the server ends). Children are lab
processes like any other: they live in the lab's namespace and teardown stops them there
by PID.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

SERVER_MODULE = "nattest.backends.netns.zygote"
"""The fork server's module."""
COLD_ENV = "NATTEST_COLD"
"""Set to 1: nattest modules start as fresh ``python -m`` processes instead of warm forks."""


class WarmProcess:
    """A warm-started process, handled like ``subprocess.Popen`` (pid, poll, wait, kill)."""

    def __init__(self, pid: int, reply: socket.socket, args: list[str]) -> None:
        self.pid = pid
        """Process id (in the host's PID namespace)."""
        self.args = args
        """What it runs (for messages)."""
        self.returncode: int | None = None
        """Exit status once it ended: the code, or -signal (as Popen)."""
        self._reply = reply
        self._lock = threading.Lock()

    def _read(self, timeout: float | None) -> None:
        with self._lock:
            if self.returncode is not None:
                return
            self._reply.settimeout(timeout)
            try:
                msg = self._reply.recv(4096)
            except (TimeoutError, BlockingIOError):  # still running (poll: non-blocking)
                return
            except OSError:
                msg = b""
            if msg:
                self.returncode = int(json.loads(msg)["exit"])
            elif not Path(f"/proc/{self.pid}").exists():
                self.returncode = -signal.SIGKILL  # the server is gone, and so is the child
            else:
                return
            self._reply.close()

    def poll(self) -> int | None:
        """Its exit status, None while it runs."""
        self._read(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait until it ends; TimeoutExpired after `timeout` seconds."""
        self._read(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Signal it, unless it has already ended (its PID may be reused)."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        """SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """This process's client of the fork server of one module (started on first use)."""

    def __init__(self, module: str) -> None:
        self.module = module
        """The module it runs (and has imported, with its ``WARM_IMPORTS``)."""
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None

    def start(self) -> socket.socket:
        """Start the server unless it runs; it imports the module meanwhile."""
        with self._lock:
            if self._control is not None and self._proc is not None and self._proc.poll() is None:
                return self._control
            if self._control is not None:  # the server died: start a new one
                self._control.close()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            argv = [sys.executable, "-m", SERVER_MODULE, "--fd", str(theirs.fileno())]
            self._proc = subprocess.Popen(
                [*argv, "--preload", self.module],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            theirs.close()
            self._control = ours
            return ours

    def spawn(
        self,
        ns: str,
        args: list[str],
        *,
        env: dict[str, str],
        stdout: int,
        stderr: int,
        cwd: str | None = None,
    ) -> WarmProcess:
        """Run ``module.main(args)`` in namespace `ns` with these files and environment.

        OSError when the server cannot start it (it says why)."""
        control = self.start()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        req = {"ns": ns, "module": self.module, "args": args, "env": env, "cwd": cwd}
        try:
            socket.send_fds(control, [json.dumps(req).encode()], [theirs.fileno(), stdout, stderr])
        finally:
            theirs.close()
        ours.settimeout(30.0)  # a server just started imports the module before answering
        msg = ours.recv(4096)
        answer = json.loads(msg) if msg else {"error": "the fork server exited"}
        if "pid" not in answer:
            ours.close()
            raise OSError(f"warm start of {self.module} failed: {answer['error']}")
        return WarmProcess(int(answer["pid"]), ours, [self.module, *args])

    def close(self) -> None:
        """Stop the server (its running children keep running; teardown stops them)."""
        with self._lock:
            if self._control is not None:
                self._control.close()
                self._control = None
            if self._proc is not None:
                try:
                    self._proc.wait(2.0)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
                self._proc = None


_servers: dict[str, ForkServer] = {}
_servers_lock = threading.Lock()


def server_for(module: str) -> ForkServer:
    """The fork server of `module` in this process: one per module, so a light module
    (the signaling server) never waits behind a heavy one's imports (aiortc)."""
    with _servers_lock:
        if module not in _servers:
            _servers[module] = ForkServer(module)
        return _servers[module]


def warm(modules: list[str]) -> None:
    """Start the servers of `modules` now, so their imports overlap other work."""
    for module in modules:
        server_for(module).start()


@atexit.register
def close_all() -> None:
    """Stop every fork server of this process."""
    with _servers_lock:
        servers = list(_servers.values())
    for server in servers:
        server.close()
