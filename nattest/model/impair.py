"""Link impairments as data: delay, jitter, loss (random or in bursts), duplication,
reordering and rate, per direction of one link.

In a topology file a node's interface may carry ``impair:``; the same options apply to
both directions unless ``egress:`` (node → network) or ``ingress:`` (network → node) say
otherwise::

    nats:
      nat-a:
        wan: {network: internet, address: 203.0.113.11, impair: {delay: 80ms, loss: 3%}}
    hosts:
      alice: {network: lan-a, address: 10.0.1.10,
              impair: {rate: 1mbit, ingress: {loss: 5%, burst: 4}}}

A link is named ``node:interface`` (``nat-a:wan``, ``nat-a:lan``); a host or server has
one link and its name alone will do (``alice``).

On the command line (``--impair``, ``nattest impair``) the same options read
``delay:100ms,loss:5%,ingress.jitter:10ms``. How they are applied (a wire namespace per
impaired link: tbf, nftables ``numgen`` and the NFQUEUE shaper) is
``nattest.backends.wires``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_serializer, field_validator, model_validator

from nattest.errors import UsageError
from nattest.model.base import Spec

DIRECTIONS = ("egress", "ingress")
"""egress: from the node into its network; ingress: from the network to the node."""

_TIME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s)\s*$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)\s*$", re.IGNORECASE)
_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
_RATE_UNITS = {"bit": 1, "kbit": 1_000, "mbit": 1_000_000, "gbit": 1_000_000_000}

MAX_DELAY_S = 10.0
"""Longest delay (and jitter) a link may add."""
MIN_RATE = 8_000
"""Slowest rate limit, bit/s (tbf needs room for one packet per burst)."""


def parse_time(value: Any) -> float:
    """`80ms`, `0.5s`, `250us` → seconds. ValueError naming the allowed forms."""
    if isinstance(value, str) and (m := _TIME.match(value)):
        return float(m.group(1)) * _TIME_UNITS[m.group(2)]
    raise ValueError(f"{value!r} is not a time: expected a number with us, ms or s (e.g. 80ms)")


def parse_percent(value: Any) -> float:
    """`3%`, `0.5%` → percent (0..100). ValueError naming the allowed form."""
    if isinstance(value, str) and (m := _PERCENT.match(value)):
        return float(m.group(1))
    raise ValueError(f"{value!r} is not a percentage: expected e.g. 3% or 0.5%")


def parse_rate(value: Any) -> int:
    """`1mbit`, `300kbit` → bit/s. ValueError naming the allowed units."""
    if isinstance(value, str) and (m := _RATE.match(value)):
        return round(float(m.group(1)) * _RATE_UNITS[m.group(2).lower()])
    raise ValueError(f"{value!r} is not a rate: expected a number with bit, kbit, mbit or gbit")


def format_time(seconds: float) -> str:
    """Seconds → the shortest of `80ms`, `1.5s`, `250us`."""
    if seconds >= 1:
        return f"{seconds:g}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:g}ms"
    return f"{seconds * 1e6:g}us"


def format_rate(bps: int) -> str:
    """bit/s → `1mbit`, `300kbit`, `1500bit`."""
    for unit in ("gbit", "mbit", "kbit"):
        if bps % _RATE_UNITS[unit] == 0:
            return f"{bps // _RATE_UNITS[unit]}{unit}"
    return f"{bps}bit"


class Impairment(Spec):
    """What one direction of a link does to packets (netem's options, on any kernel)."""

    delay: float = Field(default=0.0, ge=0.0, le=MAX_DELAY_S)
    """Added one-way delay, seconds (written `80ms`)."""
    jitter: float = Field(default=0.0, ge=0.0, le=MAX_DELAY_S)
    """Standard deviation of the delay, seconds (normal distribution, clipped at 0; packets
    may be reordered by it, as with netem)."""
    loss: float = Field(default=0.0, ge=0.0, le=100.0)
    """Packets dropped, percent of all (written `3%`)."""
    burst: float | None = Field(default=None, ge=1.0, le=1000.0)
    """Mean length of a loss burst in packets: loss follows a Gilbert–Elliott model (a good
    state that loses nothing, a bad state that loses everything) with `loss` as its mean.
    Unset: independent random loss."""
    duplicate: float = Field(default=0.0, ge=0.0, le=100.0)
    """Packets sent twice, percent."""
    reorder: float = Field(default=0.0, ge=0.0, le=100.0)
    """Packets sent at once, skipping the delay (so they overtake), percent; needs a delay."""
    rate: int | None = Field(default=None, ge=MIN_RATE)
    """Rate limit, bit/s (written `1mbit`); unset: the link's own speed."""

    @field_validator("delay", "jitter", mode="before")
    @classmethod
    def _time(cls, v: Any) -> Any:
        return v if isinstance(v, float | int) and v == 0 else parse_time(v)

    @field_validator("loss", "duplicate", "reorder", mode="before")
    @classmethod
    def _percent(cls, v: Any) -> Any:
        return v if isinstance(v, float | int) and v == 0 else parse_percent(v)

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, v: Any) -> Any:
        return v if v is None or (isinstance(v, int) and not isinstance(v, bool)) else parse_rate(v)

    @field_validator("burst", mode="before")
    @classmethod
    def _burst(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                raise ValueError(f"{v!r} is not a burst length: expected packets, e.g. 4") from None
        return v

    @field_serializer("delay", "jitter")
    def _time_out(self, v: float) -> str:
        return format_time(v) if v else "0ms"

    @field_serializer("loss", "duplicate", "reorder")
    def _percent_out(self, v: float) -> str:
        return f"{v:g}%"

    @field_serializer("rate")
    def _rate_out(self, v: int | None) -> str | None:
        return None if v is None else format_rate(v)

    @model_validator(mode="after")
    def _consistent(self) -> Impairment:
        if self.reorder and not self.delay:
            raise ValueError("reorder needs a delay to overtake (add e.g. delay: 10ms)")
        if self.burst is not None and not self.loss:
            raise ValueError("burst needs a loss rate (e.g. loss: 3%, burst: 4)")
        if self.burst is not None and self.loss >= 100.0:
            raise ValueError("burst needs a loss rate below 100%")
        return self

    @property
    def active(self) -> bool:
        """Whether this direction changes anything."""
        return self != Impairment()

    @property
    def needs_shaper(self) -> bool:
        """Whether a user-space shaper must hold packets (delay, jitter, bursts, copies)."""
        return bool(
            self.delay or self.jitter or self.duplicate or self.reorder or self.burst is not None
        )

    def gilbert_elliott(self) -> tuple[float, float]:
        """(p, r): P(good → bad) and P(bad → good) per packet, so the mean burst is
        `burst` packets and the stationary loss p / (p + r) is `loss`."""
        assert self.burst is not None
        r = 1.0 / self.burst
        share = self.loss / 100.0
        return share * r / (1.0 - share), r

    def describe(self) -> str:
        """`delay 80ms ± 10ms, loss 3% (bursts of 4), rate 1mbit`, or `none`."""
        parts = []
        if self.delay or self.jitter:
            jitter = f" ± {format_time(self.jitter)}" if self.jitter else ""
            parts.append(f"delay {format_time(self.delay)}{jitter}")
        if self.loss:
            burst = f" (bursts of {self.burst:g})" if self.burst is not None else ""
            parts.append(f"loss {self.loss:g}%{burst}")
        if self.duplicate:
            parts.append(f"duplicate {self.duplicate:g}%")
        if self.reorder:
            parts.append(f"reorder {self.reorder:g}%")
        if self.rate is not None:
            parts.append(f"rate {format_rate(self.rate)}")
        return ", ".join(parts) or "none"


OPTIONS = tuple(Impairment.model_fields)
"""Option names, in the order they are documented."""


class LinkImpairment(Spec):
    """Both directions of one link. As written, the options apply to both directions and
    ``egress:``/``ingress:`` override them per direction."""

    egress: Impairment = Field(default_factory=Impairment)
    """Node → network."""
    ingress: Impairment = Field(default_factory=Impairment)
    """Network → node."""

    @model_validator(mode="before")
    @classmethod
    def _shared(cls, v: Any) -> Any:
        if not isinstance(v, dict) or (set(v) <= set(DIRECTIONS)):
            return v
        shared = {k: x for k, x in v.items() if k not in DIRECTIONS}
        out = {}
        for d in DIRECTIONS:
            own = v.get(d) or {}
            if not isinstance(own, dict):
                return v  # let the field say what is wrong
            out[d] = {**shared, **own}
        return out

    @property
    def active(self) -> bool:
        """Whether either direction changes anything."""
        return self.egress.active or self.ingress.active

    def describe(self) -> str:
        """One line: `delay 80ms` (same both ways) or `egress: …; ingress: …`."""
        if self.egress == self.ingress:
            return self.egress.describe()
        return f"egress: {self.egress.describe()}; ingress: {self.ingress.describe()}"


def parse_impairment(text: str) -> LinkImpairment:
    """`delay:100ms,loss:5%,ingress.jitter:10ms` → LinkImpairment; `none` → no impairment.

    UsageError naming the value and what is allowed."""
    if text.strip() in ("", "none"):
        return LinkImpairment()
    raw: dict[str, Any] = {}
    for item in text.split(","):
        key, sep, value = item.partition(":")
        key, value = key.strip(), value.strip()
        direction, dot, option = key.rpartition(".")
        if not sep or not value:
            raise UsageError(f"impairment {item!r}: expected OPTION:VALUE (e.g. delay:100ms)")
        if option not in OPTIONS or (dot and direction not in DIRECTIONS):
            raise UsageError(
                f"impairment {item!r}: unknown option {key!r} (options: {', '.join(OPTIONS)}, "
                f"each maybe prefixed egress. or ingress.)"
            )
        raw.setdefault(direction or "", {})[option] = value
    shared = raw.pop("", {})
    try:
        return LinkImpairment.model_validate({**shared, **raw})
    except ValueError as e:
        raise UsageError(f"impairment {text!r}: {_first_error(e)}") from None


def parse_link_impairment(arg: str) -> tuple[str, LinkImpairment]:
    """`nat-a:wan=delay:100ms,loss:5%` → ("nat-a:wan", impairment). UsageError if malformed."""
    link, sep, text = arg.partition("=")
    if not sep or not link.strip():
        raise UsageError(
            f"--impair {arg!r}: expected LINK=OPTIONS, e.g. nat-a:wan=delay:100ms,loss:5%"
        )
    return link.strip(), parse_impairment(text)


def _first_error(e: ValueError) -> str:
    errors = getattr(e, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        msg = str(first.get("msg", e)).removeprefix("Value error, ")
        return f"{where}: {msg}" if where else msg
    return str(e)


__all__ = [
    "DIRECTIONS",
    "OPTIONS",
    "Impairment",
    "LinkImpairment",
    "format_rate",
    "format_time",
    "parse_impairment",
    "parse_link_impairment",
]
