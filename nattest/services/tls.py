"""The lab's own TLS certificate for TURN over TLS (``turns:``), made in-process.

EC P-256, the TURN node's IP addresses as subject alternative names, valid one day; the key
is readable by root only. Clients trust exactly this certificate (``SSL_CERT_FILE``).
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nattest.services.credentials import write_private


def make_self_signed_cert(
    workdir: Path, addresses: list[str], names: tuple[str, ...] = ()
) -> tuple[Path, Path]:
    """Write ``turn-cert.pem`` / ``turn-key.pem`` (EC P-256, IP SANs and DNS SANs for
    `names`, valid one day)."""
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
        .not_valid_after(now + datetime.timedelta(days=1))
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


__all__ = ["make_self_signed_cert"]
