"""Import lm-evaluation-harness ``--log_samples`` output into the results table.

lm-eval writes one JSONL per task (``samples_<task>_<timestamp>.jsonl``); each
line holds ``doc_id``, the prompt/doc/target hashes, and one key per metric
(``acc``, ``exact_match`` ...). Results produced elsewhere thereby enter the
same table as ours, with lm-eval's prompt hash kept as ``prompt_sha256``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fromscratch.artifacts.hfdir import parse_json
from fromscratch.errors import InputError
from fromscratch.tables import MAX_TABLE_BYTES

_PREFERRED = ("acc", "exact_match", "acc_norm", "em", "f1")


def benchmark_name(path: Path) -> str:
    m = re.match(r"samples_(.+?)_\d{4}-\d{2}-\d{2}T[\d\-.:]+$", path.stem)
    return m.group(1) if m else path.stem.removeprefix("samples_")


def import_samples(path: str | Path, team: str, *, benchmark: str | None = None,
                   metric: str | None = None, filter_name: str | None = None) -> list[dict[str, Any]]:
    """Rows ``team, benchmark, item, score, prompt_sha256`` from one samples file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "samples file not found")
    bench = benchmark or benchmark_name(path)
    rows: dict[str, dict[str, Any]] = {}
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise InputError(path, "samples file larger than 4 GiB")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = parse_json(line, path)
        except InputError:
            raise InputError(path, f"line {n} is not JSON") from None
        if not isinstance(rec, dict) or "doc_id" not in rec:
            raise InputError(path, f"line {n} is not an lm-eval sample (no doc_id)")
        flt = rec.get("filter", "none")
        if filter_name is not None and flt != filter_name:
            continue
        item = str(rec["doc_id"])
        if item in rows:
            if rows[item]["_filter"] != flt:
                continue  # several filters: the first one seen scores the item
            raise InputError(path, f"doc_id {item} appears twice")
        names = rec.get("metrics") or [k for k in _PREFERRED if k in rec]
        chosen = metric or next((k for k in _PREFERRED if k in names and k in rec), None) \
            or next((k for k in names if k in rec), None)
        if chosen is None or chosen not in rec:
            raise InputError(path, f"line {n}: metric {metric or 'acc/exact_match'} not found")
        try:
            score = float(rec[chosen])
        except (TypeError, ValueError):
            raise InputError(path, f"line {n}: {chosen} is not a number") from None
        if not 0.0 <= score <= 1.0:
            raise InputError(path, f"line {n}: {chosen}={score} is not in [0, 1]")
        rows[item] = {"team": team, "benchmark": bench, "item": item, "score": score,
                      "prompt_sha256": rec.get("prompt_hash"), "_filter": flt}
    if not rows:
        raise InputError(path, "no samples")
    for r in rows.values():
        del r["_filter"]
    return list(rows.values())
