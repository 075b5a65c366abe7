"""The lab certificate cache: made once per address set, copied into each lab, renewed
before it expires; keys readable by their owner only."""

from __future__ import annotations

import stat
import time
from pathlib import Path

from nattest.services.tls import RENEW_BEFORE, lab_certificate

ADDRESSES = ["203.0.113.2", "203.0.113.3"]


def test_made_once_then_copied(tmp_path: Path) -> None:
    cache = tmp_path / ".tls"
    cert_a, key_a = lab_certificate(tmp_path / "lab-a", ADDRESSES, cache)
    cert_b, key_b = lab_certificate(tmp_path / "lab-b", list(reversed(ADDRESSES)), cache)
    assert cert_a.read_bytes() == cert_b.read_bytes()  # one certificate per address set
    assert key_a.read_bytes() == key_b.read_bytes()
    for key in (key_a, key_b):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) & 0o077 == 0
    other, _ = lab_certificate(tmp_path / "lab-c", ["198.51.100.2"], cache)
    assert other.read_bytes() != cert_a.read_bytes()


def test_renewed_before_it_expires(tmp_path: Path) -> None:
    cache = tmp_path / ".tls"
    first, _ = lab_certificate(tmp_path / "a", ADDRESSES, cache)
    (expires,) = cache.glob("*/expires")
    expires.write_text(str(time.time() + RENEW_BEFORE - 60))  # about to expire
    second, _ = lab_certificate(tmp_path / "b", ADDRESSES, cache)
    assert second.read_bytes() != first.read_bytes()
    expires.parent.joinpath("expires").write_text("garbage")
    third, _ = lab_certificate(tmp_path / "c", ADDRESSES, cache)
    assert third.read_bytes() != second.read_bytes()


def test_without_a_cache_the_lab_gets_its_own(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cert, key = lab_certificate(tmp_path / "lab", ADDRESSES, blocker / ".tls")
    assert cert.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600
