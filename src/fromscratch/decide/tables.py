"""Reading the item-level results table and the human-scores table.

Both tables are the system of record of a round, so they are read strictly: a missing
column, a duplicate row, a score outside its range or a non-number is an InputError
naming the file and the first offending row, never a silent fix. Rows come from the one
table reader, ``fromscratch.tables`` (JSONL, CSV, Parquet; one size cap).
Extra columns (model revision, prompt hash, ...) are allowed and ignored here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from fromscratch.digests import file_sha256 as file_sha256  # re-exported for the engine
from fromscratch.errors import InputError
from fromscratch.tables import MAX_TABLE_BYTES as MAX_TABLE_BYTES, read_rows

RESULT_COLUMNS = ("team", "benchmark", "item", "score")
HUMAN_COLUMNS = ("team", "pillar", "rater", "criterion", "score")


def _text(path: Path, lineno: int, col: str, v: Any) -> str:
    if type(v) is str:
        s = v.strip()
        if s:
            return s
    if isinstance(v, bool) or v is None or isinstance(v, (dict, list)):
        raise InputError(path, f"row {lineno}: column {col!r} must be a string, got {json.dumps(v)}")
    s = str(v).strip()
    if not s:
        raise InputError(path, f"row {lineno}: column {col!r} is empty")
    if isinstance(v, float) and v.is_integer():
        s = str(int(v))
    return s


def _number(path: Path, lineno: int, v: Any, lo: float, hi: float) -> float:
    if isinstance(v, bool):
        x = float(v)
    elif isinstance(v, (int, float)):
        x = float(v)
    elif isinstance(v, str):
        try:
            x = float(v.strip())
        except ValueError:
            raise InputError(path, f"row {lineno}: score {v!r} is not a number") from None
    else:
        raise InputError(path, f"row {lineno}: score {json.dumps(v)} is not a number")
    if math.isnan(x) or not (lo <= x <= hi):
        raise InputError(path, f"row {lineno}: score {x!r} is outside [{lo:g}, {hi:g}]")
    return x


def read_results(
    path: str | Path, clusters: dict[str, dict[str, str]] | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """benchmark -> team -> item -> score, refusing duplicates and scores outside [0, 1].

    The optional `cluster` column (passage, exam paper, subject...) groups correlated
    items; pass a dict as `clusters` to receive benchmark -> item -> cluster. An item
    must name the same cluster on every row, and either every row of a benchmark names
    a cluster or none does.
    """
    p = Path(path)
    out: dict[str, dict[str, dict[str, float]]] = {}
    seen: dict[str, dict[str, str | None]] = {}
    n = 0
    for lineno, row in read_rows(p, RESULT_COLUMNS, ("cluster",)):
        team = _text(p, lineno, "team", row["team"])
        bench = _text(p, lineno, "benchmark", row["benchmark"])
        item = _text(p, lineno, "item", row["item"])
        score = _number(p, lineno, row["score"], 0.0, 1.0)
        raw_c = row.get("cluster")
        cl = None if raw_c is None or (isinstance(raw_c, str) and not raw_c.strip()) else _text(p, lineno, "cluster", raw_c)
        per = seen.setdefault(bench, {})
        if per and (cl is None) != (next(iter(per.values())) is None):
            raise InputError(p, f"row {lineno}: benchmark {bench!r} mixes rows with and without a cluster")
        if per.get(item, cl) != cl:
            raise InputError(p, f"row {lineno}: item {item!r} of benchmark {bench!r} is in cluster {per[item]!r} elsewhere")
        per[item] = cl
        cell = out.setdefault(bench, {}).setdefault(team, {})
        if item in cell:
            raise InputError(p, f"row {lineno}: duplicate row for team {team!r}, benchmark {bench!r}, item {item!r}")
        cell[item] = score
        n += 1
    if n == 0:
        raise InputError(p, "results table has no rows")
    if clusters is not None:
        for bench, per in seen.items():
            if per and next(iter(per.values())) is not None:
                clusters[bench] = {i: c for i, c in per.items() if c is not None}
    return out


def read_human(path: str | Path, scale: tuple[float, float]) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """pillar -> team -> rater -> criterion -> score mapped to 0-1 from `scale`."""
    p = Path(path)
    lo, hi = scale
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    n = 0
    for lineno, row in read_rows(p, HUMAN_COLUMNS):
        team = _text(p, lineno, "team", row["team"])
        pillar = _text(p, lineno, "pillar", row["pillar"])
        rater = _text(p, lineno, "rater", row["rater"])
        crit = _text(p, lineno, "criterion", row["criterion"])
        x = _number(p, lineno, row["score"], lo, hi)
        cell = out.setdefault(pillar, {}).setdefault(team, {}).setdefault(rater, {})
        if crit in cell:
            raise InputError(
                p, f"row {lineno}: duplicate row for team {team!r}, pillar {pillar!r}, rater {rater!r}, criterion {crit!r}"
            )
        cell[crit] = (x - lo) / (hi - lo)
        n += 1
    if n == 0:
        raise InputError(p, "human-scores table has no rows")
    return out
