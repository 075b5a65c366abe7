"""Keep a lab's evidence before it is torn down: `results/<test id>/`.

    kept = keep_evidence(lab, Path("results") / folder_name(test_id), call=result, capture=cap)

A lab's folder (``Lab.workdir``) goes with the lab, so whatever should outlive it is copied
first: each call's peer logs and results (``calls/<room>/``), every log (signaling,
coturn, tcpdump, ...), the nftables rulesets, ``repro.sh`` and the lab record, the pcaps of
a capture (with a packet summary and the ifindex → interface table), and the CallResult
(``call.json``) or the error. Secrets stay behind: the services file, coturn's config and
keys, its database. The folder is replaced if it exists, so it never mixes two runs.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nattest.evidence.model import Evidence

if TYPE_CHECKING:
    from nattest.backends.base import Lab
    from nattest.call.result import CallResult
    from nattest.evidence.capture import Capture

log = logging.getLogger("nattest.evidence")

RESULTS_DIR = Path("results")
"""Default folder of kept evidence (and of the matrix reports `make test-nat` writes)."""
MAX_NAME = 120
"""Longest folder name made from a test id (longer ones are cut and get a hash)."""
KEPT = ("repro.sh", "lab.json", "*.nft", "**/*.log", "**/*.out", "calls/**/*", "pcap/**/*")
"""What of a lab folder is kept (globs relative to it)."""
SECRET = frozenset({"services.json", "turnserver.conf", "turndb"})
"""Files never kept: they hold the lab's TURN password or secret."""
SECRET_SUFFIXES = (".pem", ".key", ".pid")
"""Nor keys and certificates (or pid files)."""
FIRST = ("cell.json", "call.json", "error.txt", "failure.txt")
"""Files listed first: what a reader opens first."""
MARKER = ".nattest-evidence"
"""Empty file in every kept folder: only such a folder is ever replaced or discarded."""


@dataclass(frozen=True)
class EvidenceOptions:
    """Whether to capture, and where failing runs keep their evidence."""

    results: Path = RESULTS_DIR
    """Folder of the kept evidence, one subfolder per test or cell."""
    capture: bool = False
    """Record a pcap per node (tcpdump in each lab namespace)."""
    strict: bool = False
    """Matrix cells that deviate keep theirs too (they fail a `--strict` run)."""

    def folder(self, test_id: str) -> Path:
        """Where the evidence of `test_id` goes."""
        return self.results / folder_name(test_id)


_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


def folder_name(test_id: str) -> str:
    """A test or cell id as one safe folder name (pure).

    `tests/lab/test_calls.py::test_relay[tcp]` → `tests.lab.test_calls.py--test_relay-tcp`:
    `::` becomes `--`, `/` a dot, brackets dashes, anything else outside ``[A-Za-z0-9._+=-]``
    an underscore; no leading dot or dash (no hidden folder, nothing read as an option, no
    `..`). Names longer than ``MAX_NAME`` are cut and end in a hash of the whole id."""
    name = test_id.replace("::", "--").replace("/", ".").replace("\\", ".")
    name = name.replace("[", "-").replace("]", "")
    name = _UNSAFE.sub("_", name).lstrip(".-_") or "test"
    if len(name) > MAX_NAME:
        digest = hashlib.sha1(test_id.encode()).hexdigest()[:8]
        name = name[: MAX_NAME - 9].rstrip(".-_") + "-" + digest
    return name


def keep_evidence(
    lab: Lab,
    dest: Path,
    *,
    call: CallResult | None = None,
    error: str | None = None,
    capture: Capture | None = None,
    extra: dict[str, str] | None = None,
) -> Evidence:
    """Copy lab `lab`'s evidence into `dest` (replaced) while the lab is still up; stop
    `capture` first so its pcaps are complete. `extra` are more files to write there
    (name → text: a test's failure message). OSError when `dest` cannot be written."""
    if capture is not None:
        capture.stop()
    discard(dest)
    if dest.exists():
        raise OSError(f"{dest} exists and was not kept by nattest: not replacing it")
    dest.mkdir(parents=True)
    (dest / MARKER).touch()
    copy_lab_files(lab.workdir, dest)
    if capture is not None:
        pcaps = dest / "pcap"
        if capture.folder.resolve() != (lab.workdir / "pcap").resolve():
            shutil.copytree(capture.folder, pcaps, dirs_exist_ok=True)
        (pcaps / "interfaces.txt").write_text(capture.interfaces_text())
        (pcaps / "summary.txt").write_text(pcap_summary(capture.pcaps()))
    texts = dict(extra or {})
    if call is not None:
        texts["call.json"] = call.to_json() + "\n"
    if error:
        texts["error.txt"] = error + "\n"
    for name, text in texts.items():
        (dest / name).write_text(text)
    kept = Evidence(folder=str(dest), files=list_files(dest))
    log.info("lab %s: evidence kept in %s (%d files)", lab.name, dest, len(kept.files))
    return kept


def discard(dest: Path) -> bool:
    """Remove a folder of evidence kept by an earlier run (one with ``MARKER``): a test or
    cell that passes now leaves no stale evidence. Anything else is left alone."""
    if (dest / MARKER).is_file():
        shutil.rmtree(dest)
        return True
    return False


def copy_lab_files(workdir: Path, dest: Path) -> list[Path]:
    """Copy what ``KEPT`` names from a lab folder into `dest`, never a secret; returns the
    copies."""
    copied = []
    seen: set[Path] = set()
    for pattern in KEPT:
        for src in sorted(workdir.glob(pattern)):
            if src in seen or not src.is_file() or is_secret(src):
                continue
            seen.add(src)
            target = dest / src.relative_to(workdir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            copied.append(target)
    return copied


def is_secret(path: Path) -> bool:
    """Whether a lab file holds a secret (``SECRET``, ``SECRET_SUFFIXES``)."""
    return path.name in SECRET or path.name.endswith(SECRET_SUFFIXES)


def list_files(folder: Path) -> list[str]:
    """Files under `folder`, relative POSIX paths, ``FIRST`` ones first, then by path."""
    files = [
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != MARKER
    ]
    return sorted(files, key=lambda f: (FIRST.index(f) if f in FIRST else len(FIRST), f))


def pcap_summary(pcaps: list[Path]) -> str:
    """One line per pcap: its packets by kind (``nattest.evidence.pcap.summary``)."""
    from nattest.evidence.pcap import read_pcap, summary

    lines = ["# packets per kind (RFC 7983 demultiplexing of UDP payloads)"]
    for path in pcaps:
        try:
            packets = read_pcap(path.read_bytes())
        except (OSError, ValueError) as e:
            lines.append(f"{path.name}: unreadable ({e})")
            continue
        kinds = ", ".join(f"{k} {n}" for k, n in summary(packets).items()) or "nothing"
        lines.append(f"{path.name}: {len(packets)} packets: {kinds}")
    return "\n".join(lines) + "\n"


def add_file(dest: Path, name: str, text: str) -> Evidence:
    """Add one file to a kept folder (a matrix cell's verdict, once judged); returns the
    folder's Evidence with it listed."""
    (dest / name).write_text(text)
    return Evidence(folder=str(dest), files=list_files(dest))


__all__ = [
    "RESULTS_DIR",
    "EvidenceOptions",
    "add_file",
    "copy_lab_files",
    "discard",
    "folder_name",
    "is_secret",
    "keep_evidence",
    "list_files",
    "pcap_summary",
]
