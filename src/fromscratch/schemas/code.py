"""Source-code reuse: ``fromscratch code`` and ``audit --code``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fromscratch.schemas.base import Result
from fromscratch.schemas.literals import CodeRelation, MatchKind


class Ranked(Result):
    reference_file: str = Field(description="path under its --against root, prefixed by the root's name")
    score: float
    p_value: float | None


class Attribution(Result):
    licence: str | None
    copyright: list[str]
    mentions: list[str]
    attributed: bool | None


class Evidence(Result):
    kind: str
    reference_file: str | None = None
    score: float | None = None
    detail: str


class PortTest(Result):
    reference_file: str | None
    statistic: float | None
    p_value: float | None


class InterfaceTest(Result):
    reference_file: str = Field(description="the best-ranked reference")
    statistic: float = Field(description="share (by idf weight) of its configuration keys the file reads")
    module_share: float = Field(description="share (by idf weight) of its module names the file assigns")
    threshold: float = Field(description="when both shares reach it the reference is an origin (rule `interface`)")


class CodeFile(Result):
    file: str = Field(description="path relative to CANDIDATE, '/'-separated")
    ranking: list[Ranked] = Field(description="best first, up to 5")
    relation: CodeRelation
    origins: list[str]
    attribution: Attribution
    evidence: list[Evidence] = []
    port_test: PortTest | None = None
    margin_test: PortTest | None = Field(default=None, description="rank-margin test: j*, its margin over the best "
                                         "unlinked reference, and the p-value against the index's margin null")
    interface_test: InterfaceTest | None = Field(default=None, description="interface rule on the "
                                                 "best-ranked reference; null for files without a ranking")


class Match(Result):
    candidate_file: str
    candidate_lines: tuple[int, int]
    reference_file: str
    reference_lines: tuple[int, int]
    score: float
    kind: MatchKind


class Code(Result):
    schema_id: Literal["fromscratch.code/1"] = Field(alias="schema")
    files: list[CodeFile]
    matches: list[Match]
