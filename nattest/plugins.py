"""Plug-in registries: backends and peer kinds are found by name through entry points.

A plug-in is a class registered in a package's metadata under a group, e.g. nattest's own
``pyproject.toml``::

    [project.entry-points."nattest.peers"]
    aiortc = "nattest.peers.aiortc:AiortcPeer"

Adding one means writing its module and adding that one line; nothing else is edited.
Classes are imported only when asked for by name, so listing is cheap.
"""

from __future__ import annotations

from functools import cached_property
from importlib import metadata
from typing import Any, Generic, TypeVar

from nattest.errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """The plug-ins of one entry-point group, all subclasses of `base`."""

    def __init__(self, group: str, base: type[Any], what: str) -> None:
        self.group = group
        """Entry-point group (`nattest.backends`)."""
        self.base = base
        """Class every plug-in of the group derives from."""
        self.what = what
        """What one is called in messages (`backend`, `peer kind`)."""

    @cached_property
    def _entry_points(self) -> dict[str, metadata.EntryPoint]:
        return {ep.name: ep for ep in metadata.entry_points(group=self.group)}

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entry_points)

    def get(self, name: str) -> T:
        """A new instance of the plug-in `name`; UsageError naming the registered ones."""
        ep = self._entry_points.get(name)
        if ep is None:
            known = ", ".join(self.names()) or "none: is nattest installed (pip install -e .)?"
            raise UsageError(f"{self.what} {name!r} is not available (available: {known})")
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise UsageError(f"{self.what} {name!r} ({ep.value}) is not a {self.base.__name__}")
        instance: T = cls()
        return instance


__all__ = ["Registry"]
