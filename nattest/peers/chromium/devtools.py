"""Chromium's DevTools protocol over ``--remote-debugging-pipe``: a command, its reply.

With that flag the browser reads commands on its fd 3 and writes replies (and events) on
its fd 4, each a JSON text ended by a NUL byte; no port is opened, so nothing but the agent
can drive the browser. The agent uses it for one thing: granting the page its camera and
microphone *permission* (``Browser.grantPermissions``) before the call starts. The fake-UI
flag lets getUserMedia through, but the headless shell still answers "ask" when libwebrtc's
network manager checks the permission, and without it libwebrtc does not enumerate the
node's interfaces: it gathers on the any-address (``0.0.0.0``/``::`` candidates, network
type unknown) as a real browser does for a page that holds no media permission.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import time
from typing import Any

from nattest.errors import NattestError

CHILD_FDS = (3, 4)
"""The browser's ends: it reads commands on 3 and writes on 4."""


class DevToolsError(NattestError):
    """The browser did not answer a command, or answered with an error."""


class DevToolsPipe:
    """The agent's side of one browser's DevTools pipe."""

    def __init__(self) -> None:
        self._child_in, self._out = os.pipe()  # commands: agent → browser
        self._in, self._child_out = os.pipe()  # replies: browser → agent
        self._next_id = 0
        self._pending = b""

    def child_setup(self) -> None:
        """In the child before exec: the browser's ends at fds 3 and 4 (first moved above
        10, so neither overwrites the other; Popen's ``pass_fds=CHILD_FDS`` keeps them)."""
        high_in = fcntl.fcntl(self._child_in, fcntl.F_DUPFD, 10)
        high_out = fcntl.fcntl(self._child_out, fcntl.F_DUPFD, 10)
        os.dup2(high_in, CHILD_FDS[0])
        os.dup2(high_out, CHILD_FDS[1])

    def started(self) -> None:
        """In the agent once the browser runs: its ends are its own now."""
        self._close("_child_in", "_child_out")

    def call(self, method: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one command and wait for its reply's result (DevToolsError on an error
        reply, a closed pipe or after `timeout` seconds)."""
        self._next_id += 1
        ident = self._next_id
        os.write(self._out, json.dumps({"id": ident, "method": method, "params": params}).encode())
        os.write(self._out, b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._pending:
                text, self._pending = self._pending.split(b"\0", 1)
                msg = json.loads(text)
                if msg.get("id") != ident:
                    continue  # an event
                if "error" in msg:
                    raise DevToolsError(f"{method}: {msg['error'].get('message', msg['error'])}")
                return dict(msg.get("result") or {})
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise DevToolsError(f"{method}: no reply within {timeout:g} s")
            chunk = os.read(self._in, 65536)
            if not chunk:
                raise DevToolsError(f"{method}: the browser closed its DevTools pipe")
            self._pending += chunk

    def close(self) -> None:
        """Close the agent's ends (and the browser's, if it never started)."""
        self._close("_out", "_in", "_child_in", "_child_out")

    def _close(self, *names: str) -> None:
        """Close each named fd once (-1 after: a number closed twice may be someone
        else's file by then)."""
        for name in names:
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                with contextlib.suppress(OSError):
                    os.close(fd)
