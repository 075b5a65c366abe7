"""Chromium, headless, inside a lab node: its command line and its lifetime.

The flags keep it to the lab (facts measured on Chromium 156 in a lab namespace):

* ``--host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE ..."``: no name is ever resolved, so no
  background request can leave for the real network; the page's own servers (the agent on
  127.0.0.1, the lab's signaling and TURN servers) are excluded, as a plain ``MAP *``
  also breaks a WebSocket to an IP literal and TURN over TCP/TLS (error 701);
* ``--disable-features=WebRtcHideLocalIpsWithMdns``: host candidates carry their address
  (not an mDNS name nothing in a lab can resolve);
* no sandbox (root in a namespace), a fresh ``--user-data-dir`` per peer, fake media
  devices (a beeping tone and a test pattern) with no permission prompt, nothing of
  Chromium's own services (sync, component updates, background networking, QUIC);
* TURN over TLS with the lab's self-signed certificate:
  ``--ignore-certificate-errors-spki-list`` with exactly its key's SHA-256, so nothing
  else is trusted.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from nattest.peers.chromium.devtools import CHILD_FDS, DevToolsPipe

BINARIES = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
"""Names looked up on PATH, in order. Debian's `chromium-headless-shell` comes first: the
same Chromium release as its `chromium` (same content layer, same libwebrtc), without the
browser's UI layer, so it starts in a quarter of the CPU time (0.15 against 0.6 CPU-s to
open the page and its fake devices, measured here); it is what Puppeteer and Playwright run
headless. `chromium --headless` is the fallback."""
STOP_TIMEOUT = 3.0
"""Seconds to wait for Chromium's main process to be reaped after SIGKILL."""


def find_binary() -> str | None:
    """The Chromium executable on PATH (``NATTEST_CHROMIUM`` overrides), or None."""
    override = os.environ.get("NATTEST_CHROMIUM")
    if override:
        return shutil.which(override)
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


def server_host(url: str) -> str:
    """The host of `ws://H:P`, `stun:H:P`, `turn:H:P?transport=tcp`."""
    if "//" not in url:
        url = "x://" + url.split(":", 1)[1]
    return urlsplit(url).hostname or ""


def spki_sha256(cert_pem: bytes) -> str:
    """base64 SHA-256 of a certificate's SubjectPublicKeyInfo (what Chromium's
    ``--ignore-certificate-errors-spki-list`` takes)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    der = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def chromium_argv(
    binary: str, page_url: str, profile: Path, servers: list[str], trusted_cert: bytes | None
) -> list[str]:
    """Chromium's argv: the page, kept inside the lab (see the module's docstring)."""
    exclude = ", ".join(f"EXCLUDE {h}" for h in ["127.0.0.1", *dict.fromkeys(servers)] if h)
    argv = [
        binary,
        "--headless",  # implied by the headless shell, needed by a full Chromium
        "--remote-debugging-pipe",  # the agent grants the page its media permission
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-features=WebRtcHideLocalIpsWithMdns,MediaRouter,OptimizationHints",
        f"--host-resolver-rules=MAP * ~NOTFOUND, {exclude}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--disable-extensions",
        "--metrics-recording-only",
        "--enable-logging=stderr",
        "--v=0",
    ]
    if trusted_cert is not None:
        argv.append(f"--ignore-certificate-errors-spki-list={spki_sha256(trusted_cert)}")
    return [*argv, page_url]


_LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


class Browser:
    """One Chromium process group, started and stopped by its peer agent, driven through
    its DevTools pipe (``devtools``)."""

    def __init__(self, argv: list[str], log: IO[Any], profile: Path) -> None:
        self.profile = profile
        self.devtools = DevToolsPipe()
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=CHILD_FDS,
                preexec_fn=self._child_setup,
            )
        except BaseException:
            self.devtools.close()
            raise
        self.devtools.started()

    def _child_setup(self) -> None:
        """In the child before exec: own process group (stopped as one), SIGKILL when the
        agent dies (PR_SET_PDEATHSIG), so no Chromium outlives its peer; the pipe's ends."""
        os.setpgid(0, 0)
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        self.devtools.child_setup()

    def grant_media(self, origin: str, timeout: float) -> None:
        """Camera and microphone permission for `origin` (DevToolsError when refused)."""
        params = {"origin": origin, "permissions": ["audioCapture", "videoCapture"]}
        self.devtools.call("Browser.grantPermissions", params, timeout)

    def alive(self) -> bool:
        """Whether Chromium's main process still runs."""
        return self.proc.poll() is None

    def stop(self) -> None:
        """SIGKILL to the whole group (nothing of a throw-away profile is worth a graceful
        shutdown: it saves ≈ 0.5 s a call), wait for it, then the profile goes."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(STOP_TIMEOUT)
        self.devtools.close()
        shutil.rmtree(self.profile, ignore_errors=True)
