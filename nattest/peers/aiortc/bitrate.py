"""Per-second bitrate of a call: getStats once a second, deltas per media kind.

``totals`` (a getStats report → counters per kind) and ``rates`` (two totals → one
``BitrateSample`` per kind) are pure; ``BitrateSampler`` is the task that calls getStats
every ``INTERVAL`` seconds from connected to the end of the media phase. The figures are
webrtc-internals' derived ones: ``[bytesSent_in_bits/s]`` is the outbound-rtp
``bytesSent`` delta × 8 over the interval. aiortc reports no inbound ``bytesReceived``, so
the inbound side is ``packetsReceived`` per second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nattest.call.result import BitrateSample

log = logging.getLogger("nattest.peers.aiortc.bitrate")

INTERVAL = 1.0
"""Seconds between two getStats reports."""
STATS_TIMEOUT = 2.0
"""Seconds one getStats may take before the sample is skipped."""

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


class BitrateSampler:
    """Samples `get_stats` every INTERVAL seconds in the background until ``stop()``.

    `clock` gives the call's time for each sample (``StateEvent.t``'s clock)."""

    def __init__(self, get_stats: Callable[[], Any], clock: Callable[[], float], name: str) -> None:
        self.samples: list[BitrateSample] = []
        """Samples so far, both kinds, in time order."""
        self.errors = 0
        """getStats calls that failed or timed out (their second is missing)."""
        self._get_stats = get_stats
        self._clock = clock
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self) -> None:
        """Start sampling (once)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def _report(self) -> dict[Kind, Totals] | None:
        try:
            return totals(await asyncio.wait_for(self._get_stats(), STATS_TIMEOUT))
        except Exception as exc:
            self.errors += 1
            log.debug("[%s] getStats for bitrate failed: %s", self._name, exc)
            return None

    async def _run(self) -> None:
        before, t_before = await self._report(), time.monotonic()
        next_at = t_before + INTERVAL
        while not self._stopped:
            await asyncio.sleep(max(next_at - time.monotonic(), 0))
            next_at += INTERVAL
            after, t_after = await self._report(), time.monotonic()
            if before is not None and after is not None:
                self.samples += rates(before, after, t_after - t_before, self._clock())
            before, t_before = after, t_after

    async def stop(self) -> None:
        """Stop sampling; the samples taken stay. Bounded: Python 3.11's ``wait_for`` can
        lose a cancellation that meets a finishing getStats (the sampler then went on, and
        awaiting it hung a peer after its call), so the loop also checks a flag, and the
        wait for it ends after one getStats timeout whatever happens."""
        self._stopped = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=STATS_TIMEOUT + INTERVAL)
            if not self._task.done():
                log.warning("[%s] bitrate sampler did not stop", self._name)
                self._task.cancel()


__all__ = ["INTERVAL", "BitrateSampler", "Totals", "rates", "totals"]
