"""Lab credentials: how peers reach a lab's services, and the secrets that let them.

``LabServices`` is written to the lab folder (mode 600) when services start and read by
whoever runs a call; its secrets (`turn_password`, `rest_secret`) are never printed, logged,
put in argv or in a result. ``rest_credentials`` mints TURN REST API credentials.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from nattest.call.result import Transport
from nattest.errors import UsageError
from nattest.services.urls import stun_url, turn_url

TURN_USER = "nattest"
"""Long-term credential username of every lab's coturn."""


def rest_credentials(
    secret: str, user: str, ttl: int = 3600, now: float | None = None
) -> tuple[str, str]:
    """TURN REST API credentials (draft-uberti-behave-turn-rest-00 2.2, coturn use-auth-secret).

    username = ``<unix expiry>:<user>``; password = base64(HMAC-SHA1(secret, username)).
    """
    expiry = int(time.time() if now is None else now) + ttl
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (keys, passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(data)


@dataclass(frozen=True)
class LabServices:
    """How to reach a lab's services. `turn_password`/`rest_secret` are secrets: never print."""

    turn_address: str | None = None
    """First public address of the TURN node."""
    turn_port: int = 3478
    """TURN/STUN UDP and TCP port."""
    turns_port: int = 5349
    """TURN over TLS port."""
    turn_user: str = TURN_USER
    """Long-term credential username."""
    turn_password: str = field(default="", repr=False)
    """Long-term credential password (secret)."""
    rest_secret: str = field(default="", repr=False)
    """TURN REST API shared secret (secret); set when the TURN node uses `auth: rest`."""
    signaling_url: str | None = None
    """ws://address:port of the signaling server."""
    turn_cert: str = ""
    """The TURN node's self-signed certificate: what a `turns:` client must trust."""

    def turn_credentials(self, user: str = "peer") -> tuple[str, str]:
        """(username, password) for a client: static, or REST time-limited (coturn's
        `expiry:user` convention, HMAC-SHA1 of the secret)."""
        if self.rest_secret:
            return rest_credentials(self.rest_secret, user)
        return self.turn_user, self.turn_password

    def turn_url(self, transport: Transport = "udp") -> str:
        """`turn:203.0.113.2:3478?transport=udp`, or `turns:...:5349?transport=tcp` for tls."""
        if self.turn_address is None:
            raise UsageError("this lab has no TURN server (a server with `turn`)")
        return str(turn_url(self.turn_address, transport, self.turn_port, self.turns_port))

    def stun_url(self) -> str:
        """`stun:203.0.113.2:3478`."""
        if self.turn_address is None:
            raise UsageError("this lab has no STUN server (a server with `turn` or `stun`)")
        return str(stun_url(self.turn_address, self.turn_port))

    def save(self, workdir: Path) -> None:
        """Write to the lab folder, readable by root only."""
        write_private(workdir / "services.json", json.dumps(dataclasses.asdict(self)).encode())

    @classmethod
    def load(cls, workdir: Path) -> LabServices:
        """Read what `save` wrote (an empty LabServices when the lab has none)."""
        try:
            return cls(**json.loads((workdir / "services.json").read_text()))
        except FileNotFoundError:
            return cls()


__all__ = ["TURN_USER", "LabServices", "rest_credentials", "write_private"]
