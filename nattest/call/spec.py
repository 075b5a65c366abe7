"""CallSpec: how to run one call, as data; and which lab a call runs in.

    spec = CallSpec(policy="relay", turn_transport="tls", caller_kind="aiortc")

Faults (``faults=["3s:cut nat-a"]``, ``nattest.call.faults``) are applied to the lab while
the peers run, at times since the call started.

Peer kinds name registered ``nattest.peers`` (both ``aiortc`` by default). TURN transports
are per peer: unless ``peer_transports`` says otherwise, a peer behind a firewall that drops
UDP reaches TURN over TCP when the call uses UDP (``tcp_turn_overrides``), the one place
that rule lives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from nattest.call.faults import Fault, parse_faults
from nattest.call.result import Policy, Transport
from nattest.errors import UsageError
from nattest.model.topology import Topology


@dataclass(frozen=True)
class CallSpec:
    """How to run a call."""

    policy: Policy = "all"
    """iceTransportPolicy of both peers."""
    turn_transport: Transport = "udp"
    """Transport to the TURN server (udp, tcp, tls)."""
    peer_transports: dict[str, Transport] | None = None
    """Per-peer override of `turn_transport`; None: derived from the topology
    (``tcp_turn_overrides``)."""
    stun: bool = True
    """Give the peers the lab's STUN server."""
    turn: bool = True
    """Give the peers the lab's TURN server."""
    duration: float = 2.0
    """Seconds of media after connecting."""
    connect_timeout: float = 10.0
    """Seconds ICE + DTLS may take before the peer reports failure."""
    video: Literal["pattern", "noise"] = "pattern"
    """Synthetic video content: `pattern` (a moving bar, cheap to encode) or `noise` (random,
    so the sender wants its full bitrate: bandwidth estimation under a rate limit)."""
    video_size: str | None = None
    """`WxH` of the synthetic video (peer default 640x480)."""
    caller_kind: str = "aiortc"
    """Peer kind of the caller (a registered `nattest.peers` name)."""
    callee_kind: str = "aiortc"
    """Peer kind of the callee."""
    faults: Sequence[Fault | str] = ()
    """Faults to apply during the call (``nattest.call.faults``): Faults or their text
    (`3s:cut nat-a`), kept as Faults in time order."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "faults", parse_faults(self.faults, "faults"))

    @property
    def schedule(self) -> tuple[Fault, ...]:
        """The faults as Faults, in time order."""
        return parse_faults(self.faults, "faults")

    def transport_for(self, peer: str) -> Transport:
        """The TURN transport of one peer."""
        return (self.peer_transports or {}).get(peer, self.turn_transport)

    def resolved(self, topology: Topology) -> CallSpec:
        """This spec with `peer_transports` filled in from the topology when not given."""
        if self.peer_transports is not None:
            return self
        overrides = tcp_turn_overrides(topology, self.turn_transport)
        return dataclasses.replace(self, peer_transports=overrides)


def tcp_turn_overrides(topology: Topology, transport: Transport = "udp") -> dict[str, Transport]:
    """Peers that must reach TURN over TCP: behind a firewall that drops UDP, when the
    call would otherwise use TURN over UDP."""
    if transport != "udp":
        return {}
    return {host: "tcp" for host in topology.hosts if topology.blocks_udp(host)}


def call_topology(topology_file: str | None, pair: str | None) -> Topology:
    """The lab of `nattest call`: a TOPOLOGY file, or `--pair CALLER:CALLEE` configurations
    (the standard two-peer lab). UsageError unless exactly one is given."""
    from nattest.model.configs import pair_topology
    from nattest.model.load import load_topology

    if bool(topology_file) == bool(pair):
        raise UsageError("give a TOPOLOGY file or --pair CALLER:CALLEE (one of them)")
    if pair:
        caller, sep, callee = pair.partition(":")
        if not sep:
            raise UsageError(f"--pair {pair!r}: expected CALLER:CALLEE, e.g. symmetric:full-cone")
        return pair_topology(caller, callee)
    return load_topology(str(topology_file))


__all__ = ["CallSpec", "call_topology", "tcp_turn_overrides"]
