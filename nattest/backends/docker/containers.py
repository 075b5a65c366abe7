"""A lab's containers in the engine: their labels, listing, removal, and strays.

Every container nattest starts carries the lab's name and the run folder that records it
(``org.nattest.lab``, ``org.nattest.rundir``). So a lab is removed by label, whatever
state its containers are in, and containers whose lab has no record any more in this run
folder (a record lost with a crashed run, or a teardown the engine did not answer) are
found and collected by ``nattest down --all``, while another run folder's labs (pytest
workers share one engine) are left alone.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nattest.backends import records
from nattest.backends.docker import engine

LAB_LABEL = "org.nattest.lab"
NODE_LABEL = "org.nattest.node"
RUNDIR_LABEL = "org.nattest.rundir"


def labels(lab: str, node: str | None = None) -> dict[str, str]:
    """The labels of a container of lab `lab` (and node `node`) in this run folder."""
    out = {LAB_LABEL: lab, RUNDIR_LABEL: str(records.rundir())}
    return out if node is None else {**out, NODE_LABEL: node}


def lab_containers(lab: str) -> list[Any]:
    """The containers labelled with lab `lab`, any state."""
    return _listed(f"{LAB_LABEL}={lab}", f"listing lab {lab}'s containers")


def _listed(label: str, doing: str) -> list[Any]:
    """Containers (any state) matching label filter `label`. ``ignore_removed``: the SDK
    lists ids, then inspects each, and a container removed in between (another lab's
    teardown on a shared engine) would otherwise fail the whole listing with 404."""
    with engine.answering(doing):
        return list(
            engine.client().containers.list(all=True, filters={"label": label}, ignore_removed=True)
        )


def remove_containers(lab: str) -> list[str]:
    """Remove every container labelled with lab `lab` (any state); their names."""

    def remove(box: Any) -> None:
        with contextlib.suppress(engine.NotFound):  # gone meanwhile (its own exit)
            box.remove(force=True)

    found = lab_containers(lab)
    with (
        engine.answering(f"removing lab {lab}'s containers"),
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        list(pool.map(remove, found))
    return [x.name for x in found]


def stray_labs() -> tuple[list[str], set[str]]:
    """Labs of this run folder that have containers in the engine but no record, and every
    lab the engine has containers of (any run folder)."""
    rundir = str(records.rundir())
    boxes = _listed(LAB_LABEL, "listing nattest's containers")
    recorded = set(records.all_names())
    ours = {b.labels[LAB_LABEL] for b in boxes if b.labels.get(RUNDIR_LABEL) == rundir}
    return sorted(ours - recorded), {b.labels[LAB_LABEL] for b in boxes}


__all__ = [
    "LAB_LABEL",
    "NODE_LABEL",
    "RUNDIR_LABEL",
    "lab_containers",
    "labels",
    "remove_containers",
    "stray_labs",
]
