"""coturn service: rendered config, REST credentials, certificate, and start/stop logic.

The start/stop tests use a throwaway Lab double whose "turnserver" is a tiny Python STUN,
TCP and TLS responder on 127.0.0.1/127.0.0.2: no root, no coturn needed.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import ipaddress
import random
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from nattest.checks.stun import stun_binding
from nattest.services.coturn import TurnConfig, TurnServer, TurnServerError, render_config
from nattest.services.credentials import rest_credentials
from nattest.services.tls import make_self_signed_cert
from tests.fixtures.fake_lab import UnitLab

REPO = Path(__file__).resolve().parents[2]
ADDRESSES = ["203.0.113.2", "203.0.113.3"]


def lines(text: str) -> list[str]:
    """Config lines without comments and blanks."""
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def lt_config(tmp_path: Path, **kw: Any) -> TurnConfig:
    return TurnConfig(addresses=ADDRESSES, workdir=tmp_path, users={"alice": "s3cret"}, **kw)


# --- render_config ------------------------------------------------------------------------


COMMON = [
    "listening-port=3478",
    "tls-listening-port=5349",
    "listening-ip=203.0.113.2",
    "listening-ip=203.0.113.3",
    "relay-ip=203.0.113.3",  # the last address relays (docs/matrix.md)
    "realm=nattest",
    "fingerprint",
    "min-port=49152",
    "max-port=65535",
    "no-cli",
    "no-tlsv1",
    "no-tlsv1_1",
    "no-multicast-peers",
    "simple-log",
    "no-stdout-log",
    "denied-peer-ip=10.0.0.0-10.255.255.255",
    "denied-peer-ip=172.16.0.0-172.31.255.255",
    "denied-peer-ip=192.168.0.0-192.168.255.255",
    "denied-peer-ip=100.64.0.0-100.127.255.255",
    "allowed-peer-ip=192.0.2.0-192.0.2.255",
    "allowed-peer-ip=198.51.100.0-198.51.100.255",
    "allowed-peer-ip=203.0.113.0-203.0.113.255",
]


def check_common(text: str, workdir: Path) -> None:
    got = lines(text)
    for line in COMMON:
        assert line in got, line
    for key, name in [
        ("log-file", "turnserver.log"),
        ("pidfile", "turnserver.pid"),
        ("userdb", "turndb"),
        ("cert", "turn-cert.pem"),
        ("pkey", "turn-key.pem"),
    ]:
        assert f"{key}={workdir / name}" in got, key
    assert "$" not in text  # every placeholder filled
    assert not any("/var/" in ln or "/etc/" in ln for ln in got)  # only lab-dir paths
    assert not any(ln.startswith(("no-rfc5780", "no-stun", "no-udp", "no-tcp")) for ln in got)
    for ln in got:  # coturn syntax: `key` or `key=value`, no spaces around '='
        assert " " not in ln.split("=", 1)[0], ln


def test_render_long_term(tmp_path: Path) -> None:
    cfg = TurnConfig(addresses=ADDRESSES, workdir=tmp_path, users={"alice": "s3cret", "bob": "pw"})
    text = render_config(cfg)
    check_common(text, tmp_path)
    got = lines(text)
    assert "lt-cred-mech" in got
    assert "user=alice:s3cret" in got and "user=bob:pw" in got
    assert not any(ln.startswith(("use-auth-secret", "static-auth-secret")) for ln in got)


def test_render_rest(tmp_path: Path) -> None:
    cfg = TurnConfig(addresses=ADDRESSES, workdir=tmp_path, rest_secret="n0rth/Secret=")
    text = render_config(cfg)
    check_common(text, tmp_path)
    got = lines(text)
    assert "use-auth-secret" in got
    assert "static-auth-secret=n0rth/Secret=" in got
    assert "lt-cred-mech" not in got
    assert not any(ln.startswith("user=") for ln in got)


def test_render_ports_external_and_paths(tmp_path: Path) -> None:
    cfg = lt_config(
        tmp_path,
        port=3480,
        tls_port=5350,
        realm="lab.example",
        external_ips=["198.51.100.7/10.9.0.2"],
        cert=tmp_path / "c.pem",
        key=tmp_path / "k.pem",
    )
    got = lines(render_config(cfg))
    assert "listening-port=3480" in got and "tls-listening-port=5350" in got
    assert "realm=lab.example" in got
    assert "external-ip=198.51.100.7/10.9.0.2" in got
    assert f"cert={tmp_path / 'c.pem'}" in got and f"pkey={tmp_path / 'k.pem'}" in got


def test_render_is_pure(tmp_path: Path) -> None:
    cfg = lt_config(tmp_path / "never-made")
    assert render_config(cfg) == render_config(cfg)
    assert not (tmp_path / "never-made").exists()


def test_repo_template_is_the_packaged_one() -> None:
    link = REPO / "coturn" / "turnserver.conf.template"
    assert link.resolve() == (REPO / "nattest" / "data" / "turnserver.conf.template").resolve()


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"users": {"alice": "a"}, "rest_secret": "s"}, "not both"),
        ({}, "no credentials"),
        ({"users": {"al:ice": "a"}}, "al:ice"),
        ({"users": {"alice": "two words"}}, "alice"),
        ({"users": {"alice": "0xdeadbeef"}}, "0x"),
        ({"users": {"alice": "a"}, "realm": "bad realm"}, "realm"),
        ({"rest_secret": "line\nbreak"}, "rest_secret"),
        ({"users": {"alice": "a"}, "port": 5000, "tls_port": 5001}, "overlap"),
    ],
)
def test_config_rejects(tmp_path: Path, kw: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        TurnConfig(addresses=ADDRESSES, workdir=tmp_path, **kw)


@pytest.mark.parametrize("addresses", [[], ["203.0.113.2", "203.0.113.2"], ["turn.example"]])
def test_config_rejects_addresses(tmp_path: Path, addresses: list[str]) -> None:
    with pytest.raises(ValidationError):
        TurnConfig(addresses=addresses, workdir=tmp_path, users={"a": "b"})


def test_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    assert "s3cret" not in repr(lt_config(tmp_path))
    rest = TurnConfig(addresses=ADDRESSES, workdir=tmp_path, rest_secret="hush-hush")
    assert "hush-hush" not in repr(rest) and "hush-hush" not in str(rest)


# --- REST credentials ---------------------------------------------------------------------


def test_rest_credentials_known_answer() -> None:
    username, password = rest_credentials("north", "alice", ttl=3600, now=1_700_000_000)
    assert username == "1700003600:alice"
    # printf '1700003600:alice' | openssl dgst -sha1 -hmac north -binary | base64
    assert password == "wjwSXO2ch1B6VaLTLMy2Avn5O9o="
    mac = hmac.new(b"north", b"1700003600:alice", hashlib.sha1).digest()
    assert password == base64.b64encode(mac).decode()


def test_rest_credentials_default_now_is_in_the_future() -> None:
    import time

    username, _ = rest_credentials("s", "bob", ttl=60)
    expiry = int(username.split(":", 1)[0])
    assert time.time() + 50 < expiry <= time.time() + 60


# --- certificate --------------------------------------------------------------------------


def test_self_signed_cert(tmp_path: Path) -> None:
    cert_path, key_path = make_self_signed_cert(tmp_path / "tls", ADDRESSES)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(a) for a in ADDRESSES]
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert key.public_key() == cert.public_key()
    lifetime = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(hours=23) < lifetime <= datetime.timedelta(days=1)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


# --- TurnServer against a fake coturn -----------------------------------------------------

FAKE_COTURN = r"""
import signal, sys

