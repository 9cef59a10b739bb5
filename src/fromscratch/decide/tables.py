"""Reading the item-level results table and the human-scores table.

Both tables are the system of record of a round, so they are read strictly: a missing
column, a duplicate row, a score outside its range or a non-number is an InputError
naming the file and the first offending row, never a silent fix. JSONL and CSV are read
with the standard library; Parquet needs the optional `dataframe` extra (pyarrow).
Extra columns (model revision, prompt hash, ...) are allowed and ignored here.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Iterator

from fromscratch.digests import file_sha256 as file_sha256  # re-exported for the engine
from fromscratch.errors import InputError, require

RESULT_COLUMNS = ("team", "benchmark", "item", "score")
HUMAN_COLUMNS = ("team", "pillar", "rater", "criterion", "score")
MAX_TABLE_BYTES = 4 * 1024**3


def _format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".jsonl", ".ndjson", ".jsonl.txt")):
        return "jsonl"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:1] in (b"{", b" ", b"\n"):
        return "jsonl"
    return "csv"


def _rows_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    decode = json.JSONDecoder().decode
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8-sig").strip()
                if not line:
                    continue
                obj = decode(line)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
                raise InputError(path, f"line {lineno}: not valid JSON ({exc.__class__.__name__})") from None
            if not isinstance(obj, dict):
                raise InputError(path, f"line {lineno}: expected a JSON object per line")
            yield lineno, obj


def _rows_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "CSV is not UTF-8") from None
    delim = "\t" if path.name.lower().endswith(".tsv") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        for lineno, row in enumerate(reader, start=2):
            if None in row:
                raise InputError(path, f"line {lineno}: more fields than the header has")
            yield lineno, row
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV ({exc})") from None


def _rows_parquet(path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> Iterator[tuple[int, dict[str, Any]]]:
    pq = require("pyarrow.parquet", "dataframe")
    try:
        pf = pq.ParquetFile(path)
        names = set(pf.schema_arrow.names)
        missing = [c for c in columns if c not in names]
        if missing:
            raise InputError(path, f"missing column(s) {', '.join(missing)} (need {', '.join(columns)})")
        columns = columns + tuple(c for c in optional if c in names)
        table = pf.read(columns=list(columns))
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise InputError(path, f"cannot read Parquet ({exc.__class__.__name__}: {exc})") from None
    cols = {c: table.column(c).to_pylist() for c in columns}
    for i in range(table.num_rows):
        yield i + 1, {c: cols[c][i] for c in columns}


def read_rows(path: str | Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number, row) with at least `columns` (and `optional` ones where present)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found")
    if p.stat().st_size > MAX_TABLE_BYTES:
        raise InputError(p, "table larger than 4 GiB")
    fmt = _format(p)
    if fmt == "parquet":
        yield from _rows_parquet(p, columns, optional)
        return
    rows = _rows_jsonl(p) if fmt == "jsonl" else _rows_csv(p)
    first = True
    for lineno, row in rows:
        if first or fmt == "jsonl":
            missing = [c for c in columns if c not in row]
            if missing:
                where = "header" if fmt == "csv" else f"line {lineno}"
                raise InputError(p, f"{where}: missing column(s) {', '.join(missing)} (need {', '.join(columns)})")
            first = False
        yield lineno, row


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
