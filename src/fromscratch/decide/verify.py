"""Re-checking a published decision from the inputs its bundle holds.

A decision JSON records, under `inputs`, the file name and SHA-256 of the protocol,
results table, human scores, verdicts and seal it was computed from, and the number
of resamples. Re-checking finds those files next to the decision (same folder), checks
their hashes, recomputes the decision and compares it with the published one. Because
the computation is deterministic, any difference means the decision or its inputs were
altered (or the engine changed; the message says which part differs).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

DECISION_NAMES = ("decision.json",)


def _find_decision(path: Path) -> Path | None:
    if path.is_file():
        return path
    for name in DECISION_NAMES:
        if (path / name).is_file():
            return path / name
    return None


def _first_difference(a, b, where: str = "") -> str | None:
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return where or "/"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{where}/{key}"
            d = _first_difference(a[key], b[key], f"{where}/{key}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return where or "/"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{where}/{i}")
            if d:
                return d
        return None
    return None if a == b else (where or "/")


def verify_decision_bundle(dir_or_file: str | Path) -> list[str]:
    """Problems found re-checking a decision bundle; an empty list means it holds.

    `dir_or_file` is the bundle folder (holding `decision.json` and its inputs) or the
    decision JSON itself (inputs looked up in its folder). Never raises for a bad bundle:
    every problem is returned as one line (the caller turns them into exit code 4).
    """
    from fromscratch.artifacts.hfdir import load_json
    from fromscratch.decide.engine import decide_from_files
    from fromscratch.errors import InputError

    root = Path(dir_or_file)
    dec_path = _find_decision(root)
    if dec_path is None:
        return [f"{root}: no decision.json found"]
    try:
        published = load_json(dec_path)
    except InputError as exc:
        return [exc.one_line()]
    if not isinstance(published, dict) or published.get("schema") != "fromscratch.decision/1":
        return [f"{dec_path}: not a fromscratch.decision/1 object"]
    inputs = published.get("inputs")
    if not isinstance(inputs, dict):
        return [f"{dec_path}: records no inputs to re-check"]
    folder = dec_path.parent
    problems: list[str] = []
    paths: dict[str, Path | None] = {}
    for role in ("protocol", "results", "human", "verdicts", "seal"):
        rec = inputs.get(role)
        if rec is None:
            paths[role] = None
            continue
        name = rec.get("file") if isinstance(rec, dict) else None
        if not isinstance(name, str) or "/" in name or "\\" in name or name in ("", ".", ".."):
            problems.append(f"{dec_path}: bad file name recorded for {role}")
            continue
        p = folder / name
        if not p.is_file():
            problems.append(f"{p}: {role} file listed by the decision is missing")
            continue
        paths[role] = p
        if role != "protocol":
            h = hashlib.sha256(p.read_bytes()).hexdigest()
            if h != rec.get("sha256"):
                problems.append(f"{p}: {role} file changed (sha256 differs from the decision's record)")
    if problems:
        return problems
    try:
        again = decide_from_files(
            paths["protocol"], paths["results"], paths["human"], resamples=inputs.get("resamples"),
            seal_path=paths["seal"], verdicts_path=paths["verdicts"],
        )
    except InputError as exc:
        return [f"recomputing the decision failed: {exc.one_line()}"]
    from fromscratch.jsonio import dumps

    again = json.loads(dumps(again))
    if again.get("protocol_sha256") != published.get("protocol_sha256"):
        problems.append(f"{paths['protocol']}: protocol changed (canonical sha256 differs from the decision's)")
    diff = _first_difference(published, again)
    if diff is not None:
        problems.append(f"{dec_path}: published decision differs from the recomputed one at {diff}")
    return problems
