"""Synthetic rounds whose truth is known, for tests, benchmarks and demonstrations.

Item scores are Bernoulli draws from a logistic item-response model: team t answers
item i of benchmark b correctly with probability sigmoid(logit(a_tb) + d_i), where a_tb
is the team's true accuracy level on the benchmark and d_i ~ N(0, spread^2) is the
item's easiness, shared by every team (so teams are correlated item by item, as on a
real test, and paired analysis matters). Human scores are a team's true mean plus a
rater severity shared across teams plus noise, clipped to the scale.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def make_results(
    accuracy: dict[str, dict[str, float]],
    items: int | dict[str, int] = 200,
    seed: int = 0,
    spread: float = 1.0,
    continuous: bool = False,
) -> list[dict]:
    """Rows (team, benchmark, item, score) for accuracy[team][benchmark] (0-1).

    Benchmarks absent from a team's dict get no rows for that team. `continuous` draws
    scores in [0, 1] (a Beta around the same probability) instead of 0/1.
    """
    rng = np.random.default_rng(seed)
    benches = sorted({b for row in accuracy.values() for b in row})
    rows: list[dict] = []
    for b in benches:
        n = items if isinstance(items, int) else items[b]
        easy = rng.normal(0.0, spread, size=n)
        for team in sorted(accuracy):
            if b not in accuracy[team]:
                continue
            p = 1.0 / (1.0 + np.exp(-(_logit(accuracy[team][b]) + easy)))
            if continuous:
                x = rng.beta(8 * p + 0.1, 8 * (1 - p) + 0.1)
            else:
                x = (rng.random(n) < p).astype(float)
            rows.extend({"team": team, "benchmark": b, "item": f"{b}-{i:05d}", "score": float(x[i])} for i in range(n))
    return rows


def make_human(
    means: dict[str, dict[str, float]],
    raters: int = 5,
    criteria: dict[str, list[str]] | None = None,
    seed: int = 0,
    severity: float = 0.05,
    noise: float = 0.05,
) -> list[dict]:
    """Rows (team, pillar, rater, criterion, score in [0, 1]) around means[pillar][team]."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for pillar in sorted(means):
        crits = (criteria or {}).get(pillar, ["overall"])
        sev = rng.normal(0.0, severity, size=raters)
        for team in sorted(means[pillar]):
            for r in range(raters):
                for c in crits:
                    x = float(np.clip(means[pillar][team] + sev[r] + rng.normal(0.0, noise), 0.0, 1.0))
                    rows.append({"team": team, "pillar": pillar, "rater": f"{pillar}-r{r:02d}", "criterion": c, "score": x})
    return rows


def write_jsonl(rows: list[dict], path: str | Path) -> Path:
    p = Path(path)
    with open(p, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True) + "\n")
    return p


def write_csv(rows: list[dict], path: str | Path) -> Path:
    p = Path(path)
    cols = list(rows[0])
    with open(p, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    return p
