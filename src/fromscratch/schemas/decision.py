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
    ci: tuple[float, float]
    rank: int = Field(description="1 is the best")
    rank_interval: tuple[int, int]
    p_eliminated: float
    selection_advantage: float | None
    selection_advantage_ci: tuple[float | None, float | None] | None = None
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


class Decision(Result):
    schema_id: Literal["fromscratch.decision/1"] = Field(alias="schema")
    protocol_sha256: str
    teams: list[TeamRow]
    eliminated: list[str]
    robustness: Robustness
    counterfactuals: list[Counterfactual] | None = None


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
