"""Where a failing test's or cell's evidence was kept: pure data for reports."""

from __future__ import annotations

from pydantic import Field

from nattest.model.base import Model


class Evidence(Model):
    """A folder of kept evidence (`results/<test id>/`) and the files in it."""

    folder: str
    """The folder, as the run named it (relative to its working directory, or absolute)."""
    files: list[str] = Field(default_factory=list)
    """Its files, relative POSIX paths, the ones to read first first: `cell.json`,
    `call.json`, the peers' logs and results (`calls/<room>/alice.log`), `pcap/<node>.pcap`,
    `repro.sh`, the rulesets."""

    def pcaps(self) -> list[str]:
        """The pcap files among them."""
        return [f for f in self.files if f.endswith(".pcap")]


__all__ = ["Evidence"]
