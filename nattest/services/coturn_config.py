"""What one coturn instance serves, and its config file rendered from it (pure).

`render_config()` fills ``nattest/data/turnserver.conf.template`` (the repo's
``coturn/turnserver.conf.template`` is a symlink to it, so the one source also ships in
the wheel). coturn 4.6.1 cannot serve static long-term users and REST credentials at once
(with ``use-auth-secret`` it never reads ``user=`` lines), so `TurnConfig` refuses both.
"""

from __future__ import annotations

import ipaddress
import re
import string
from importlib import resources
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from nattest.model.base import Spec

TEMPLATE = "turnserver.conf.template"
"""File name of the config template in ``nattest/data/``."""

_USER = re.compile(r"[A-Za-z0-9._~@+-]+")
_SECRET = re.compile(r"[A-Za-z0-9._~!$%&*+/=?@^:-]+")
_REALM = re.compile(r"[A-Za-z0-9.-]+")


DENIED_PEERS = (
    "10.0.0.0-10.255.255.255",
    "172.16.0.0-172.31.255.255",
    "192.168.0.0-192.168.255.255",
    "100.64.0.0-100.127.255.255",
)
"""Private ranges the lab's relay refuses (a peer it cannot reach closes the allocation)."""
ALLOWED_PEERS = (
    "192.0.2.0-192.0.2.255",
    "198.51.100.0-198.51.100.255",
    "203.0.113.0-203.0.113.255",
)
"""The documentation ranges: the lab's public side."""


def _addresses_in(entries: list[str], sep: str) -> list[str]:
    """`entries` unchanged when every `sep`-separated part is an IP address (ValueError)."""
    for entry in entries:
        for part in entry.split(sep):
            ipaddress.ip_address(part)
    return entries


class TurnConfig(Spec):
    """What one coturn instance serves: addresses, ports, realm and credentials."""

    addresses: list[str]
    """Public addresses of the TURN node (listeners). Two of one family enable RFC 5780."""
    relay_address: str | None = None
    """Address relayed traffic leaves from; default the last of `addresses`. With two or
    more addresses the relay is then not the address clients send STUN to, so a
    restricted-cone NAT's filter is not already open for it (see docs/matrix.md)."""
    workdir: Path
    """Folder of this instance: config, certificate, logs, pid file, user database."""
    port: int = Field(default=3478, ge=1, le=65534)
    """STUN/TURN port over UDP and TCP; RFC 5780's alternate port is this plus one."""
    tls_port: int = Field(default=5349, ge=1, le=65534)
    """TURN over TLS (and DTLS) port."""
    realm: str = "nattest"
    """Long-term credential realm (RFC 8489 9.2)."""
    users: dict[str, str] = Field(default_factory=dict, repr=False)
    """Static long-term users, name → password (``lt-cred-mech``)."""
    rest_secret: str | None = Field(default=None, repr=False)
    """TURN REST API shared secret (``use-auth-secret``); usernames are ``expiry:user``."""
    external_ips: list[str] = Field(default_factory=list)
    """``external-ip`` values (``public`` or ``public/private``) when the node is behind a NAT."""
    denied_peers: list[str] = Field(default_factory=lambda: list(DENIED_PEERS))
    """``denied-peer-ip`` ranges (``a.b.c.d-e.f.g.h`` or one address): peers the relay refuses."""
    allowed_peers: list[str] = Field(default_factory=lambda: list(ALLOWED_PEERS))
    """``allowed-peer-ip`` ranges: allowed even inside a denied range."""
    user_quota: int = Field(default=0, ge=0)
    """``user-quota``: allocations one user may hold at once (0: no limit)."""
    max_allocate_lifetime: int | None = Field(default=None, ge=1)
    """``max-allocate-lifetime`` seconds: the longest LIFETIME an allocation or refresh is
    granted (coturn's default 3600); clients must refresh before it runs out."""
    cert: Path | None = None
    """TLS certificate (PEM); default ``<workdir>/turn-cert.pem``, made on start if missing."""
    key: Path | None = None
    """TLS private key (PEM); default ``<workdir>/turn-key.pem``."""

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        parsed = [str(ipaddress.ip_address(a)) for a in value]
        if not parsed or len(set(parsed)) != len(parsed):
            raise ValueError(f"need one or more distinct addresses, got {value}")
        return parsed

    @field_validator("denied_peers", "allowed_peers")
    @classmethod
    def _ranges(cls, value: list[str]) -> list[str]:
        return _addresses_in(value, "-")

    @field_validator("external_ips")
    @classmethod
    def _external(cls, value: list[str]) -> list[str]:
        return _addresses_in(value, "/")

    @model_validator(mode="after")
    def _check(self) -> TurnConfig:
        if not _REALM.fullmatch(self.realm):
            raise ValueError(f"realm {self.realm!r}: use letters, digits, '.' and '-'")
        for name, password in self.users.items():
            if not _USER.fullmatch(name):
                raise ValueError(f"user {name!r}: use letters, digits and ._~@+- (no ':')")
            if not _SECRET.fullmatch(password) or password.startswith("0x"):
                raise ValueError(
                    f"user {name!r}: password empty, with whitespace or odd characters, "
                    "or starting with 0x (coturn reads that as a key)"
                )
        if self.rest_secret is not None and not _SECRET.fullmatch(self.rest_secret):
            raise ValueError("rest_secret is empty or has whitespace or odd characters")
        if self.users and self.rest_secret is not None:
            raise ValueError(
                "coturn 4.6.1 cannot serve static users and REST credentials at once "
                "(use-auth-secret ignores user= lines): give users or rest_secret, not both"
            )
        if not self.users and self.rest_secret is None:
            raise ValueError("no credentials: give users (long-term) or rest_secret (REST API)")
        if abs(self.port - self.tls_port) < 2:
            raise ValueError(f"port {self.port} and tls_port {self.tls_port} overlap (each +1)")
        return self

    @property
    def conf_path(self) -> Path:
        """The rendered config file."""
        return self.workdir / "turnserver.conf"

    @property
    def log_path(self) -> Path:
        """coturn's own log (``log-file`` with ``simple-log``)."""
        return self.workdir / "turnserver.log"

    @property
    def output_path(self) -> Path:
        """stdout and stderr of the process (errors printed before logging starts)."""
        return self.workdir / "turnserver.out"

    @property
    def pid_path(self) -> Path:
        """coturn's pid file."""
        return self.workdir / "turnserver.pid"

    @property
    def userdb_path(self) -> Path:
        """SQLite user database (kept here so /var/lib/turn is never touched)."""
        return self.workdir / "turndb"

    @property
    def cert_path(self) -> Path:
        """Effective TLS certificate path."""
        return self.cert or self.workdir / "turn-cert.pem"

    @property
    def key_path(self) -> Path:
        """Effective TLS key path."""
        return self.key or self.workdir / "turn-key.pem"


