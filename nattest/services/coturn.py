"""coturn as a lab service: its config and its process.

- ``coturn_config``: `TurnConfig` and `render_config()` (pure), re-exported here;
  the certificate comes from ``tls``, REST credentials from ``credentials``.

`TurnServer` runs ``turnserver -c <our file>`` inside a lab node, always from the instance's
own folder (coturn also reads a ``turnserver.conf`` from its working directory and Debian's
``/etc/turnserver.conf`` carries ``no-rfc5780``), and proves readiness with real STUN
Binding transactions from inside the node.

coturn 4.6.1 cannot serve static long-term users and REST credentials at once: with
``use-auth-secret`` it checks every username as ``expiry:user`` against the secret and
never looks at ``user=`` lines (userdb.c ``get_user_key``), so `TurnConfig` refuses both.
"""

from __future__ import annotations

import logging
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from nattest.backends.records import rundir
from nattest.call.result import Transport
from nattest.checks.stun import stun_request
from nattest.errors import LabError
from nattest.services.coturn_config import TurnConfig, render_config
from nattest.services.credentials import write_private
from nattest.services.tls import lab_certificate
from nattest.services.urls import turn_url

if TYPE_CHECKING:
    from nattest.backends.base import Lab

__all__ = [
    "TurnConfig",
    "TurnServer",
    "TurnServerError",
    "render_config",
]

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0
"""Seconds for coturn to serve every listener: ≈ 0.1 s on a quiet machine, over 3 s with a
dozen labs starting at once in containers (a matrix on the docker backend)."""


class TurnServerError(LabError):
    """coturn did not start, answer or stop: names the node, the address and the log tail."""


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())


