"""``fromscratch audit``: lineage against several references, then policy verdicts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from fromscratch.schemas.base import Result
from fromscratch.schemas.code import Code
from fromscratch.schemas.lineage import Compare, ModelRef
from fromscratch.schemas.literals import PolicyVerdict, Relation
from fromscratch.schemas.tokenizer import TokenizerSection


class AuditReference(Compare):
    label: str | None = None
    licence: str | None = None


class ComponentVerdict(Result):
    component: str
    verdict: PolicyVerdict
    rule: str
    evidence: list[dict[str, Any]]


class Audit(Result):
    schema_id: Literal["fromscratch.audit/1"] = Field(alias="schema")
    candidate: ModelRef
    verdict: Relation | PolicyVerdict = Field(description="the policy verdict when a policy was applied, "
                                                          "otherwise the lineage verdict")
    references: list[AuditReference]
    tokenizer: TokenizerSection | None = None
    code: Code | None = None
    lineage_verdict: Relation | None = None
    verdicts: list[ComponentVerdict] | None = None