def _template_text() -> str:
    return (resources.files("nattest") / "data" / TEMPLATE).read_text(encoding="utf-8")


def render_config(cfg: TurnConfig) -> str:
    """The coturn config text for `cfg` (pure: reads only the packaged template)."""
    if cfg.rest_secret is not None:
        auth = ["use-auth-secret", f"static-auth-secret={cfg.rest_secret}"]
    else:
        auth = ["lt-cred-mech", *(f"user={name}:{pw}" for name, pw in cfg.users.items())]
    external = [f"external-ip={e}" for e in cfg.external_ips] or [
        "# no external-ip: the TURN node's addresses are public"
    ]
    return string.Template(_template_text()).substitute(
        port=cfg.port,
        tls_port=cfg.tls_port,
        listening_ips="\n".join(f"listening-ip={a}" for a in cfg.addresses),
        relay_ips=f"relay-ip={cfg.relay_address or cfg.addresses[-1]}",
        external_ips="\n".join(external),
        peer_policy="\n".join(
            [f"denied-peer-ip={r}" for r in cfg.denied_peers]
            + [f"allowed-peer-ip={r}" for r in cfg.allowed_peers]
        ),
        quota="\n".join(
            [
                f"user-quota={cfg.user_quota}" if cfg.user_quota else "# no user-quota",
                f"max-allocate-lifetime={cfg.max_allocate_lifetime}"
                if cfg.max_allocate_lifetime
                else "# default max-allocate-lifetime (3600 s)",
            ]
        ),
        cert=cfg.cert_path,
        pkey=cfg.key_path,
        realm=cfg.realm,
        auth="\n".join(auth),
        userdb=cfg.userdb_path,
        log_file=cfg.log_path,
        pidfile=cfg.pid_path,
    )


__all__ = ["ALLOWED_PEERS", "DENIED_PEERS", "TurnConfig", "render_config"]
