"""Bring a topology up as a running lab, with its services, and always take it down.

    topo = load_topology("topologies/symmetric.yaml")   # touches nothing
    with open_lab(topo) as lab:                          # builds; tears down on any exit
        lab.exec("alice", ["ip", "addr"])

The backend (``--backend``, ``NATTEST_BACKEND``, default ``netns``) builds the network;
``nattest.services`` starts coturn and signaling in it. ``attach_lab`` and ``collect_lab``
find a running lab from its record, whatever backend built it.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING

from nattest.backends import for_record, get_backend, records
from nattest.backends.base import Lab
from nattest.errors import LabExists

if TYPE_CHECKING:
    from nattest.model.topology import Topology

NAME_ATTEMPTS = 5
"""Generated names tried before giving up (a clash needs two equal random suffixes)."""


def build_lab(
    topology: Topology,
    name: str | None = None,
    *,
    services: bool = True,
    backend: str | None = None,
    source: str = "",
    stem: str | None = None,
) -> Lab:
    """Build a lab and start its services; on failure nothing is left. Caller must down().

    Without `name`, a unique one is made from `stem` (default: the topology's name)."""
    impl = get_backend(backend)
    impl.check()
    if services and topology.server_with("signaling") is not None:
        from nattest.services import SIGNALING_MODULE

        impl.warm([SIGNALING_MODULE])  # its import overlaps building the network
    if name is not None:
        lab = impl.up(topology, records.check_lab_name(name), source=source)
    else:
        for attempt in range(NAME_ATTEMPTS):
            try:
                lab = impl.up(topology, records.new_lab_name(stem or topology.name), source=source)
                break
            except LabExists:
                if attempt == NAME_ATTEMPTS - 1:
                    raise
    try:
        if services:
            from nattest.services.start import start_services

            t0 = time.perf_counter()
            lab.services_started(start_services(lab))
            lab.timings["services"] = time.perf_counter() - t0
        else:
            lab.services_started(None)
    except BaseException:
        lab.down()
        raise
    return lab


@contextlib.contextmanager
def open_lab(
    topology: Topology,
    name: str | None = None,
    *,
    services: bool = True,
    backend: str | None = None,
    keep: bool = False,
    source: str = "",
) -> Iterator[Lab]:
    """Build a lab for the body; tear it down afterwards (unless `keep`), also on Ctrl-C."""
    with terminate_as_interrupt():
        lab = build_lab(topology, name, services=services, backend=backend, source=source)
        try:
            yield lab
        finally:
            if not keep:
                lab.down()


def attach_lab(name: str) -> Lab:
    """A handle on a running lab (for `exec`, `verify-nat` from another shell): its
    ``down()`` leaves the lab up."""
    record = records.load(records.check_lab_name(name))
    backend = for_record(record)
    backend.check()
    return backend.attach(record)


def collect_lab(name: str) -> None:
    """Tear down a recorded lab, also one left by a killed process, and forget it."""
    record = records.load(records.check_lab_name(name))
    backend = for_record(record)
    backend.check()
    backend.collect(record)


def collect_strays() -> list[str]:
    """What labs left with no record in this run folder, collected by every backend
    that can find such leftovers; their names."""
    from nattest.backends import BACKENDS

    return [n for b in BACKENDS.names() for n in BACKENDS.get(b).collect_strays()]


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGINT/SIGTERM/SIGHUP into KeyboardInterrupt so `finally` blocks tear labs down.

    SIGINT too: a process started in the background by a non-interactive shell (``cmd &`` in
    a CI script) inherits SIGINT *ignored*, and Python then installs no KeyboardInterrupt
    for it, so a Ctrl-C or ``kill -INT`` would leave the lab behind.
    """

    def raise_interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    try:
        old = {
            s: signal.signal(s, raise_interrupt)
            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


__all__ = [
    "attach_lab",
    "build_lab",
    "collect_lab",
    "collect_strays",
    "open_lab",
    "terminate_as_interrupt",
]
