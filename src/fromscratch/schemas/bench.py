"""Benchmark runs: `bench run --json` (``fromscratch.bench/1``) and a round's ``bench.json``.

Field order is the order the JSON is written in: `bench.suite.BenchmarkRun` and the
`bench run` command build their output from these models (``model_dump(by_alias=True)``),
so the models are the one definition of those objects, not a check made afterwards.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from fromscratch.schemas.base import Result


class SummaryRow(Result):
    """Per (team, benchmark): number of items and mean score (`bench.results.summary`)."""

    team: str
    benchmark: str
    n: int
    mean: float


class BenchRun(Result):
    """One (team, benchmark) run in a round's ``bench.json``; identical for a fresh and a resumed run."""

    team: str
    benchmark: str
    task_sha256: str = Field(description="the task's identity: config, data and every prompt (Task.sha256)")
    prompts_sha256: str = Field(description="sha256 of the items' prompt hashes, concatenated in item order")
    backend: dict[str, Any] = Field(description="the backend's description: model digest, encoding options, server")
    items: int
    mean: float


class BenchSummary(Result):
    """``bench.json`` of a round folder: one record per (team, benchmark) run."""

    schema_id: Literal["fromscratch.bench-summary/1"] = Field(alias="schema")
    runs: list[BenchRun]
    summary: list[SummaryRow]


class BenchTaskRun(Result):
    """One benchmark of a `bench run`: its identity, how many items were answered now or resumed."""

    benchmark: str
    task_sha256: str
    data_sha256: str = Field(description="sha256 of the task's data files (empty when built in)")
    version: str = Field(description="the task's metadata.version")
    items: int
    reused: int = Field(description="items taken from the item log (not asked again)")
    asked: int = Field(description="items asked of the model in this run")
    prompts_sha256: str
    mean: float


class Bench(Result):
    """`bench run --json`: one team against one backend, every task given."""

    schema_id: Literal["fromscratch.bench/1"] = Field(alias="schema")
    team: str
    backend: dict[str, Any]
    runs: list[BenchTaskRun]
    summary: list[SummaryRow]
