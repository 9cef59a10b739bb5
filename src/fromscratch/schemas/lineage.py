"""Weight lineage: ``compare``, ``audit``'s reference entries, ``search``, ``registry``, ``chain``, ``gauntlet``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fromscratch.schemas.base import Result
from fromscratch.schemas.literals import AlignmentRows, Basis, ChainCheck, ChainVerdict, ComponentKind, Relation


class ModelRef(Result):
    """One side of a comparison: where the model is, its format and parameter count."""

    path: str
    format: str
    parameters: int


class Component(Result):
    """One canonical component of the candidate and what it was judged to be."""

    name: str = Field(description='canonical name, e.g. "layers.3.attention", "vision.layers.2.mlp"')
    kind: ComponentKind
    layer: int | None = Field(description="candidate block index, null for non-block components")
    reference_name: str | None
    reference_layer: int | None
    relation: Relation
    basis: Basis | None
    p_value: float | None
    similarity: float | None = Field(description="method-specific, in [0, 1]")
    parameters: int
    frozen: bool | None = Field(None, description="identical up to dtype/quantisation to its reference component")
    change: float | None = Field(None, description="relative distance to the reference after alignment")


class Alignment(Result):
    rows: AlignmentRows


class Compare(Result):
    """``fromscratch compare`` (also each entry of ``audit``'s ``references``)."""

    schema_id: Literal["fromscratch.compare/1"] = Field(alias="schema")
    candidate: ModelRef
    reference: ModelRef
    verdict: Relation
    p_value: float | None
    shared_parameter_fraction: float = Field(description="share of the candidate's parameters judged reused")
    coverage: float = Field(description="share of the candidate's learned parameters actually compared")
    components: list[Component]
    alignment: Alignment | None = None


class SearchMatch(Result):
    name: str
    verdict: Relation
    p_value: float
    shared_parameter_fraction: float
    components: list[Component]


class Search(Result):
    """``fromscratch search``: registered models judged identical or derived, best first."""

    schema_id: Literal["fromscratch.search/1"] = Field(alias="schema")
    candidate: ModelRef
    searched: int = Field(description="registered models compared (the p-values are corrected for them)")
    verdict: Relation
    matches: list[SearchMatch]


class RegisteredModel(Result):
    name: str
    digest: str
    parameters: int


class Registry(Result):
    """``fromscratch registry list``."""

    schema_id: Literal["fromscratch.registry/1"] = Field(alias="schema")
    models: list[RegisteredModel]


class ChainInit(Result):
    fresh: bool
    p_value: float
    findings: list[str]


class ChainStep(Result):
    from_: int = Field(alias="from")
    to: int
    relation: str
    change: float
    flag: str | None


class ChainSubmission(Result):
    relation: Relation | None = Field(description="the submitted model against the last checkpoint")


class ChainFailure(Result):
    step: int | None = Field(description="index into the checkpoint list as given (0 = the claimed initialisation)")
    check: ChainCheck
    detail: str


class Chain(Result):
    """``fromscratch chain``: a checkpoint chain as evidence for training from scratch."""

    schema_id: Literal["fromscratch.chain/1"] = Field(alias="schema")
    verdict: ChainVerdict
    init: ChainInit
    steps: list[ChainStep]
    submission: ChainSubmission
    failures: list[ChainFailure]


class Disguise(Result):
    name: str
    function_preserved: bool | None
    max_logit_diff: float | None
    verdict: str
    caught: bool


class Gauntlet(Result):
    """``fromscratch gauntlet``: disguised copies of a model and whether lineage caught each."""

    schema_id: Literal["fromscratch.gauntlet/1"] = Field(alias="schema")
    model: dict
    disguises: list[Disguise]
    caught: int
    total: int
