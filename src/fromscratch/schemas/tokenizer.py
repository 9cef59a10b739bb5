"""Tokenizer lineage: ``fromscratch tokenizer`` and ``audit``'s tokenizer section."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from fromscratch.schemas.base import Result
from fromscratch.schemas.literals import TokenizerVerdict


class TokenizerSummary(Result):
    source: str
    kind: str
    style: str
    size: int
    merges: int | None
    has_scores: bool
    special_tokens: list[str]


class OrderTest(Result):
    shared: int
    agreement: float | None
    p_value: float | None


class VocabularyOverlap(Result):
    shared: int
    jaccard: float
    shared_fraction_of_candidate: float
    shared_fraction_of_reference: float
    order: OrderTest | None = None


class SpecialTokens(Result):
    shared: list[str]
    candidate_only: list[str]
    reference_only: list[str]


class Tokenizer(Result):
    """``fromscratch tokenizer CANDIDATE REFERENCE``."""

    schema_id: Literal["fromscratch.tokenizer/1"] = Field(alias="schema")
    verdict: TokenizerVerdict
    p_value: float | None
    candidate: TokenizerSummary
    reference: TokenizerSummary
    vocabulary: VocabularyOverlap
    merges: dict[str, Any] | None
    scores: dict[str, Any] | None
    special_tokens: SpecialTokens
    normalizer_equal: bool
    pre_tokenizer_equal: bool
    alpha: float


class TokenizerReference(Result):
    reference: str
    path: str
    verdict: TokenizerVerdict | Literal["unavailable"]
    p_value: float | None


class TokenizerSection(Result):
    """The tokenizer section of an audit: the candidate against every reference's tokenizer."""

    candidate: TokenizerSummary | None
    problem: str | None
    references: list[TokenizerReference]
    relation: TokenizerVerdict | Literal["unavailable"] | None = None
    origin: str | None = None
    p_value: float | None = None
