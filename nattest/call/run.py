"""Run one real call between two peers of a running lab and return its CallResult.

Each side is a peer of its kind (``CallSpec.caller_kind``/``callee_kind``, see
``nattest.peers``) started inside its node: they meet on the lab's signaling server, use the
lab's STUN and TURN servers and leave results in the lab folder, which their kinds read and
this module merges. The TURN password reaches a peer through its environment only.

The call's clock starts when the peers are launched: peers time their timelines from it
(``PeerLaunch.clock_zero``), and the spec's faults (``nattest.call.faults``) run on a timer
thread on the same clock while the peers run; the CallResult records each one's outcome.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

from nattest.backends import get_backend
from nattest.backends.base import Lab, Process
from nattest.call.faults import FaultRunner, check_faults
from nattest.call.merge import merge_call
from nattest.call.result import CallResult, Role
from nattest.call.spec import CallSpec
from nattest.errors import Cancelled, LabError, UsageError
from nattest.peers import PeerKind, PeerLaunch, get_peer_kind
from nattest.services.credentials import LabServices

SLACK = 30.0
"""Seconds a peer may take beyond connect timeout + duration (start-up, teardown)."""
POLL = 0.02
"""Seconds between checks of the peers and of the cancel event."""


def _hosts(lab: Lab, caller: str | None, callee: str | None) -> dict[Role, str]:
    t = lab.topology
    if caller is None or callee is None:
        default_caller, default_callee = t.call_peers()
        caller, callee = caller or default_caller, callee or default_callee
    for name in (caller, callee):
        if name not in t.hosts:
            raise UsageError(f"no host {name!r} in {t.name} (hosts: {', '.join(t.hosts)})")
    if caller == callee:
        raise UsageError(f"caller and callee are both {caller!r}: a call needs two hosts")
    return {"callee": callee, "caller": caller}  # the callee joins the room first


def peer_kinds(spec: CallSpec) -> dict[Role, PeerKind]:
    """The peer kind of each side, checked usable here: call it before building a lab."""
    kinds: dict[Role, PeerKind] = {
        "caller": get_peer_kind(spec.caller_kind),
        "callee": get_peer_kind(spec.callee_kind),
    }
    for kind in kinds.values():
        kind.check()
    return kinds


def warm_peers(kinds: dict[Role, PeerKind], backend: str | None = None) -> None:
    """Tell the backend which modules the peers will run, before the lab is built (a
    backend that starts Python warm imports them meanwhile)."""
    get_backend(backend).warm(sorted({m for kind in kinds.values() for m in kind.python_modules}))


def launch_for(
    services: LabServices,
    spec: CallSpec,
    name: str,
    role: Role,
    room: str,
    folder: Path,
    clock_zero: float | None = None,
    peer_capabilities: frozenset[str] = frozenset(),
) -> PeerLaunch:
    """What peer `name` is told for this call (pure: the lab's services and the spec;
    `peer_capabilities`: what the other side's kind can do)."""
    if not services.signaling_url:
        raise UsageError("this lab has no signaling server (a server with `signaling`)")
    turn: dict[str, object] = {}
    if spec.turn and services.turn_address:
        transport = spec.transport_for(name)
        user, password = services.turn_credentials(name)
        turn = {
            "turn_url": services.turn_url(transport),
            "turn_transport": transport,
            "turn_username": user,
            "turn_password": password,
            "turn_cert": services.turn_cert or None,
        }
    elif spec.policy == "relay":
        raise UsageError("policy relay needs a TURN server")
    return PeerLaunch(
        name=name,
        role=role,
        room=room,
        signaling_url=services.signaling_url,
        policy=spec.policy,
        duration=spec.duration,
        connect_timeout=spec.connect_timeout,
        result_path=folder / f"{name}.json",
        log_path=folder / f"{name}.log",
        stun_url=services.stun_url() if spec.stun and services.turn_address else None,
        video_size=spec.video_size,
        video=spec.video,
        clock_zero=clock_zero,
        peer_capabilities=peer_capabilities,
        **turn,  # type: ignore[arg-type]
    )


def run_call(
    lab: Lab,
    spec: CallSpec | None = None,
    caller: str | None = None,
    callee: str | None = None,
    *,
    cancel: threading.Event | None = None,
) -> CallResult:
    """Run a call from `caller` to `callee` (default: the topology's peers).

    Setting `cancel` stops the peers at once and raises Cancelled. The spec's faults are
    applied while the peers run (a fault that fails is recorded with its error, one whose
    time comes after the peers ended is recorded as skipped)."""
    spec = (spec or CallSpec()).resolved(lab.topology)
    hosts = _hosts(lab, caller, callee)
    check_faults(lab.topology, spec.schedule)
    kinds = peer_kinds(spec)
    services = LabServices.load(lab.workdir)
    room = uuid.uuid4().hex[:8]
    folder = lab.workdir / "calls" / room
    folder.mkdir(parents=True)
    clock0 = time.monotonic()
    launches = {
        role: launch_for(
            services, spec, name, role, room, folder, clock0, kinds[_other(role)].capabilities
        )
        for role, name in hosts.items()
    }
    procs: dict[Role, Process] = {}
    codes: dict[Role, int | None] = {}
    deadline = clock0 + spec.connect_timeout + spec.duration + SLACK
    faults = FaultRunner(lab, spec.schedule, clock0)
    try:
        for role, launch in launches.items():
            with launch.log_path.open("wb") as log:
                procs[role] = kinds[role].start(lab, launch, log)
        faults.start()
        _wait(procs, deadline, cancel or threading.Event())
    finally:
        records = faults.stop()
        for role, proc in procs.items():
            codes[role] = proc.poll()
            if codes[role] is None:
                proc.kill()
                proc.wait()
    results = {role: kinds[role].read_result(launches[role], codes[role]) for role in launches}
    call = merge_call(
        lab.topology.name,
        results["caller"],
        results["callee"],
        policy=spec.policy,
        turn_transport=spec.transport_for(hosts["caller"]),
        lab_setup=lab.timings.get("network"),
        selected_pair=kinds["caller"].reported_pair(results["caller"], results["callee"]),
        callee_pair=kinds["callee"].reported_pair(results["callee"], results["caller"]),
    )
    call.faults = records
    return call


def _other(role: Role) -> Role:
    return "callee" if role == "caller" else "caller"


def _wait(procs: dict[Role, Process], deadline: float, cancel: threading.Event) -> None:
    """Until every peer has exited or the deadline passed; Cancelled when `cancel` is set."""
    while any(p.poll() is None for p in procs.values()) and time.monotonic() < deadline:
        if cancel.wait(POLL):
            raise Cancelled("call cancelled")


def save_call(call: CallResult, path: Path) -> None:
    """Write a CallResult as JSON (webrtc-internals names)."""
    try:
        path.write_text(call.to_json())
    except OSError as e:
        raise LabError(f"cannot write {path}: {e.strerror}") from e


__all__ = ["CallSpec", "launch_for", "peer_kinds", "run_call", "save_call", "warm_peers"]
