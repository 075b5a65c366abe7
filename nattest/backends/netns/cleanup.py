"""Tearing a netns lab down and checking nothing is left: light on purpose (no models), so
`nattest down` and `down --all` start fast; also used after a crash, from the record alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from nattest.backends import records
from nattest.backends.netns import namespaces
from nattest.backends.netns.runner import Runner
from nattest.errors import CommandError, LabError

KILL_GRACE = 0.3
"""Seconds between SIGTERM and SIGKILL at teardown (coturn takes ~1.7 s to exit politely)."""


def leftovers(
    name: str,
    inodes: set[int] = frozenset(),  # type: ignore[assignment]
    host_links_before: set[str] | None = None,
    link_names: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[str]:
    """What of lab `name` still exists, one line each: its namespaces, links named like its
    interfaces that appeared in the host namespace since `host_links_before`, processes
    (in its namespaces or carrying its NATTEST_LAB marker) and its folder."""
    left = [f"namespace {ns}" for ns in named_for(name)]
    if host_links_before is not None:
        new = (namespaces.host_links() - host_links_before) & link_names
        left += [f"link {link} in the host namespace" for link in sorted(new)]
    left += [
        f"process {pid} ({namespaces.cmdline(pid)})" for pid in namespaces.pids_of_lab(name, inodes)
    ]
    if records.lab_dir(name).exists():
        left.append(f"lab folder {records.lab_dir(name)}")
    return left


def named_for(name: str, others: Iterable[str] = ()) -> list[str]:
    """Namespaces named for lab `name` (``nt-<name>-*``), but not those of another lab whose
    name extends it (lab ``demo`` and lab ``demo-2``: ``nt-demo-2-alice`` is the other's),
    as far as they are known: this run folder's records and `others`."""
    longer = [f"nt-{o}-" for o in {*records.all_names(), *others} if o.startswith(f"{name}-")]
    found = namespaces.list_namespaces(f"nt-{name}-")
    return [ns for ns in found if not any(ns.startswith(p) for p in longer)]


def teardown(
    name: str, owned: list[str], runner: Runner | None = None, *, others: Iterable[str] = ()
) -> None:
    """Stop every process inside the lab's namespaces, then delete the namespaces: those it
    owns, and any other named for it (``named_for``; `others`: more labs known to exist)."""
    runner = runner or Runner()
    existing = [ns for ns in owned if namespaces.exists(ns)]
    existing += [ns for ns in named_for(name, others) if ns not in existing]
    if existing:
        namespaces.terminate(namespaces.pids_in(existing), KILL_GRACE)
        lines = "".join(f"netns del {ns}\n" for ns in existing)
        try:
            runner.run(["ip", "-force", "-batch", "-"], input=lines, record=False)
        except CommandError as e:
            left = [ns for ns in existing if namespaces.exists(ns)]
            if left:
                raise LabError(f"lab {name}: could not delete namespaces {left}: {e}") from e


__all__ = ["KILL_GRACE", "leftovers", "named_for", "teardown"]
