"""A round folder: ledger entries (``ledger.jsonl``), item-level results and bench run records."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, RootModel

from fromscratch.schemas.base import Result
from fromscratch.schemas.literals import LedgerKind, PolicyVerdict


class LedgerEntry(Result):
    """One line of ``ledger.jsonl``: a hash-chained entry; its other keys depend on ``kind``."""

    kind: LedgerKind
    seq: int
    prev: str = Field(description="hash of the previous entry (64 zeros for the first)")
    hash: str


class ResultRow(Result):
    """One row of the item-level results table (``results.jsonl``)."""

    team: str
    benchmark: str
    item: str
    score: float = Field(ge=0, le=1)


class ItemLog(Result):
    """One line of a ``bench run --log-dir`` item log."""

    item: str
    score: float
    logliks: list[float] | None = Field(None, description="multiple choice: one per choice, in choice order")


class BenchRun(Result):
    team: str
    benchmark: str
    items: int
    mean: float


class BenchSummary(Result):
    """``bench.json`` of a round folder: one record per (team, benchmark) run."""

    schema_id: Literal["fromscratch.bench-summary/1"] = Field(alias="schema")
    runs: list[BenchRun]


#: ``verdicts.json`` of a round folder: each team's overall policy verdict
RoundVerdicts = RootModel[dict[str, PolicyVerdict]]
