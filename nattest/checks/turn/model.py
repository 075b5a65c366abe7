"""What ``nattest check-turn`` found, as data: a step per stage, a check per URL and
transport, the diagnoses in plain words. JSON with camelCase names, like every result."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from nattest.call.result import Transport
from nattest.model.base import Model

StepName = Literal["connect", "binding", "allocate", "relay", "call"]
STEPS: tuple[StepName, ...] = ("connect", "binding", "allocate", "relay", "call")
"""The stages, in order; each runs only when the ones before it worked."""


class StepResult(Model):
    """One stage of one check."""

    step: StepName
    """connect (DNS, TCP/TLS handshake, certificate), binding (STUN: the mapped address),
    allocate (the relayed address), relay (permission, channel, data both ways), call."""
    ok: bool
    """It worked."""
    seconds: float | None = None
    """How long it took."""
    detail: str = ""
    """What it found, in plain words (`relayed 203.0.113.3:50000, lifetime 600 s`)."""
    code: int | None = None
    """STUN/TURN error code of a failure (RFC 8489 / 8656), or the TLS verify code."""
    raw: str | None = None
    """The raw error, as the server or the library gave it (`401 Unauthorized`)."""
    failure: str | None = None
    """Kind of failure, for the diagnosis: dns, refused, timeout, reset, tls-untrusted,
    tls-name, tls-expired, tls, error-code, no-challenge, rejected-credentials,
    bad-response, permission, no-data."""


class Diagnosis(Model):
    """A named cause of a failure and how to fix it."""

    id: str
    """Stable id (`relay-address-private`), for scripts and docs/check-turn.md."""
    problem: str
    """What is wrong, in plain words."""
    fix: str
    """What to change."""


class TransportCheck(Model):
    """One URL over one transport."""

    url: str
    """The ICE server URL as checked (`turns:turn.example.com:5349?transport=tcp`)."""
    transport: Transport
    """udp, tcp or tls."""
    server: str | None = None
    """Address connected to (`203.0.113.2:3478`), once resolved."""
    steps: list[StepResult] = Field(default_factory=list)
    """The stages that ran, in order."""
    mapped: str | None = None
    """Our address as the server saw it (srflx)."""
    relayed: str | None = None
    """The relayed address of the allocation."""
    lifetime: int | None = None
    """Seconds the allocation was granted."""
    rtt_ms: float | None = None
    """Round trip through two allocations (A → relay → B → relay → A)."""
    selected_pair: str | None = None
    """The call's selected pair (relay↔relay)."""
    diagnoses: list[Diagnosis] = Field(default_factory=list)
    """Why it failed (empty when it worked)."""

    @property
    def ok(self) -> bool:
        """Every stage that ran worked, at least the allocation ran, and nothing was
        diagnosed (a private relayed address fails the check though every stage passed:
        no client on the internet could use it)."""
        ran = self.step("allocate") is not None
        return ran and all(s.ok for s in self.steps) and not self.diagnoses

    def step(self, name: StepName) -> StepResult | None:
        """The result of one stage, None when it did not run."""
        return next((s for s in self.steps if s.step == name), None)

    @property
    def failed(self) -> StepResult | None:
        """The stage that failed, if any."""
        return next((s for s in self.steps if not s.ok), None)


class TurnReport(Model):
    """A whole check-turn run."""

    checks: list[TransportCheck]
    """One per URL and transport, in order."""
    auth: Literal["long-term", "rest", "none"]
    """How credentials were given: --user/--password, --secret (REST API), or none."""
    username: str | None = None
    """The username used (never the password or secret)."""
    started: datetime
    """When the run started."""
    wall_time: float
    """Seconds the run took."""
    diagnoses: list[Diagnosis] = Field(default_factory=list)
    """Diagnoses across transports (UDP blocked while TCP/TLS work)."""

    @property
    def ok(self) -> bool:
        """Every requested transport works."""
        return bool(self.checks) and all(c.ok for c in self.checks)
