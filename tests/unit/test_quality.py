"""quality_score / call_quality: the documented 1..5 heuristic."""

from __future__ import annotations

import pytest

from nattest.call.quality import call_quality, peer_loss_fraction, quality_score
from nattest.call.result import PeerResult, RtpStats, Stats


@pytest.mark.parametrize(
    ("loss", "jitter", "rtt", "expected"),
    [
        (0.0, 0.0, 0.0, 5.0),
        (0.0, 0.0, None, 5.0),  # unknown RTT: no penalty
        (0.01, 0.0, 0.0, 4.2),  # 1 % loss costs 0.8: the first percents cost most
        (0.02, 0.0, 0.0, 5 - 8 / 6),
        (0.05, 0.0, 0.0, 5 - 20 / 9),
        (0.20, 0.0, 0.0, 5 - 80 / 24),
        (1.0, 0.0, 0.0, 1.0),  # nothing arrived
        (0.0, 0.030, 0.0, 5.0),  # thresholds are strict
        (0.0, 0.031, 0.0, 4.0),
        (0.0, 0.051, 0.0, 3.0),
        (0.0, 0.0, 0.151, 4.5),
        (0.0, 0.0, 0.301, 3.5),
        (0.0, 0.06, 0.4, 1.5),
        (0.5, 0.1, 1.0, 1.0),  # clamped at 1
        (-0.2, 0.0, 0.0, 5.0),  # clamped loss
    ],
)
def test_quality_score(loss: float, jitter: float, rtt: float | None, expected: float) -> None:
    assert quality_score(loss, jitter, rtt) == pytest.approx(expected)


def _peer(
    role: str,
    received: int,
    lost: int,
    jitter: float = 0.0,
    rtt: float | None = None,
    outcome: str = "connected",
) -> PeerResult:
    rtp = [
        RtpStats(kind="audio", packets_received=received, packets_lost=lost, jitter=jitter),
        RtpStats(kind="video", packets_received=received, packets_lost=0),
    ]
    return PeerResult.model_validate(
        {
            "name": role,
            "role": role,
            "outcome": outcome,
            "stats": Stats(current_round_trip_time=rtt, rtp=rtp),
        }
    )


def test_loss_fraction_counts_all_kinds() -> None:
    assert peer_loss_fraction(_peer("caller", 90, 20)) == pytest.approx(20 / 200)


def test_loss_fraction_is_total_when_nothing_arrived() -> None:
    assert peer_loss_fraction(_peer("caller", 0, 0)) == 1.0


def test_call_quality_is_the_worst_side() -> None:
    good = _peer("caller", 100, 0, rtt=0.01)
    jittery = _peer("callee", 100, 0, jitter=0.06, rtt=0.2)
    assert call_quality(good, jittery) == pytest.approx(2.5)
    assert call_quality(jittery, good) == pytest.approx(2.5)


def test_call_quality_of_a_failed_peer_is_one() -> None:
    good = _peer("caller", 100, 0)
    failed = _peer("callee", 0, 0, outcome="failed")
    assert call_quality(good, failed) == 1.0
