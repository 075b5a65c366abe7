"""Per-second rates of a call from two getStats reports: counters per media kind
(``totals``) and the samples between two of them (``rates``). Pure; shared by the peer
kinds. The figures are webrtc-internals' derived ones: ``[bytesSent_in_bits/s]`` is the
outbound-rtp ``bytesSent`` delta × 8 over the interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nattest.call.result import BitrateSample

Kind = Literal["audio", "video"]
KINDS: tuple[Kind, ...] = ("audio", "video")
"""Media kinds sampled."""


@dataclass(frozen=True)
class Totals:
    """Cumulative counters of one media kind at one moment."""

    bytes_sent: int = 0
    """outbound-rtp bytesSent."""
    packets_sent: int = 0
    """outbound-rtp packetsSent."""
    packets_received: int = 0
    """inbound-rtp packetsReceived."""


def totals(report: Mapping[str, Any]) -> dict[Kind, Totals]:
    """Counters per kind from a getStats report (entries with `type` and `kind`)."""
    acc: dict[Kind, dict[str, int]] = {k: {"bs": 0, "ps": 0, "pr": 0} for k in KINDS}
    for stat in report.values():
        kind = getattr(stat, "kind", None)
        if kind not in acc:
            continue
        if stat.type == "outbound-rtp":
            acc[kind]["bs"] += int(getattr(stat, "bytesSent", 0) or 0)
            acc[kind]["ps"] += int(getattr(stat, "packetsSent", 0) or 0)
        elif stat.type == "inbound-rtp":
            acc[kind]["pr"] += int(getattr(stat, "packetsReceived", 0) or 0)
    return {k: Totals(v["bs"], v["ps"], v["pr"]) for k, v in acc.items()}


def rates(
    before: Mapping[Kind, Totals], after: Mapping[Kind, Totals], interval: float, t: float
) -> list[BitrateSample]:
    """One sample per kind over `interval` seconds ending at `t`. A counter that went
    backwards (a stream replaced) counts from zero; no interval, no samples."""
    if interval <= 0:
        return []
    out = []
    for kind in KINDS:
        a, b = before.get(kind, Totals()), after.get(kind, Totals())

        def delta(x: int, y: int) -> int:
            return y - x if y >= x else y

        out.append(
            BitrateSample(
                t=round(t, 3),
                kind=kind,
                interval=round(interval, 3),
                bytes_sent_in_bits_per_s=round(delta(a.bytes_sent, b.bytes_sent) * 8 / interval),
                packets_sent_per_s=round(delta(a.packets_sent, b.packets_sent) / interval, 1),
                packets_received_per_s=round(
                    delta(a.packets_received, b.packets_received) / interval, 1
                ),
            )
        )
    return out


__all__ = ["KINDS", "Kind", "Totals", "rates", "totals"]
