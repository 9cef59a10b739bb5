"""``fromscratch decide``: who is eliminated, with uncertainty and robustness."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fromscratch.schemas.base import Result
from fromscratch.schemas.literals import RobustnessClass


class TeamRow(Result):
    team: str
    total: float
    ci: tuple[float, float]
    rank: int = Field(description="1 is the best")
    rank_interval: tuple[int, int]
    p_eliminated: float
    selection_advantage: float | None


class Robustness(Result):
    class_: RobustnessClass = Field(alias="class")
    statement: str
    p_same_decision: float
    min_weight_change_to_flip: float | None = Field(description="L1 distance on normalised pillar weights")


class Counterfactual(Result):
    change: str
    eliminated: list[str]


class Decision(Result):
    schema_id: Literal["fromscratch.decision/1"] = Field(alias="schema")
    protocol_sha256: str
    teams: list[TeamRow]
    eliminated: list[str]
    robustness: Robustness
    counterfactuals: list[Counterfactual] | None = None


class Seal(Result):
    """``protocol seal --out``: the protocol's SHA-256 over its RFC 8785 canonical JSON."""

    schema_id: Literal["fromscratch.seal/1"] = Field(alias="schema")
    sha256: str


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
