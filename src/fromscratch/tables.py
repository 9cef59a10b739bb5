"""The one table reader: JSONL, CSV/TSV, Parquet (and JSON arrays for task data), one size cap.

Results tables, human scores and benchmark task data are all untrusted files of rows. They
are read here, and only here, so a size cap or a parsing fix lands once: a file over
`MAX_TABLE_BYTES`, a line that is not a JSON object, a CSV row with more fields than its
header or a corrupt Parquet file is an `InputError` naming the file and the row. What the
rows must contain is the caller's business (``decide.tables`` checks results and human
scores strictly, ``bench.tasks`` reads task documents). Parquet needs the optional
``dataframe`` extra (pyarrow).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterator

from fromscratch.errors import InputError, require

MAX_TABLE_BYTES = 4 * 1024**3

_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "csv",
                   ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: Path) -> str:
    """``jsonl``, ``csv`` or ``parquet``, by name first and by the first bytes otherwise."""
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


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise InputError(path, "file not found")
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise InputError(path, "table larger than 4 GiB")


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


def _rows_parquet(path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = (),
                  everything: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    pq = require("pyarrow.parquet", "dataframe")
    try:
        pf = pq.ParquetFile(path)
        names = list(pf.schema_arrow.names)
        missing = [c for c in columns if c not in names]
        if missing:
            raise InputError(path, f"missing column(s) {', '.join(missing)} (need {', '.join(columns)})")
        columns = tuple(names) if everything else columns + tuple(c for c in optional if c in names)
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
    _check_file(p)
    fmt = table_format(p)
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


def _json_document(path: Path) -> list[dict[str, Any]] | None:
    """A ``.json`` file holding one array of records or ``{"data"|"rows": [...]}``; None for JSONL."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "JSON is not UTF-8") from None
    stripped = text.lstrip()
    if not (stripped.startswith("[") or (stripped.startswith("{") and path.suffix.lower() == ".json"
                                          and "\n{" not in stripped)):
        return None
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError(path, f"not valid JSON ({exc.__class__.__name__})") from None
    rows = obj.get("data", obj.get("rows")) if isinstance(obj, dict) else obj
    if not isinstance(rows, list):
        raise InputError(path, "JSON file holds no list of records")
    if not all(isinstance(r, dict) for r in rows):
        raise InputError(path, "every record must be a JSON object")
    return rows


def read_records(path: str | Path, fmt: str | None = None) -> list[dict[str, Any]]:
    """Every row of a data file as dicts, in file order, all columns kept.

    ``fmt`` is ``json`` (a JSON array, ``{"data": [...]}`` or JSONL), ``csv`` or ``parquet``;
    by default it follows the suffix.
    """
    p = Path(path)
    fmt = fmt or _SUFFIX_FORMATS.get(p.suffix.lower())
    _check_file(p)
    if fmt in ("json", "jsonl"):
        whole = _json_document(p)
        if whole is not None:
            return whole
        return [row for _, row in _rows_jsonl(p)]
    if fmt == "csv":
        return [row for _, row in _rows_csv(p)]
    if fmt == "parquet":
        return [row for _, row in _rows_parquet(p, (), everything=True)]
    raise InputError(p, f"unsupported data format {fmt or p.suffix!r}")