mode, conf = sys.argv[1], sys.argv[2]
opts, addrs = {}, []
for line in open(conf):
    key, _, value = line.strip().partition("=")
    if key == "listening-ip":
        addrs.append(value)
    opts[key] = value
print("fake coturn", mode, flush=True)
if mode == "exit":
    print("CONFIG ERROR: fake coturn refuses", flush=True)
    sys.exit(1)
if mode == "deaf":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pause()
import socket, ssl, threading  # after the early exits: a deaf coturn prints at once
from aioice import stun
port, tls_port = int(opts["listening-port"]), int(opts["tls-listening-port"])

def udp(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(2048)
        req = stun.parse_message(data)
        attrs = {"XOR-MAPPED-ADDRESS": peer}
        if mode == "ok":
            attrs["OTHER-ADDRESS"] = (addrs[-1], port + 1)
        s.sendto(bytes(stun.Message(req.message_method, stun.Class.RESPONSE,
                                    req.transaction_id, attrs)), peer)

def tcp(p, tls):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts["cert"], opts["pkey"])
    s = socket.create_server((addrs[0], p))
    while True:
        conn, _ = s.accept()
        try:
            if tls:
                conn = ctx.wrap_socket(conn, server_side=True)
        except OSError:
            pass
        conn.close()

for a in addrs:
    threading.Thread(target=udp, args=(a,), daemon=True).start()
