"""The item-level results table the decision engine reads, and its metadata.

One row per (team, benchmark, item): ``team, benchmark, item, score`` (score in
[0, 1]; docs/cli.md and docs/schemas/) plus ``prompt_sha256`` so anyone can check that every team
was asked the same thing. Rows are sorted, so the file is byte-identical for
the same results however they were produced.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from fromscratch.errors import InputError

COLUMNS = ("team", "benchmark", "item", "score")


def rows_from_records(team: str, benchmark: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"team": team, "benchmark": benchmark, "item": str(r["item"]), "score": float(r["score"]),
             "prompt_sha256": r.get("prompt_sha256")} for r in records]


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (str(r["team"]), str(r["benchmark"]), _natural(str(r["item"]))))


def _natural(s: str) -> tuple:
    return (0, int(s), "") if s.isdigit() else (1, 0, s)


def write_results(rows: list[dict[str, Any]], path: str | Path) -> None:
    """JSONL (or CSV when the name ends in .csv), sorted, one row per item."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sort_rows(rows)
    for r in rows:
        if not 0.0 <= float(r["score"]) <= 1.0:
            raise InputError(path, f"score {r['score']} of {r['team']}/{r['benchmark']}/{r['item']} not in [0, 1]")
    if path.suffix.lower() == ".csv":
        keys = list(COLUMNS) + sorted({k for r in rows for k in r} - set(COLUMNS))
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=keys, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        return
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n")


def read_results(path: str | Path) -> list[dict[str, Any]]:
    from fromscratch.bench.tasks import read_records

    rows = read_records(Path(path))
    for r in rows:
        missing = [c for c in COLUMNS if c not in r]
        if missing:
            raise InputError(path, f"results row lacks {', '.join(missing)}")
        r["score"] = float(r["score"])
    return rows


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (team, benchmark): n items and mean score, sorted."""
    acc: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        acc.setdefault((str(r["team"]), str(r["benchmark"])), []).append(float(r["score"]))
    return [{"team": t, "benchmark": b, "n": len(v), "mean": sum(v) / len(v)} for (t, b), v in sorted(acc.items())]
