"""``fromscratch inspect MODEL``: what a model file holds, read from its headers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from fromscratch.schemas.base import Result
from fromscratch.schemas.literals import ComponentKind


class InspectTensor(Result):
    name: str
    role: str
    shape: list[int]
    dtype: str


class InspectComponent(Result):
    name: str
    kind: ComponentKind
    layer: int | None
    parameters: int
    tensors: list[InspectTensor]


class Inspect(Result):
    schema_id: Literal["fromscratch.inspect/1"] = Field(alias="schema")
    path: str
    format: str
    parameters: int
    components: list[InspectComponent]
    tokenizer: dict[str, Any] | None
    claims: dict[str, Any] = Field(description="what the file says about itself; reported, never trusted")
