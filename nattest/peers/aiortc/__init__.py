"""The aiortc peer kind: aiortc + aioice running one side of a call in a Python process.

Inside the node (one peer per process: aioice gathers the interfaces of the namespace it
runs in)::

    python -m nattest.peers.aiortc --name alice --role caller --signaling ws://IP:PORT \\
        --room r1 [--stun stun:IP:PORT] [--turn turn:IP:PORT?transport=udp] \\
        [--turn-username U] [--policy all|relay] --result alice.json

(the TURN password comes from ``NATTEST_TURN_CREDENTIAL``). Modules: ``agent`` (the call),
``config`` (what it is told), ``collect`` (aiortc objects → results), ``ice_adapter`` (the
only reader of aioice internals), ``media``, ``signal_client``, ``turn`` (TURN preflight).

This module is the host side, ``AiortcPeer``: it imports no aiortc.
"""

from __future__ import annotations

from nattest.call.result import CandidatePair, PeerResult
from nattest.peers.base import PythonAgentKind

MODULE = "nattest.peers.aiortc"
"""The module a node runs (``python -m``)."""


class AiortcPeer(PythonAgentKind):
    """aiortc 1.16 / aioice 0.13, judged against aiortc's own expectations."""

    name = "aiortc"
    summary = "aiortc + aioice (Python), one process per peer"
    expectations = "aiortc"
    module = MODULE
    python_modules = (MODULE,)

    def reported_pair(self, me: PeerResult, other: PeerResult) -> CandidatePair | None:
        """`me`'s selected pair with the local candidate typed the way libwebrtc reports it.

        aioice keeps the host candidate as the local side of a pair even behind a NAT (the
        srflx candidate is pruned to its base, RFC 8445 6.1.2.4). libwebrtc instead adopts
        the mapped address of the check's response: the matching srflx candidate, or a new
        peer-reflexive one. The other peer's remote candidate *is* that mapped address.
        """
        pair = me.selected_pair
        if pair is None or other.selected_pair is None or pair.local.type == "relay":
            return pair
        seen = other.selected_pair.remote
        match = next(
            (c for c in me.local_candidates if (c.address, c.port) == (seen.address, seen.port)),
            None,
        )
        local = match or seen.model_copy(update={"type": "prflx", "url": None})
        return pair.model_copy(update={"local": local})


__all__ = ["MODULE", "AiortcPeer"]
