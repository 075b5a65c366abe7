"""The lab's own TLS certificate for TURN over TLS (``turns:``), made in-process.

EC P-256, the TURN node's IP addresses as subject alternative names, valid one day; the key
is readable by root only. Clients trust exactly this certificate (``SSL_CERT_FILE``).

``lab_certificate`` copies one from a cache kept beside the labs
(``<rundir>/.tls/<addresses>/``, root only) and makes it there when it is missing or
expires within two hours: a certificate depends only on the addresses, and importing
``cryptography`` to make one costs ≈ 60 ms of every ``nattest up``.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import shutil
import ssl
import time
from pathlib import Path

from nattest.services.credentials import write_private

VALID = datetime.timedelta(days=1)
"""Validity of a certificate."""
RENEW_BEFORE = 2 * 3600
"""Seconds before expiry at which the cache makes a new one."""


def make_self_signed_cert(
    workdir: Path, addresses: list[str], names: tuple[str, ...] = ()
) -> tuple[Path, Path]:
    """Write ``turn-cert.pem`` / ``turn-key.pem`` (EC P-256, IP SANs and DNS SANs for
    `names`, valid one day)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    workdir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nattest TURN")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    sans += [x509.DNSName(n) for n in names]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = workdir / "turn-cert.pem", workdir / "turn-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return cert_path, key_path


def insecure_client_context() -> ssl.SSLContext:
    """TLS client context that accepts any certificate (the lab's self-signed one, or
    `nattest check-turn --insecure`)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def lab_certificate(workdir: Path, addresses: list[str], cache: Path) -> tuple[Path, Path]:
    """``turn-cert.pem`` / ``turn-key.pem`` for `addresses` in `workdir`, copied from the
    certificate cache in `cache` (made there first when missing or about to expire)."""
    digest = hashlib.sha256(",".join(sorted(addresses)).encode()).hexdigest()[:16]
    entry = cache / digest
    expires = entry / "expires"
    try:
        fresh = float(expires.read_text()) - time.time() > RENEW_BEFORE
    except (OSError, ValueError):
        fresh = False
    if not fresh:
        try:
            cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:  # no cache here (not root, read-only): make this lab's own
            return make_self_signed_cert(workdir, addresses)
        tmp = cache / f".{digest}.{os.getpid()}.{time.monotonic_ns()}"
        make_self_signed_cert(tmp, addresses)
        (tmp / "expires").write_text(str(time.time() + VALID.total_seconds()))
        tmp.chmod(0o700)
        shutil.rmtree(entry, ignore_errors=True)
        try:
            tmp.rename(entry)  # atomic: another lab making the same one may win
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = workdir / "turn-cert.pem", workdir / "turn-key.pem"
    shutil.copyfile(entry / "turn-cert.pem", cert)
    write_private(key, (entry / "turn-key.pem").read_bytes())
    return cert, key


__all__ = ["insecure_client_context", "lab_certificate", "make_self_signed_cert"]
