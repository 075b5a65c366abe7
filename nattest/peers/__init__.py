"""Peer kinds: the WebRTC stacks that run each side of a call inside a lab node.

A kind is a ``PeerKind`` (``base.py``) registered under the entry-point group
``nattest.peers``; a call picks one per side (``CallSpec.caller_kind``/``callee_kind``).
Each kind is a package holding the code that runs inside the node and the host-side class
that launches it and reads its result:

- ``aiortc/``: aiortc + aioice in a Python process (``python -m nattest.peers.aiortc``);
- ``chromium/``: a headless Chromium (libwebrtc) in the node, its page driven and read by
  ``python -m nattest.peers.chromium``.

Both agents take one command line (``agent_cli``, built by ``base.agent_arguments``).
"""

from __future__ import annotations

from nattest.peers.base import PeerKind, PeerLaunch
from nattest.plugins import Registry

DEFAULT = "aiortc"
"""The peer kind of both sides unless asked otherwise."""
PEERS: Registry[PeerKind] = Registry(
    "nattest.peers",
    PeerKind,
    "peer kind",
    {
        "aiortc": "nattest.peers.aiortc:AiortcPeer",
        "chromium": "nattest.peers.chromium:ChromiumPeer",
    },
)
"""Every registered peer kind."""


def available() -> list[str]:
    """Names of the registered peer kinds."""
    return PEERS.names()


def get_peer_kind(name: str = DEFAULT) -> PeerKind:
    """The peer kind called `name`; UsageError naming the registered ones."""
    return PEERS.get(name)


__all__ = ["DEFAULT", "PEERS", "PeerKind", "PeerLaunch", "available", "get_peer_kind"]
