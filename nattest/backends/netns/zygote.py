"""The fork server behind warm starts (``warmstart``): ``python -m nattest.backends.netns.zygote``.

Single-threaded, so forking it is safe. It imports the modules it is asked for once; each
start is then a ``fork()``; the child enters the node's network namespace (``setns(2)``),
takes the client's stdout/stderr and environment, runs ``module.main(args)`` and exits
with its status. It ignores Ctrl-C (its client handles it) and exits at end of file on the
control socket: when the client closes it or dies. See ``warmstart`` for the protocol.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import selectors
import signal
import socket
import sys
import traceback
from typing import Any

from nattest.backends.netns import namespaces

MAX_REQUEST = 1 << 20
"""Bytes of one request (argv and environment)."""


PRELOAD_ATTR = "WARM_IMPORTS"
"""A module run warm may list, in this attribute, the modules its ``main`` imports late
(to keep ``--help`` fast): the server imports them too, so no child pays for them."""


def warm_up(module: str) -> None:
    """Import `module`'s entry and the modules it lists in ``WARM_IMPORTS``."""
    loaded = importlib.import_module(entry(module))
    for name in getattr(loaded, PRELOAD_ATTR, ()):
        importlib.import_module(name)


def entry(module: str) -> str:
    """The module whose ``main(argv)`` a warm start of `module` calls: a package runs its
    ``__main__`` (as ``python -m package`` would)."""
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.submodule_search_locations is not None:
        return f"{module}.__main__"
    return module


def _run_child(req: dict[str, Any], out: int, err: int) -> None:
    """In the forked child: enter the node, take the caller's files and environment, run
    ``main(args)``, exit with its status. Never returns."""
    code = 1
    try:
        os.setsid()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        namespaces.enter(req["ns"])
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        if req.get("cwd"):
            os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        module = importlib.import_module(entry(req["module"]))
        sys.argv = [req["module"], *req["args"]]
        result = module.main(list(req["args"]))
        code = result if isinstance(result, int) else 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


class _Server:
    def __init__(self, control: socket.socket, preload: list[str]) -> None:
        self.control = control
        self.sel = selectors.DefaultSelector()
        self.children: dict[int, tuple[int, socket.socket]] = {}
        for module in preload:
            warm_up(module)

    def serve(self) -> None:
        self.sel.register(self.control, selectors.EVENT_READ, None)
        while True:
            for key, _ in self.sel.select():
                if key.data is None:
                    if not self._request():
                        return
                else:
                    self._reap(key.data)

    def _request(self) -> bool:
        try:
            msg, fds, _, _ = socket.recv_fds(self.control, MAX_REQUEST, 3)
        except ConnectionError:
            return False
        if not msg:
            return False  # the client closed: we are done
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            return True
        reply = socket.socket(fileno=fds[0])
        try:
            req = json.loads(msg)
            warm_up(req["module"])  # warm for the next ones too
        except Exception as e:
            os.close(fds[1])
            os.close(fds[2])
            reply.send(json.dumps({"error": f"{type(e).__name__}: {e}"}).encode())
            reply.close()
            return True
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:
            _run_child(req, fds[1], fds[2])
        os.close(fds[1])
        os.close(fds[2])
        pidfd = os.pidfd_open(pid)
        self.children[pid] = (pidfd, reply)
        self.sel.register(pidfd, selectors.EVENT_READ, pid)
        with contextlib.suppress(OSError):  # the client gave up: the child is reaped below
            reply.send(json.dumps({"pid": pid}).encode())
        return True

    def _reap(self, pid: int) -> None:
        pidfd, reply = self.children.pop(pid)
        self.sel.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        with contextlib.suppress(OSError):
            reply.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
        reply.close()


def main(argv: list[str] | None = None) -> int:
    """Server entry point: ``--fd N`` is the control socket, ``--preload`` modules."""
    p = argparse.ArgumentParser(prog="python -m nattest.backends.netns.zygote")
    p.add_argument("--fd", type=int, required=True)
    p.add_argument("--preload", action="append", default=[])
    args = p.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = socket.socket(fileno=args.fd)
    _Server(control, args.preload).serve()
    # the client is gone: leave at once; finalizing the preloaded modules (aiortc, av)
    # takes ≈0.4 s the client would wait for at its exit
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
