"""Links from the HTML report to the evidence failing cells kept: pure, paths only."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from nattest.evidence.model import Evidence


def evidence_href(folder: str, file: str = "", base: str | Path | None = None) -> str:
    """A URL for a kept folder (or a file in it), relative to `base`, the folder of the
    page; with `base` None, the folder as recorded. A folder's URL ends in `/`."""
    target = str(PurePosixPath(folder.replace(os.sep, "/")) / file) if file else folder
    if base is not None:
        target = os.path.relpath(target, base)
    href = quote(target.replace(os.sep, "/"))
    return href if file else href.rstrip("/") + "/"


def evidence_block(ev: Evidence, base: str | Path | None = None) -> str:
    """The kept folder and each of its files as links (pcaps first), escaped HTML."""
    files = ev.pcaps() + [f for f in ev.files if not f.endswith(".pcap")]
    links = " · ".join(
        f'<a href="{_e(evidence_href(ev.folder, f, base))}">{_e(f)}</a>' for f in files
    )
    folder = _e(evidence_href(ev.folder, base=base))
    return (
        f'<a class="mono" href="{folder}">{_e(ev.folder.rstrip("/"))}/</a>'
        f'<br><span class="mono">{links or "(no files)"}</span>'
    )


def _e(value: str) -> str:
    return escape(value, quote=True)


__all__ = ["evidence_block", "evidence_href"]
