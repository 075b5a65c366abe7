"""How a connected call is doing, and why it was lost: consent freshness as it happens.

What aiortc 1.16 really does when a path dies mid-call (observed in the lab): it has no
``disconnected`` state, and no ``failed`` either. ``iceConnectionState`` stays
``completed`` until aioice gives up on consent (RFC 7675: 6 checks in a row without an
answer, one every 4-6 s, ≈ 30 s); aioice then closes its connection, which first deletes
its TURN allocation (a REFRESH with lifetime 0, retried for up to ≈ 63 s when the TURN
server is out of reach too) and only then wakes the DTLS transport, which closes; aiortc
then closes the whole peer connection: ``dtls closed``, ``iceConnection closed``,
``connection closed``. ``ConsentWatch`` sees every consent check
(``ice_adapter.watch_consent``) and records what aiortc does not say: a nattest-side
``iceConnection disconnected`` at the first check that went unanswered, ``completed``
again when one is answered, and ``failed`` at the check after which aioice gives up (the
moment aioice logs "Consent to send expired"). ``lost_reason`` says in network words why
a call that was up failed: which checks went unanswered on which pair, and for a relayed
pair whether the TURN server still allocates (a fresh allocation, like the preflight:
"the relay went away" when it does not).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from nattest.call.result import CandidatePair

log = logging.getLogger("nattest.peers.aiortc.health")

RELAY_PROBE_TIMEOUT = 2.0
"""Seconds the allocation that tells whether the relay is still there may take."""


@dataclass
class ConsentWatch:
    """Outcomes of the consent checks on the selected pair, on the call's clock."""

    clock: Callable[[], float]
    """The call's clock (``StateEvent.t``)."""
    on_state: Callable[[str, str], None]
    """Called with (state, detail) for each nattest-side iceConnection state."""
    limit: int = 6
    """Checks in a row without an answer after which aioice gives up (its
    ``CONSENT_FAILURES``)."""
    answered: int = 0
    """Checks answered."""
    unanswered: int = 0
    """Checks without an answer, in all."""
    in_a_row: int = 0
    """Checks without an answer since the last answered one."""
    last_answer: float | None = None
    """When the last answered check completed."""
    first_silence: float | None = None
    """When the first unanswered check of the current run gave up."""
    history: list[tuple[float, bool]] = field(default_factory=list)
    """(time, answered) of every check."""

    def on_check(self, ok: bool) -> None:
        """One consent check finished: answered (`ok`) or not."""
        t = self.clock()
        self.history.append((round(t, 3), ok))
        if ok:
            self.answered += 1
            if self.in_a_row:
                self.on_state("completed", "ICE consent check answered again")
            self.in_a_row, self.first_silence, self.last_answer = 0, None, t
            return
        self.unanswered += 1
        self.in_a_row += 1
        if self.in_a_row == 1:
            self.first_silence = t
            self.on_state("disconnected", "ICE consent check unanswered (RFC 7675)")
        if self.in_a_row == self.limit:
            why = f"{self.limit} ICE consent checks in a row unanswered: aioice gives up"
            self.on_state("failed", why)

    @property
    def expired(self) -> bool:
        """aioice has given up on consent: the connection is lost."""
        return self.in_a_row >= self.limit

    def text(self) -> str:
        """What consent freshness saw, for a failure reason."""
        since = "" if self.last_answer is None else f", the last answer at {self.last_answer:.1f} s"
        if not self.in_a_row:
            return (
                f"no consent check went unanswered ({self.answered} answered{since}): "
                "the connection was not lost to consent freshness"
            )
        return (
            f"{self.in_a_row} ICE consent checks in a row got no answer, the first at "
            f"{self.first_silence:.1f} s{since} (aioice gives up after {self.limit}, RFC 7675)"
        )


def lost_reason(
    into_media: float,
    pair: CandidatePair | None,
    consent: ConsentWatch,
    states: str,
    relay: str | None,
) -> str:
    """Why a connected call failed. `relay` is the outcome of a fresh TURN allocation
    (`ok` or why it failed), None when the pair is not relayed by this peer."""
    on = f"{pair.local.label()} ↔ {pair.remote.label()} [{pair.short()}]" if pair else "unknown"
    cause = "consent freshness lost" if consent.expired else "connection lost"
    text = (
        f"{cause} {into_media:.1f} s into the media phase on the selected pair {on}: "
        f"{consent.text()}; {states}"
    )
    if relay is not None and relay != "ok":
        return f"the relay went away: {text}; a new allocation fails too: {relay}"
    if relay == "ok":
        text += "; the TURN server still allocates (the path to the peer was lost, not it)"
    return text


__all__ = ["RELAY_PROBE_TIMEOUT", "ConsentWatch", "lost_reason"]
