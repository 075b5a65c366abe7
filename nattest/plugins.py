"""Plug-in registries: backends and peer kinds are found by name through entry points.

A plug-in is a class registered in a package's metadata under a group, e.g. nattest's own
``pyproject.toml``::

    [project.entry-points."nattest.peers"]
    aiortc = "nattest.peers.aiortc:AiortcPeer"

Adding one means writing its module and adding that one line; nothing else is edited.
Classes are imported only when asked for by name, so listing is cheap. nattest's own
plug-ins are also listed in the registry (`builtins`, the same values as its entry points,
which a unit test keeps equal): asking for one of them does not scan the installed
packages' metadata, ≈ 25 ms of every `nattest` start. A built-in name cannot be taken over
by another package.
"""

from __future__ import annotations

import importlib
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from nattest.errors import UsageError

if TYPE_CHECKING:
    from importlib import metadata

T = TypeVar("T")


class Registry(Generic[T]):
    """The plug-ins of one entry-point group, all subclasses of `base`."""

    def __init__(
        self, group: str, base: type[Any], what: str, builtins: dict[str, str] | None = None
    ) -> None:
        self.group = group
        """Entry-point group (`nattest.backends`)."""
        self.builtins = dict(builtins or {})
        """nattest's own plug-ins, name → `module:Class` (as in its entry points)."""
        self.base = base
        """Class every plug-in of the group derives from."""
        self.what = what
        """What one is called in messages (`backend`, `peer kind`)."""

    @cached_property
    def _entry_points(self) -> dict[str, metadata.EntryPoint]:
        from importlib import metadata  # ≈ 15 ms: only when a name is not built in

        return {ep.name: ep for ep in metadata.entry_points(group=self.group)}

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted({*self.builtins, *self._entry_points})

    def get(self, name: str) -> T:
        """A new instance of the plug-in `name`; UsageError naming the registered ones."""
        if name in self.builtins:
            value = self.builtins[name]
            module, _, attr = value.partition(":")
            cls = getattr(importlib.import_module(module), attr)
        else:
            ep = self._entry_points.get(name)
            if ep is None:
                known = ", ".join(self.names()) or "none: is nattest installed (pip install -e .)?"
                raise UsageError(f"{self.what} {name!r} is not available (available: {known})")
            value, cls = ep.value, ep.load()
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise UsageError(f"{self.what} {name!r} ({value}) is not a {self.base.__name__}")
        instance: T = cls()
        return instance


__all__ = ["Registry"]
