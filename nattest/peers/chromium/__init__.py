"""The ``chromium`` peer kind: libwebrtc, the ICE stack browsers ship, behind the lab's NATs.

A headless Debian ``chromium`` runs inside the node with a page that speaks the lab's
signaling protocol (``page/``), driven and read by an agent process
(``python -m nattest.peers.chromium``, ``agent.py``) that writes the same PeerResult as the
aiortc peer. It trickles candidates to a kind that takes them and restarts ICE (as the
caller) when its connection goes disconnected and the other side can answer a new offer.

This module is the host side, ``ChromiumPeer``: it starts the agent like any Python peer.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from nattest.call.result import CandidatePair, PeerResult
from nattest.errors import UsageError
from nattest.peers.base import PeerLaunch, PythonAgentKind
from nattest.peers.chromium.browser import find_binary

if TYPE_CHECKING:
    from nattest.backends.base import Lab, Process

MODULE = "nattest.peers.chromium"
"""Module run inside the node."""


class ChromiumPeer(PythonAgentKind):
    """Headless Chromium (libwebrtc) driven by ``python -m nattest.peers.chromium``."""

    name = "chromium"
    summary = "headless Chromium (libwebrtc), one browser per peer"
    expectations = "chromium"
    module = MODULE
    python_modules = (MODULE,)
    capabilities = frozenset({"trickle", "ice-restart"})
    matrix_jobs = 3  # a browser per side: on 2 cores, 3 cells (6 browsers) at once

    def check(self) -> None:
        """UsageError saying what to run when there is no Chromium here."""
        if find_binary() is None:
            raise UsageError(
                "peer kind 'chromium' needs a Chromium browser (chromium on PATH, or "
                "NATTEST_CHROMIUM): run `make deps-browser`"
            )

    def start(self, lab: Lab, launch: PeerLaunch, log: IO[Any]) -> Process:
        """As any Python agent, on a backend whose nodes have the host's browser."""
        if lab.backend != "netns":
            raise UsageError(
                f"peer kind 'chromium' runs on the netns backend only (the {lab.backend} "
                "backend's image has no browser): use --backend netns"
            )
        return super().start(lab, launch, log)

    def reported_pair(self, me: PeerResult, other: PeerResult) -> CandidatePair | None:
        """`me`'s selected pair, with the address Chromium hides from getStats filled in: a
        peer-reflexive remote candidate is reported without one, and it is the address
        the other peer sent from, its local side of the same pair when it reports it."""
        pair = me.selected_pair
        if pair is None or pair.remote.address or other.selected_pair is None:
            return pair
        seen = other.selected_pair.local
        if seen.type not in ("prflx", "srflx") or seen.protocol != pair.remote.protocol:
            return pair
        remote = pair.remote.model_copy(update={"address": seen.address, "port": seen.port})
        return pair.model_copy(update={"remote": remote})


__all__ = ["MODULE", "ChromiumPeer"]
