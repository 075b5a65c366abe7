"""Per-second bitrate of a call: getStats once a second, deltas per media kind.

``totals`` and ``rates`` (``nattest.peers.rates``: a getStats report → counters per
kind, two totals → one ``BitrateSample`` per kind) are pure; ``BitrateSampler`` is the
task that calls getStats
every ``INTERVAL`` seconds from connected to the end of the media phase. The figures are
webrtc-internals' derived ones: ``[bytesSent_in_bits/s]`` is the outbound-rtp
``bytesSent`` delta × 8 over the interval. aiortc reports no inbound ``bytesReceived``, so
the inbound side is ``packetsReceived`` per second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from nattest.call.result import BitrateSample
from nattest.peers.rates import Kind, Totals, rates, totals

log = logging.getLogger("nattest.peers.aiortc.bitrate")

INTERVAL = 1.0
"""Seconds between two getStats reports."""
STATS_TIMEOUT = 2.0
"""Seconds one getStats may take before the sample is skipped."""


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
