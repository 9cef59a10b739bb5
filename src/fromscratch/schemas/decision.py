"""``fromscratch decide``: who is eliminated, with uncertainty and robustness."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from fromscratch.schemas.base import Result
from fromscratch.schemas.literals import PolicyVerdict, RobustnessClass


class TeamRow(Result):
    """One team of a decision. `decide.engine.team_rows` builds each row from this model, in this
    key order."""

    team: str
    total: float
    ci: list[float] = Field(min_length=2, max_length=2, description="bootstrap interval of the total")
    rank: int = Field(description="1 is the best")
    rank_interval: list[int] = Field(min_length=2, max_length=2)
    p_eliminated: float
    selection_advantage: float | None
    selection_advantage_ci: list[float | None] | None = Field(None, min_length=2, max_length=2)
    eliminated: bool = Field(description="eliminated under the official rule (on score or disqualified)")
    disqualified: bool = Field(description="removed by the originality gate")
    verdict: PolicyVerdict | None = Field(description="the team's policy verdict, when verdicts were given")
    factor: float = Field(description="the originality gate's factor on the team's total (1 = none)")
    pillars: dict[str, float]
    benchmarks: dict[str, float | None]
    normalised: dict[str, float | None]


class Robustness(Result):
    """Built by `decide.robustness.robustness`, in this key order."""

    class_: RobustnessClass = Field(alias="class")
    statement: str
    p_same_decision: float
    min_weight_change_to_flip: float | None = Field(description="L1 distance on normalised pillar weights")
    thresholds: dict[str, float] = Field(description="the values of p_same_decision and "
                                                     "min_weight_change_to_flip a robust decision must reach")


class Counterfactual(Result):
    """One what-if row, built by `decide.counterfactuals`, in this key order (``note`` only when set)."""

    change: str
    change_ko: str = Field(description="the same change in Korean")
    kind: str = Field(description="which rule was changed (counts, chosen benchmarks, normalisation, gate, weights)")
    parameters: dict[str, Any]
    eliminated: list[str]
    same_decision: bool
    note: str | None = None


class Rule(Result):
    """The protocol's decision rule as applied."""

    eliminate: int
    tie_policy: str
    statistical_tie: str
    normalisation: str
    alpha: float
    seed: int
    weights: dict[str, float] = Field(description="pillar weights as written in the protocol")
    weights_normalised: dict[str, float] = Field(description="the same, summing to 1")
    originality_gate: str
    missing_items: str


class Bootstrap(Result):
    resamples: int
    paired: bool
    raters_resampled: bool
    p_same_decision: float
    confidence: float = Field(description="1 - alpha: the level of every interval")
    p_above: dict[str, dict[str, float]] = Field(description="team -> other team -> P(total above)")


class PairTest(Result):
    """A score-eliminated team against the lowest survivor (Holm-adjusted)."""

    eliminated: str
    next: str
    difference: float
    p_value: float
    p_holm: float
    significant: bool


class BenchmarkTest(Result):
    """The boundary pair's difference on one benchmark (Benjamini-Hochberg adjusted)."""

    benchmark: str
    next_minus_eliminated: float
    p_value: float
    p_bh: float


class BenchmarkInfo(Result):
    benchmark: str
    pillar: str
    items: int
    clusters: int | None = Field(description="item clusters resampled together, when the results name them")
    teams_required: list[str]


class HumanInfo(Result):
    pillar: str
    raters: int
    krippendorff_alpha: float | None = Field(description="rater agreement; null when undefined")


class InputFile(Result):
    file: str
    sha256: str


class DecisionInputs(Result):
    """What `decide.verify` needs to recompute the decision: each input by name and digest."""

    protocol: InputFile
    results: InputFile
    human: InputFile | None
    verdicts: InputFile | None
    seal: InputFile | None
    resamples: int


class Decision(Result):
    """``fromscratch decide``; `decide.engine.decide_from_files` builds it from this model, in
    this key order. Sections whose shape depends on the protocol (weights, normalisations,
    influence, selection) are described in docs/decide.md and kept as objects here."""

    schema_id: Literal["fromscratch.decision/1"] = Field(alias="schema")
    protocol_sha256: str
    name: str
    teams: list[TeamRow]
    eliminated: list[str]
    robustness: Robustness
    rule: Rule
    eliminated_on_score: list[str]
    disqualified: list[str]
    spared: list[str] = Field(description="score-eliminated teams spared as a statistical tie")
    originality_flagged: list[str]
    bootstrap: Bootstrap
    tests: list[PairTest]
    benchmark_tests: list[BenchmarkTest]
    weights: dict[str, Any]
    normalisations: list[dict[str, Any]]
    influence: dict[str, Any]
    selection: dict[str, Any] | None
    counterfactuals: list[Counterfactual]
    benchmarks: list[BenchmarkInfo]
    human: list[HumanInfo]
    warnings: list[str]
    inputs: DecisionInputs


class Seal(Result):
    """``protocol seal --out``: the protocol's SHA-256 over its RFC 8785 canonical JSON.
    `decide.protocol.seal_record` builds it from this model."""

    schema_id: Literal["fromscratch.seal/1"] = Field(alias="schema")
    sha256: str
    name: str = Field(description="the protocol's name")
    canonical: str = Field(description="the RFC 8785 canonical JSON the digest is taken over")


class SensitivityCell(Result):
    factor: float
    weight: float
    eliminated: str | list[str]
    same: bool


class SensitivityPillar(Result):
    pillar: str
    official_weight: float
    cells: list[SensitivityCell]


class Sensitivity(Result):
    """``sensitivity.json`` of a round folder: the decision as each pillar weight is scaled."""

    schema_id: Literal["fromscratch.sensitivity/1"] = Field(alias="schema")
    factors: list[float]
    pillars: list[SensitivityPillar]
