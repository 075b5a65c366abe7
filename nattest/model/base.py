"""The two pydantic bases every nattest model derives from.

- ``Model``: results and reports (CallResult, MatrixCell, Expectation, ...). JSON uses the
  camelCase names of webrtc-internals (``currentRoundTripTime``); Python attributes are
  snake_case and either name is accepted on input. Unknown fields are refused.
- ``Spec``: what a user writes by hand (topology files). Snake-case as written, frozen,
  unknown fields refused (a typo is an error, never silently ignored).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """Base of result and report models: camelCase JSON, strict fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def to_json(self) -> str:
        """Serialise with the camelCase (webrtc-internals) names."""
        return self.model_dump_json(by_alias=True, indent=2)


class Spec(BaseModel):
    """Base of hand-written specifications: frozen, strict fields, names as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)


__all__ = ["Model", "Spec"]
