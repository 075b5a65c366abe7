"""The evidence of one test's labs, kept only if the test fails (the pytest plugin's).

    ev = TestEvidence(options, "tests/test_x.py::test_y", staging=tmp)
    lab = build_lab(...); ev.started(lab)           # starts its capture (with --capture)
    ev.stage(lab, call=result); lab.down()          # a lab going down before the verdict
    ev.finish(failed=True, failure="assert ...")    # results/tests.test_x.py--test_y/

A test's verdict comes after its body, but a lab may be gone by then (``nattest_call``
tears its lab down as soon as the call returns), so such a lab's evidence is *staged*
(copied to a scratch folder) before it goes, and kept or dropped at the end. Labs still
up at the end are kept from where they are. A test with one lab keeps it in
`<results>/<test id>/`; with several, one subfolder per lab. A passing test removes what an
earlier failing run of it kept.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from nattest.evidence.capture import Capture, start_capture
from nattest.evidence.keep import MARKER, EvidenceOptions, discard, keep_evidence, list_files
from nattest.evidence.model import Evidence

if TYPE_CHECKING:
    from nattest.backends.base import Lab
    from nattest.call.result import CallResult

log = logging.getLogger("nattest.evidence")


class TestEvidence:
    """The labs of one test, their captures, and what they keep if the test fails."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, options: EvidenceOptions, test_id: str, staging: Callable[[], Path]) -> None:
        self.options = options
        """Capture or not, and where evidence goes."""
        self.test_id = test_id
        """The test's id (its node id): the folder name comes from it."""
        self._staging = staging
        self._stage_root: Path | None = None
        self.labs: list[Lab] = []
        """Every lab of the test, in the order they were built."""
        self.captures: dict[str, Capture] = {}
        """Running captures by lab name."""
        self.staged: dict[str, Path] = {}
        """Lab name → its staged evidence (labs torn down before the verdict)."""

    @property
    def folder(self) -> Path:
        """Where this test's evidence goes: `<results>/<test id>/`."""
        return self.options.folder(self.test_id)

    def started(self, lab: Lab) -> None:
        """A lab of this test is up: capture it when asked to (LabError if tcpdump cannot
        start; the lab is still recorded, so it is torn down with the rest)."""
        self.labs.append(lab)
        if self.options.capture:
            self.captures[lab.name] = start_capture(lab)

    def stage(self, lab: Lab, *, call: CallResult | None = None, error: str | None = None) -> None:
        """Copy `lab`'s evidence aside now (it is about to go down); a failure to copy is
        logged, never raised over the test's own outcome."""
        if self._stage_root is None:
            self._stage_root = self._staging()
        dest = self._stage_root / lab.name
        try:
            keep_evidence(
                lab, dest, call=call, error=error, capture=self.captures.pop(lab.name, None)
            )
        except OSError as e:
            log.warning("lab %s: cannot stage its evidence in %s: %s", lab.name, dest, e)
            return
        self.staged[lab.name] = dest

    def finish(self, failed: bool, failure: str = "") -> Evidence | None:
        """Keep every lab's evidence if the test `failed` (with the `failure` text), else
        drop the staged copies and any stale folder. Stops the captures either way; call it
        before the labs go down. Returns what was kept."""
        try:
            if not failed:
                for capture in self.captures.values():
                    capture.stop()
                discard(self.folder)
                return None
            return self._keep(failure)
        except OSError as e:
            log.warning("%s: cannot keep its evidence in %s: %s", self.test_id, self.folder, e)
            return None
        finally:
            for capture in self.captures.values():
                capture.stop()
            self.captures.clear()
            if self._stage_root is not None:
                shutil.rmtree(self._stage_root, ignore_errors=True)

    def _keep(self, failure: str) -> Evidence:
        root = self.folder
        extra = {"failure.txt": failure + "\n"} if failure else {}
        if len(self.labs) == 1:
            self._keep_lab(self.labs[0], root, extra)
        else:
            discard(root)
            root.mkdir(parents=True, exist_ok=True)
            (root / MARKER).touch()
            for name, text in extra.items():
                (root / name).write_text(text)
            for lab in self.labs:
                self._keep_lab(lab, root / lab.name, {})
        kept = Evidence(folder=str(root), files=list_files(root))
        log.info("%s failed: evidence kept in %s", self.test_id, root)
        return kept

    def _keep_lab(self, lab: Lab, dest: Path, extra: dict[str, str]) -> None:
        staged = self.staged.get(lab.name)
        if staged is None:  # still up: keep it from where it is
            keep_evidence(lab, dest, capture=self.captures.pop(lab.name, None), extra=extra)
            return
        discard(dest)
        shutil.copytree(staged, dest)
        for name, text in extra.items():
            (dest / name).write_text(text)


__all__ = ["TestEvidence"]
