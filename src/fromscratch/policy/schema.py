"""The from-scratch policy: a written, versioned rule per component kind.

A round's organisers state once, before submissions arrive, what reuse they
allow; every audit then applies the same file. The schema is strict (unknown
keys are refused) so a typo cannot silently loosen a rule. Every field carries
its meaning in ``description``; ``fromscratch.policy.schema.policy_json_schema()``
exports them, and docs/policy.md explains each.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fromscratch.errors import InputError
from fromscratch.tomlio import load_toml, parse_toml

#: The component kinds a policy speaks about. Weight components map onto them
#: by canonical name (see `kind_of_component`); the tokenizer and inference code
#: are judged from their own evidence.
PolicyKind = Literal["backbone", "embeddings", "vision-encoder", "audio-encoder", "projector",
                     "tokenizer", "inference-code"]
POLICY_KINDS: tuple[str, ...] = ("backbone", "embeddings", "vision-encoder", "audio-encoder", "projector",
                                 "tokenizer", "inference-code")

Requirement = Literal["must-be-independent", "review-if-declared", "allowed-if-declared",
                      "allowed-if-declared-and-licence-compatible", "allowed"]

PRESETS = ("korea-2026", "korea-2026-round2", "permissive")


class Rule(BaseModel):
    """What one component kind may reuse."""

    model_config = ConfigDict(extra="forbid")

    requirement: Requirement = Field(description=(
        "must-be-independent: any detected or declared reuse is a violation (weights must be "
        "initialised afresh and trained from the start). review-if-declared: declared reuse goes to "
        "the committee (needs-review); undeclared reuse is a violation. allowed-if-declared: declared "
        "reuse is compliant, undeclared reuse a violation. allowed-if-declared-and-licence-compatible: "
        "as allowed-if-declared, and the declared licence must be in `licences` (missing licence: "
        "needs-review; another licence: violation). allowed: reuse is compliant even undeclared "
        "(still reported)."))
    licences: list[str] = Field(default_factory=list, description=(
        "SPDX licence identifiers acceptable for reused material under "
        "allowed-if-declared-and-licence-compatible; compared case-insensitively."))
    note: str = Field(default="", description="Why the rule is what it is (shown in reports).")
    frozen_requirement: Requirement | None = Field(default=None, description=(
        "Requirement applied instead of `requirement` when reuse of this kind is found and at least one "
        "reused component is frozen (equal to its origin up to storage precision, lineage `frozen: "
        "true`); the stricter of the two outcomes wins. Unset: frozen and further-trained reuse are "
        "judged alike (the split is still reported)."))


class Thresholds(BaseModel):
    """Statistical settings shared by every rule."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(default=1e-3, gt=0, lt=1, description=(
        "Significance level for calling reuse. A component kind counts as reused from a reference "
        "when one of its (non-norm) components is identical/derived with a p-value at most alpha "
        "(weight-lineage p-values arrive corrected for multiplicity); a tokenizer when its order or "
        "score test gives p at most alpha."))
    min_reused_parameter_fraction: float = Field(default=0.0, ge=0, le=1, description=(
        "Weight reuse in a component kind is reported but not acted on when the reused components "
        "hold less than this share of the kind's parameters (0 = act on any reuse)."))
    tokenizer_null_agreement: float = Field(default=0.75, gt=0.5, lt=1, description=(
        "Upper bound of the neighbour-order agreement between independent tokenizers (measured "
        "0.497-0.504 over real pairs, up to 0.63 for small vocabularies trained on one corpus; "
        "docs/tokenizer.md). Larger = more conservative."))
    tokenizer_null_successor: float = Field(default=0.5, gt=0, lt=1, description=(
        "Upper bound of the successor rate between independent tokenizers (measured at most 0.0003 "
        "over real pairs, 0.18 for small vocabularies trained on one corpus). Larger = more "
        "conservative."))
    inconclusive_needs_review: bool = Field(default=False, description=(
        "When true, a component kind whose weight comparisons were all inconclusive (too little "
        "comparable material) gets needs-review instead of compliant."))


class Policy(BaseModel):
    """A complete from-scratch policy."""

    model_config = ConfigDict(extra="forbid")

    schema_: Literal["fromscratch.policy/1"] = Field(default="fromscratch.policy/1", alias="schema",
                                                     description="Format version of this file.")
    name: str = Field(description="Short identifier, e.g. korea-2026.")
    version: str = Field(description="Version of this policy text; bump it on any change.")
    description: str = Field(default="", description="What the policy is for, in one paragraph.")
    sources: list[str] = Field(default_factory=list, description=(
        "Where the criteria come from (rules documents, announcements), for the report."))
    thresholds: Thresholds = Field(default_factory=Thresholds, description="Statistical settings.")
    rules: dict[PolicyKind, Rule] = Field(description=(
        "One rule per component kind: backbone (text transformer blocks and final norm), embeddings "
        "(token and position embeddings, LM head), vision-encoder, audio-encoder, projector "
        "(multimodal connector), tokenizer, inference-code. A kind without a rule defaults to "
        "allowed-if-declared."))

    def rule(self, kind: str) -> Rule:
        return self.rules.get(kind) or Rule(requirement="allowed-if-declared",  # type: ignore[arg-type]
                                           note="no rule in this policy; default")


def policy_json_schema() -> dict:
    return Policy.model_json_schema(by_alias=True)


def parse_policy(data: dict, source: str) -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(source, f"invalid policy: {where}: {first['msg']}") from None


def load_policy(name_or_path: str | Path) -> Policy:
    """A preset by name (``korea-2026``, ``permissive``) or a policy TOML file."""
    text_name = str(name_or_path)
    if text_name in PRESETS:
        text = resources.files("fromscratch.policy").joinpath("presets", f"{text_name}.toml").read_text("utf-8")
        source = f"preset {text_name}"
        return parse_policy(parse_toml(text, source), source)
    path = Path(text_name)
    if not path.is_file():
        raise InputError(text_name, f"no such policy file and not a preset ({', '.join(PRESETS)})")
    return parse_policy(load_toml(path, what="policy"), str(path))
