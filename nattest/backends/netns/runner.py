"""The one place that runs kernel and service commands.

Every command goes through ``Runner.run``; failures raise ``CommandError`` naming the node,
the command and its stderr. With a transcript path, each command is also appended to a
shell script (``repro.sh``) a user can replay by hand to rebuild the lab.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from pathlib import Path

from nattest.errors import CommandError, CommandTimeout

log = logging.getLogger("nattest.backends.netns.runner")

HOST = "host"
"""Node label of commands run in the host's namespace (only `ip netns add/del`, veths)."""


def in_netns(ns: str, argv: list[str]) -> list[str]:
    """argv that runs `argv` inside network namespace `ns`."""
    return ["ip", "netns", "exec", ns, *argv]


class Runner:
    """Runs commands, raises typed errors, keeps a replayable transcript."""

    def __init__(self, transcript: Path | None = None) -> None:
        self.transcript = transcript
        if transcript is not None and not transcript.exists():
            transcript.write_text(
                "#!/bin/sh\n# Replays the commands nattest ran to build this lab.\nset -e\n"
            )
            transcript.chmod(0o755)

    def record(self, argv: list[str], input: str | None = None) -> None:
        """Append one command (and its stdin, as a here-document) to the transcript."""
        if self.transcript is None:
            return
        line = shlex.join(argv)
        if input is not None:
            line += " <<'NATTEST_EOF'\n" + input.rstrip("\n") + "\nNATTEST_EOF"
        with self.transcript.open("a") as f:
            f.write(line + "\n")

    def run(
        self,
        argv: list[str],
        *,
        node: str = HOST,
        input: str | None = None,
        check: bool = True,
        timeout: float | None = 30.0,
        env: dict[str, str] | None = None,
        record: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run and wait. Raises CommandError when `check` and the exit code is not 0."""
        if record:
            self.record(argv, input)
        log.debug("[%s] %s", node, shlex.join(argv))
        try:
            proc = subprocess.run(
                argv, input=input, capture_output=True, text=True, timeout=timeout, env=env
            )
        except subprocess.TimeoutExpired as e:
            raise CommandTimeout(node, argv, timeout) from e
        except FileNotFoundError as e:
            raise CommandError(node, argv, 127, f"{argv[0]}: command not found") from e
        if check and proc.returncode != 0:
            raise CommandError(node, argv, proc.returncode, proc.stderr)
        return proc

    def start(self, argv: list[str], *, input: str, node: str = HOST) -> subprocess.Popen[str]:
        """Start a command fed with `input` without waiting (for parallel batches)."""
        self.record(argv, input)
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stdin is not None
        proc.stdin.write(input)
        proc.stdin.close()
        return proc

    @staticmethod
    def finish(proc: subprocess.Popen[str], node: str, timeout: float = 30.0) -> None:
        """Wait for a started command; raise CommandError on failure."""
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired as e:
            proc.kill()
            raise CommandTimeout(node, list(map(str, proc.args)), timeout) from e  # type: ignore[arg-type]
        if proc.returncode != 0:
            assert proc.stderr is not None
            raise CommandError(node, list(map(str, proc.args)), proc.returncode, proc.stderr.read())  # type: ignore[arg-type]
