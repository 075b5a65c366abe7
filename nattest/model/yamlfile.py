"""The one YAML reader of nattest's data files (topologies, expectation tables).

YAML silently keeps the last of two equal keys; a data file with two entries for one node
or one cell is a mistake, so this loader refuses repeated keys. Every error is the caller's
``FileFieldError`` subclass naming the file, the line and column, and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nattest.errors import FileFieldError


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a repeated mapping key."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, source: str, error: type[FileFieldError] = FileFieldError) -> Any:
    """Parse YAML text; `error(source, "line L, column C", "YAML: ...")` when malformed."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(source, where, f"YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise error(source, "", f"YAML: {e}") from None


def read_yaml(path: str | Path, error: type[FileFieldError] = FileFieldError) -> Any:
    """Read and parse a YAML file; `error(path, "", "cannot read: ...")` when unreadable."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise error(source, "", f"cannot read: {e.strerror}") from None
    return parse_yaml(text, source, error)


__all__ = ["parse_yaml", "read_yaml"]
