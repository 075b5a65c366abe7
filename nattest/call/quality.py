"""A 1..5 call-quality score from loss, jitter and round-trip time.

The score is a deliberately simple, documented heuristic (not an E-model/MOS estimate):
it starts at 5 and subtracts

* for packet loss, ``4 × L / (L + 4)`` points with L the loss in percent: the shape of
  ITU-T G.107's effective equipment impairment ``Ie-eff = (95 − Ie) · L / (L + Bpl)``,
  where the first percents cost most (0.8 points for 1 %, 1.3 for 2 %, 2.2 for 5 %,
  3.3 for 20 %; close to the E-model's MOS for a codec with Bpl ≈ 10 at small losses),
* 1 for jitter above 30 ms and 1 more above 50 ms,
* 0.5 for a round-trip time above 150 ms and 1 more above 300 ms,

then clamps to 1..5 (total loss scores 1). ``call_quality`` scores each peer's receive
side and keeps the worst.
"""

from __future__ import annotations

from nattest.call.result import PeerResult

JITTER_WARN_S = 0.030
"""Jitter above this costs one point."""
JITTER_BAD_S = 0.050
"""Jitter above this costs one more point."""
RTT_WARN_S = 0.150
"""Round-trip time above this costs half a point."""
RTT_BAD_S = 0.300
"""Round-trip time above this costs one more point."""
LOSS_POINTS = 4.0
"""Points loss takes away as it approaches 100 %."""
LOSS_ROBUSTNESS = 4.0
"""Loss (percent) that costs half of ``LOSS_POINTS``: the curve's knee."""
MIN_SCORE = 1.0
"""Worst score."""
MAX_SCORE = 5.0
"""Best score."""


def quality_score(loss_fraction: float, jitter_s: float, rtt_s: float | None) -> float:
    """Score one direction of a call: 5 (perfect) .. 1 (unusable).

    ``loss_fraction`` is 0..1 (values outside are clamped), ``jitter_s`` the interarrival
    jitter (RFC 3550 6.4.1) in seconds, ``rtt_s`` the round-trip time in seconds or
    None when unknown (no penalty).
    """
    loss = 100.0 * min(max(loss_fraction, 0.0), 1.0)
    if loss >= 100.0:
        return MIN_SCORE  # nothing arrived
    score = MAX_SCORE - LOSS_POINTS * loss / (loss + LOSS_ROBUSTNESS)
    if jitter_s > JITTER_WARN_S:
        score -= 1.0
    if jitter_s > JITTER_BAD_S:
        score -= 1.0
    if rtt_s is not None:
        if rtt_s > RTT_WARN_S:
            score -= 0.5
        if rtt_s > RTT_BAD_S:
            score -= 1.0
    return min(max(score, MIN_SCORE), MAX_SCORE)


def peer_loss_fraction(peer: PeerResult) -> float:
    """Fraction of RTP packets this peer expected but did not receive, all kinds together.

    A peer that received nothing at all counts as total loss (1.0).
    """
    received = sum(s.packets_received for s in peer.stats.rtp)
    lost = sum(max(s.packets_lost, 0) for s in peer.stats.rtp)
    expected = received + lost
    if expected == 0:
        return 1.0
    return lost / expected


def peer_jitter(peer: PeerResult) -> float:
    """Worst inbound-rtp jitter (seconds) over the media kinds of this peer."""
    return max((s.jitter for s in peer.stats.rtp), default=0.0)


def peer_quality(peer: PeerResult) -> float:
    """Quality of what this peer received (1 when it never connected)."""
    if peer.outcome != "connected":
        return MIN_SCORE
    return quality_score(
        peer_loss_fraction(peer), peer_jitter(peer), peer.stats.current_round_trip_time
    )


def call_quality(caller: PeerResult, callee: PeerResult) -> float:
    """Quality of a call: the worse of both peers' receive sides."""
    return min(peer_quality(caller), peer_quality(callee))
