"""The matrix as JSON: the whole MatrixResult, every CallResult included.

CallResults keep their webrtc-internals names (``currentRoundTripTime``, ``packetsLost``,
``jitter``); the file reads back into a MatrixResult with ``read_json``, so a report can be
re-rendered (terminal, JUnit, HTML) from a saved run without running anything.
"""

from __future__ import annotations

from pathlib import Path

from nattest.matrix.verdict import MatrixResult


def to_json(result: MatrixResult) -> str:
    """JSON text of a run (camelCase names, indented)."""
    return result.model_dump_json(by_alias=True, indent=2) + "\n"


def from_json(text: str | bytes) -> MatrixResult:
    """A run from its JSON text (pydantic ValidationError when it is not one)."""
    return MatrixResult.model_validate_json(text)


def write_json(result: MatrixResult, path: str | Path) -> Path:
    """Write the JSON file; returns its path."""
    p = Path(path)
    p.write_text(to_json(result), encoding="utf-8")
    return p


def read_json(path: str | Path) -> MatrixResult:
    """Read a run written by `write_json`."""
    return from_json(Path(path).read_text(encoding="utf-8"))
