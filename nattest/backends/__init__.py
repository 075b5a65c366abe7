"""Backends: how a Topology becomes a running Lab on this machine.

A backend is a ``Backend`` subclass (``base.py``) registered under the entry-point group
``nattest.backends`` in a package's metadata (nattest's own: ``pyproject.toml``)::

    [project.entry-points."nattest.backends"]
    netns = "nattest.backends.netns:NetnsBackend"

``get_backend(name)`` finds one by name, ``for_record(record)`` the one that built a
recorded lab. What every backend shares lives here too: the pure build ``plan``, the
nftables ``rulesets`` it applies, and the lab ``records``.

- ``netns/``: the default; namespaces, veths, bridges, the command runner and repro.sh.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from nattest.backends.base import Backend, Lab
from nattest.plugins import Registry

if TYPE_CHECKING:
    from nattest.backends.records import LabRecord

DEFAULT = "netns"
"""The backend used unless `--backend` or `NATTEST_BACKEND` says otherwise."""
ENV = "NATTEST_BACKEND"
"""Environment variable choosing the default backend."""
BACKENDS: Registry[Backend] = Registry(
    "nattest.backends",
    Backend,
    "backend",
    {
        "netns": "nattest.backends.netns:NetnsBackend",
        "docker": "nattest.backends.docker:DockerBackend",
    },
)
"""Every registered backend."""


def available() -> list[str]:
    """Names of the registered backends."""
    return BACKENDS.names()


def default_name() -> str:
    """`NATTEST_BACKEND`, else `netns`."""
    return os.environ.get(ENV) or DEFAULT


def get_backend(name: str | None = None) -> Backend:
    """The backend called `name` (default: ``default_name()``). UsageError lists the known."""
    return BACKENDS.get(name or default_name())


def for_record(record: LabRecord) -> Backend:
    """The backend that built a recorded lab."""
    return get_backend(record.backend)


def __getattr__(name: str) -> Any:
    if name == "LabRecord":  # the records need pydantic: load them when asked for
        from nattest.backends.records import LabRecord

        return LabRecord
    if name == "records":
        import nattest.backends.records as records

        return records
    raise AttributeError(f"module 'nattest.backends' has no attribute {name!r}")


__all__ = [
    "BACKENDS",
    "DEFAULT",
    "ENV",
    "Backend",
    "Lab",
    "LabRecord",
    "available",
    "default_name",
    "for_record",
    "get_backend",
]