threading.Thread(target=tcp, args=(port, False), daemon=True).start()
threading.Thread(target=tcp, args=(tls_port, True), daemon=True).start()
signal.pause()
"""


class FakeLab(UnitLab):
    """Runs every node's processes on this host; "turnserver" is FAKE_COTURN."""

    def __init__(self, workdir: Path, mode: str = "ok") -> None:
        super().__init__("unit", workdir)
        self.mode = mode
        self.spawned: list[tuple[str, list[str], Path | None]] = []
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(
        self,
        node: str,
        argv: list[str],
        *,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        assert argv[:2] == ["turnserver", "-c"]
        self.spawned.append((node, argv, cwd))
        fake = [sys.executable, "-c", FAKE_COTURN, self.mode, argv[2]]
        proc = subprocess.Popen(fake, stdout=stdout, stderr=stderr, cwd=cwd)
        self.procs.append(proc)
        return proc

    def socket(
        self, node: str, family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM
    ) -> socket.socket:
        return socket.socket(family, type)

    def down(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def free_ports() -> tuple[int, int]:
    """A STUN port (plus its +1) and a TLS port free on 127.0.0.1/127.0.0.2."""
    for _ in range(50):
        port = random.randrange(20000, 40000, 2)
        probes = [
            ("127.0.0.1", port, socket.SOCK_DGRAM),
            ("127.0.0.2", port, socket.SOCK_DGRAM),
            ("127.0.0.1", port, socket.SOCK_STREAM),
            ("127.0.0.1", port + 1000, socket.SOCK_STREAM),
        ]
        try:
            for host, p, kind in probes:
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind((host, p))
        except OSError:
            continue
        return port, port + 1000
    raise RuntimeError("no free ports")


def local_server(tmp_path: Path, mode: str = "ok") -> tuple[FakeLab, TurnServer]:
    port, tls_port = free_ports()
    cfg = TurnConfig(
        addresses=["127.0.0.1", "127.0.0.2"],
        port=port,
        tls_port=tls_port,
        workdir=tmp_path / "coturn",
        users={"alice": "s3cret"},
    )
    return FakeLab(tmp_path, mode), TurnServer(cfg)


def test_start_waits_for_stun_tcp_tls_then_stops(tmp_path: Path) -> None:
    lab, server = local_server(tmp_path)
    try:
        server.start(lab, "turn", timeout=10.0)
        cfg = server.config
        assert lab.spawned == [("turn", ["turnserver", "-c", str(cfg.conf_path)], cfg.workdir)]
        assert server.startup_time is not None and server.process is not None
        assert server.process.poll() is None
        assert stat.S_IMODE(cfg.conf_path.stat().st_mode) == 0o600
        assert cfg.cert_path.exists() and cfg.key_path.exists()
        with lab.socket("turn") as sock:
            assert stun_binding(sock, ("127.0.0.1", cfg.port), 2.0)[0] == "127.0.0.1"
        assert server.url("udp") == f"turn:127.0.0.1:{cfg.port}?transport=udp"
        assert server.url("tls") == f"turns:127.0.0.1:{cfg.tls_port}?transport=tcp"
    finally:
        server.stop()
        lab.down()
    assert server.process is not None and server.process.returncode == -15


def test_never_answering_server_is_named_and_killed(tmp_path: Path) -> None:
    lab, server = local_server(tmp_path, mode="deaf")  # also ignores SIGTERM
    try:
        with pytest.raises(TurnServerError) as info:
            server.start(lab, "turn", timeout=1.5)  # room for a loaded machine's start-up
    finally:
        lab.down()
    msg = str(info.value)
    assert f"coturn on turn (127.0.0.1:{server.config.port})" in msg
    assert "did not answer a STUN Binding within 1.5 s" in msg
    assert "fake coturn deaf" in msg  # the output tail
    assert server.process is not None and server.process.returncode == -9  # SIGKILL


def test_exiting_server_reports_exit_code_and_output(tmp_path: Path) -> None:
    lab, server = local_server(tmp_path, mode="exit")
    try:
        with pytest.raises(TurnServerError, match=r"exited with code 1.*fake coturn refuses"):
            server.start(lab, "turn", timeout=5.0)
    finally:
        lab.down()


def test_server_without_rfc5780_is_refused(tmp_path: Path) -> None:
    lab, server = local_server(tmp_path, mode="no5780")
    try:
        with pytest.raises(TurnServerError, match="without OTHER-ADDRESS"):
            server.start(lab, "turn", timeout=10.0)
    finally:
        lab.down()


def test_stun_binding_times_out() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        quiet.bind(("127.0.0.1", 0))
        with pytest.raises(TimeoutError, match=r"127\.0\.0\.1:\d+ within 0.1 s"):
            stun_binding(sock, quiet.getsockname(), 0.1)
