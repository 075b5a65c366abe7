"""`--capture` and `--results` of `nattest call`, `up` and `matrix`: pcaps and kept evidence."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import click

from nattest.cli.common import F, err, escape, out

if TYPE_CHECKING:
    from nattest.backends.base import Lab
    from nattest.call.result import CallResult
    from nattest.evidence.capture import Capture
    from nattest.evidence.keep import EvidenceOptions


def evidence_options(fn: F) -> F:
    """`--capture` (a pcap per node) and `--results DIR` (where evidence is kept)."""
    fn = click.option(
        "--results",
        "results_dir",
        type=click.Path(file_okay=False),
        default="results",
        show_default=True,
        help="Folder of kept evidence: pcaps, peer logs, CallResult, rulesets, repro.sh.",
    )(fn)
    return click.option(
        "--capture",
        is_flag=True,
        help="Record a pcap per node (tcpdump in each node's network namespace, never the host's).",
    )(fn)


def evidence_for(capture: bool, results_dir: str, *, strict: bool = False) -> EvidenceOptions:
    """The options, checked before anything is built (UsageError without tcpdump);
    `strict`: deviating matrix cells keep their evidence too."""
    from nattest.evidence.capture import check_capture
    from nattest.evidence.keep import EvidenceOptions

    if capture:
        check_capture()
    return EvidenceOptions(results=Path(results_dir), capture=capture, strict=strict)


def capture_running(lab: Lab, options: EvidenceOptions) -> Path:
    """`nattest up --capture`: tcpdump in every node of the lab, writing straight into
    `<results>/<lab>/pcap/` (outside the lab folder, so the pcaps outlive `nattest down`,
    whose teardown stops the tcpdumps: each flushes on SIGTERM). Tears the lab down if a
    capture cannot start. Returns the pcap folder."""
    from nattest.evidence.capture import start_capture
    from nattest.evidence.keep import MARKER, discard

    root = options.results / lab.name
    try:
        discard(root)
        folder = root / "pcap"
        folder.mkdir(parents=True, exist_ok=True)
        (root / MARKER).touch()
        capture = start_capture(lab, folder)
        (folder / "interfaces.txt").write_text(capture.interfaces_text())
    except BaseException:
        lab.down()
        raise
    return folder


class CallEvidence:
    """`nattest call`: capture the lab during the call (with --capture); afterwards, while
    the lab is still up, keep its evidence in `<results>/<lab>/` when the call failed or
    was captured. Use inside ``open_lab``; set ``result`` once the call returns."""

    def __init__(self, lab: Lab, options: EvidenceOptions) -> None:
        self.lab = lab
        self.options = options
        self.result: CallResult | None = None
        """The call, once it returned."""
        self.kept: Path | None = None
        """Where the evidence went, if it was kept."""
        self._capture: Capture | None = None

    def __enter__(self) -> CallEvidence:
        if self.options.capture:
            from nattest.evidence.capture import start_capture

            self._capture = start_capture(self.lab)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        from nattest.evidence.keep import keep_evidence

        if self._capture is not None:
            self._capture.stop()
        if kind is not None and not issubclass(kind, Exception):  # Ctrl-C: just go
            return
        call = self.result
        failed = exc is not None or call is None or not (call.connected and call.media_ok)
        if not (failed or self.options.capture):
            return
        dest = self.options.results / self.lab.name
        try:
            keep_evidence(
                self.lab, dest, call=self.result, error=str(exc) if exc else None,
                capture=self._capture,
            )  # fmt: skip
        except OSError as e:
            err.print(f"[dark_orange]warning:[/] cannot keep evidence in {escape(str(dest))}: {e}")
            return
        self.kept = dest
        if exc is not None:  # the error is printed next; say where to look first
            self.report()

    def report(self) -> None:
        """Say where the evidence is (after the call's summary)."""
        if self.kept is not None:
            out.print(
                f"evidence kept in [bold]{escape(str(self.kept))}/[/]",
                highlight=False,
                soft_wrap=True,
            )


__all__ = ["CallEvidence", "capture_running", "evidence_for", "evidence_options"]
