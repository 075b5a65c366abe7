"""Merge two peers' results into one CallResult (pure).

The pairs the CallResult reports come from each side's peer kind
(``PeerKind.reported_pair``): merging does not know how any stack types its candidates.
"""

from __future__ import annotations

from nattest.call.quality import call_quality
from nattest.call.result import CallResult, CandidatePair, PeerResult, Policy, Transport


def merge_call(
    topology: str,
    caller: PeerResult,
    callee: PeerResult,
    policy: Policy | None = None,
    turn_transport: Transport | None = None,
    lab_setup: float | None = None,
    *,
    selected_pair: CandidatePair | None = None,
    callee_pair: CandidatePair | None = None,
) -> CallResult:
    """One CallResult from the caller's and callee's PeerResults.

    ``policy`` defaults to the caller's; ``turn_transport`` to the relay protocol of the
    caller's relay candidates (udp when there are none). Quality is ``call_quality``.
    ``selected_pair``/``callee_pair`` are each side's pair as its peer kind reports it
    (default: as the peer itself reported it).
    """
    if caller.role != "caller" or callee.role != "callee":
        raise ValueError(
            f"merge_call: expected a caller and a callee, got {caller.name} as {caller.role} "
            f"and {callee.name} as {callee.role}"
        )
    if turn_transport is None:
        relays = [c.relay_protocol for c in caller.local_candidates if c.relay_protocol]
        turn_transport = relays[0] if relays else "udp"
    return CallResult(
        topology=topology,
        caller=caller,
        callee=callee,
        policy=policy or caller.policy,
        turn_transport=turn_transport,
        quality=round(call_quality(caller, callee), 2),
        lab_setup=lab_setup,
        selected_pair=selected_pair or caller.selected_pair,
        callee_pair=callee_pair or callee.selected_pair,
    )


__all__ = ["merge_call"]