class TurnServer:
    """One coturn process on one lab node.

    ``start()`` renders the config into ``cfg.workdir``, spawns ``turnserver -c`` there and
    returns once every address answers a STUN Binding; ``stop()`` ends it by PID.
    """

    def __init__(self, config: TurnConfig) -> None:
        self.config = config
        """What this instance serves."""
        self.node: str | None = None
        """The lab node it runs on, once started."""
        self.process: subprocess.Popen[bytes] | None = None
        """The turnserver process, once started."""
        self.startup_time: float | None = None
        """Seconds from spawn to the last readiness answer."""
        self._output: IO[Any] | None = None

    def __repr__(self) -> str:
        return f"TurnServer({self.node or '-'} {self.config.addresses[0]}:{self.config.port})"

    def url(self, transport: Transport = "udp") -> str:
        """ICE server URL of the first address: ``turn:…?transport=udp|tcp``, ``turns:…`` (tls)."""
        cfg = self.config
        return str(turn_url(cfg.addresses[0], transport, cfg.port, cfg.tls_port))

    def start(self, lab: Lab, node: str, timeout: float = START_TIMEOUT) -> None:
        """Write config (and certificate if missing), spawn coturn in `node`, wait until ready."""
        cfg = self.config
        cfg.workdir.mkdir(parents=True, exist_ok=True)
        if not cfg.cert_path.exists() or not cfg.key_path.exists():
            lab_certificate(cfg.workdir, cfg.addresses, rundir() / ".tls")
        write_private(cfg.conf_path, render_config(cfg).encode())  # holds passwords/secret
        cfg.log_path.unlink(missing_ok=True)  # simple-log appends: keep only this run's lines
        self.node = node
        self._output = cfg.output_path.open("wb")
        t0 = time.monotonic()
        self.process = lab.spawn(
            node,
            ["turnserver", "-c", str(cfg.conf_path)],
            cwd=cfg.workdir,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        log.debug("[%s] coturn: pid %d, config %s", node, self.process.pid, cfg.conf_path)
        try:
            self.wait_ready(lab, timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_time = time.monotonic() - t0
        log.info(
            "[%s] coturn: %s answering STUN on :%d in %.0f ms",
            node,
            ", ".join(cfg.addresses),
            cfg.port,
            self.startup_time * 1000,
        )

    def wait_ready(self, lab: Lab, timeout: float = START_TIMEOUT) -> None:
        """Poll, from inside the node, until coturn serves every listener.

        A STUN Binding to every address (with two or more of a family the answer must carry
        OTHER-ADDRESS: RFC 5780 on), then a TCP connect and a TLS handshake on the first
        address. Raises TurnServerError naming the address and the coturn log tail.
        """
        assert self.node is not None and self.process is not None, "start() first"
        cfg = self.config
        deadline = time.monotonic() + timeout
        for address in cfg.addresses:
            self._wait_stun(lab, address, deadline, timeout)
        self._wait_tcp(lab, cfg.addresses[0], cfg.port, deadline, timeout, tls=False)
        self._wait_tcp(lab, cfg.addresses[0], cfg.tls_port, deadline, timeout, tls=True)

    def _left(self, server: tuple[str, int], deadline: float, timeout: float, what: str) -> float:
        """Seconds left before `deadline`; raises if coturn died or time is up."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise self._error(f"exited with code {self.process.returncode}", server)
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._error(f"did not answer {what} within {timeout} s", server)
        return left

    def _wait_stun(self, lab: Lab, address: str, deadline: float, timeout: float) -> None:
        assert self.node is not None
        server = (address, self.config.port)
        family = _family(address)
        rfc5780 = sum(_family(a) == family for a in self.config.addresses) > 1
        wait = 0.005  # coturn listens ≈40 ms after spawn: probe often, back off to 0.1 s
        with lab.socket(self.node, family, socket.SOCK_DGRAM) as sock:
            while True:
                left = self._left(server, deadline, timeout, "a STUN Binding")
                try:
                    answer = stun_request(sock, server, min(wait, left))
                except TimeoutError:
                    wait = min(wait * 2, 0.1)
                    continue
                if rfc5780 and "OTHER-ADDRESS" not in answer.attributes:
                    raise self._error(
                        "answers without OTHER-ADDRESS: RFC 5780 discovery is off", server
                    )
                return

    def _wait_tcp(
        self, lab: Lab, address: str, port: int, deadline: float, timeout: float, tls: bool
    ) -> None:
        assert self.node is not None
        server = (address, port)
        what = "a TLS handshake" if tls else "a TCP connect"
        wait = 0.005
        while True:
            left = self._left(server, deadline, timeout, what)
            with lab.socket(self.node, _family(address), socket.SOCK_STREAM) as sock:
                sock.settimeout(left)
                try:
                    sock.connect(server)
                except (ConnectionRefusedError, TimeoutError):
                    time.sleep(min(wait, max(0.0, deadline - time.monotonic())))  # poll
                    wait = min(wait * 2, 0.1)
                    continue
                if not tls:
                    return
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CA store: 25 ms saved
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE  # liveness only; clients verify the cert
                try:
                    with context.wrap_socket(sock) as tls_sock:
                        tls_sock.do_handshake()
                except (ssl.SSLError, OSError) as exc:
                    raise self._error(f"failed {what}: {exc}", server) from exc
                return

    def _error(self, what: str, server: tuple[str, int]) -> TurnServerError:
        cfg = self.config
        tail = _tail(cfg.log_path) or _tail(cfg.output_path) or "(empty)"
        return TurnServerError(
            f"coturn on {self.node} ({server[0]}:{server[1]}) {what}; "
            f"log {cfg.log_path} tail: {tail}"
        )

    def stop(self, grace: float = 0.2) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; by the spawned process's PID only.

        coturn 4.6.1 here exits on SIGTERM in ≈2-5 ms; the grace bounds the slow case
        (≈1.7 s seen elsewhere) so a lab teardown never waits on it.
        """
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                try:
                    proc.wait(2.0)
                except subprocess.TimeoutExpired as exc:
                    raise TurnServerError(
                        f"coturn on {self.node} (pid {proc.pid}) survived SIGKILL"
                    ) from exc
            log.debug("[%s] coturn: pid %d stopped (%s)", self.node, proc.pid, proc.returncode)
        if self._output is not None:
            self._output.close()
            self._output = None
        self.config.pid_path.unlink(missing_ok=True)
