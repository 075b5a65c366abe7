"""DevToolsPipe against a stand-in browser: a real child process that reads NUL-ended
commands on its fd 3 and writes on its fd 4, as Chromium does with --remote-debugging-pipe."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nattest.peers.chromium.devtools import CHILD_FDS, DevToolsError, DevToolsPipe

BROWSER = r"""
import json, os, sys
buf = b""
while b"\0" not in buf:
    chunk = os.read(3, 4096)
    if not chunk:
        sys.exit(0)
    buf += chunk
cmd = json.loads(buf.split(b"\0", 1)[0])
mode = sys.argv[1]
if mode == "close":
    sys.exit(0)
os.write(4, json.dumps({"method": "Target.event", "params": {}}).encode() + b"\0")
if mode == "ok":
    reply = {"id": cmd["id"], "result": {"echo": cmd["method"], "params": cmd["params"]}}
else:
    reply = {"id": cmd["id"], "error": {"code": -32000, "message": "Permission denied"}}
os.write(4, json.dumps(reply).encode() + b"\0")
"""


def start(mode: str) -> tuple[DevToolsPipe, subprocess.Popen[bytes]]:
    pipe = DevToolsPipe()
    proc = subprocess.Popen(
        [sys.executable, "-c", BROWSER, mode], pass_fds=CHILD_FDS, preexec_fn=pipe.child_setup
    )
    pipe.started()
    return pipe, proc


def test_a_command_gets_its_reply_past_events() -> None:
    pipe, proc = start("ok")
    try:
        result = pipe.call("Browser.grantPermissions", {"origin": "http://127.0.0.1:1"}, 5.0)
    finally:
        pipe.close()
        proc.wait(5)
    assert result == {
        "echo": "Browser.grantPermissions",
        "params": {"origin": "http://127.0.0.1:1"},
    }


@pytest.mark.parametrize(
    ("mode", "message"),
    [("error", "Permission denied"), ("close", "closed its DevTools pipe")],
)
def test_an_error_reply_or_a_closed_pipe_says_so(mode: str, message: str) -> None:
    pipe, proc = start(mode)
    try:
        with pytest.raises(DevToolsError, match=message):
            pipe.call("Browser.grantPermissions", {}, 5.0)
    finally:
        pipe.close()
        proc.wait(5)


def test_no_reply_times_out() -> None:
    pipe = DevToolsPipe()  # nobody reads: the browser never started
    try:
        with pytest.raises(DevToolsError, match=r"no reply within 0\.2 s"):
            pipe.call("Browser.getVersion", {}, 0.2)
    finally:
        pipe.close()


def test_close_is_idempotent_and_closes_each_fd_once() -> None:
    pipe, proc = start("ok")
    pipe.close()
    pipe.close()
    proc.wait(5)
    assert (pipe._out, pipe._in, pipe._child_in, pipe._child_out) == (-1, -1, -1, -1)
