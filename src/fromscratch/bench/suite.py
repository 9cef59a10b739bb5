"""One team's benchmarks against one backend: the loop `bench run` and `round run` share.

Each (team, benchmark) pair has its own append-only item log, named by one
cache key: a hash of the team, the benchmark's name, the task's identity
(config, data and every prompt: `Task.sha256`) and the backend's description
(model digest, encoding options, server URL). Changing any of them starts a
new log; rerunning with the same ones resumes the old log and asks the model
only for the items it has not answered yet.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fromscratch.bench.backends.base import Backend
from fromscratch.bench.results import rows_from_records
from fromscratch.bench.runner import run_task
from fromscratch.bench.tasks import Task
from fromscratch.schemas.bench import BenchRun, BenchTaskRun


def log_key(team: str, benchmark: str, task: Task, backend: dict[str, Any]) -> str:
    """The cache key of one (team, benchmark, task, backend) item log."""
    payload = json.dumps(["bench", team, benchmark, task.sha256(), backend], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def log_path(log_dir: str | Path, team: str, benchmark: str, task: Task, backend: dict[str, Any]) -> Path:
    return Path(log_dir) / f"{benchmark}-{log_key(team, benchmark, task, backend)[:24]}.jsonl"


@dataclass
class BenchmarkRun:
    """The records of one benchmark for one team, with where they came from."""

    team: str
    benchmark: str
    task: Task
    backend: dict[str, Any]
    records: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """Results-table rows (team, benchmark, item, score, prompt_sha256)."""
        return rows_from_records(self.team, self.benchmark, self.records)

    def prompts_sha256(self) -> str:
        """sha256 of the items' prompt hashes in item order: the same prompts, the same digest."""
        return hashlib.sha256("".join(r["prompt_sha256"] for r in self.records).encode()).hexdigest()

    def mean(self) -> float:
        return sum(r["score"] for r in self.records) / max(1, len(self.records))

    def entry(self) -> BenchRun:
        """A deterministic summary (a round's ``bench.json`` run): identical for a fresh and a resumed run."""
        return BenchRun(team=self.team, benchmark=self.benchmark, task_sha256=self.task.sha256(),
                        prompts_sha256=self.prompts_sha256(), backend=self.backend, items=len(self.records),
                        mean=self.mean())

    def task_run(self) -> BenchTaskRun:
        """This benchmark as `bench run --json` reports it."""
        return BenchTaskRun(benchmark=self.benchmark, task_sha256=self.task.sha256(),
                            data_sha256=self.task.data_sha256, version=self.task.version, **self.counts,
                            prompts_sha256=self.prompts_sha256(), mean=self.mean())


def run_suite(team: str, backend: Backend, tasks: dict[str, Task], log_dir: str | Path, *,
              progress: bool | None = None, log: Callable[[str], None] | None = None) -> list[BenchmarkRun]:
    """Run (or resume) every task for one team, in name order.

    ``log`` hears one line per benchmark that asked the model anything (a fully resumed
    benchmark is silent)."""
    desc = backend.describe()
    runs = []
    for name in sorted(tasks):
        task = tasks[name]
        records, counts = run_task(task, backend, log_path(log_dir, team, name, task, desc), progress=progress)
        runs.append(BenchmarkRun(team, name, task, desc, records, counts))
        if log is not None and counts["asked"]:
            log(f"bench: {team} {name}: {counts['asked']} items asked, {counts['reused']} from the log")
    return runs
