"""A round folder: ledger entries (``ledger.jsonl``), item-level results, item logs and verdicts.

``bench.json``'s models are in `fromscratch.schemas.bench` (re-exported here).
"""

from __future__ import annotations

from pydantic import Field, RootModel

from fromscratch.schemas.base import Result
from fromscratch.schemas.bench import BenchRun as BenchRun, BenchSummary as BenchSummary
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

#: ``verdicts.json`` of a round folder: each team's overall policy verdict
RoundVerdicts = RootModel[dict[str, PolicyVerdict]]
