"""``verify_chain``: does a checkpoint chain prove the model was trained from a fresh start?

Four checks, each with its own null and error rate (see docs/chain.md):

* ``init``: CKPT_0 is a fresh random draw of the declared scheme (``init``);
* ``reference``: no checkpoint is identical to or derived from a reference
  (weight lineage, fingerprint against fingerprint);
* ``continuity``: each step ``k-1 -> k`` is derived, aligned position by
  position, with the same layer mapping, and not a spike against the chain's
  own trend (``steps``);
* ``submission``: the submitted model is CKPT_n (``identical``) or derived
  from it (post-training, ``derived``).

Checkpoints are read one at a time (their fingerprints are cached); at most
three fingerprints (CKPT_0, the previous and the current checkpoint) and the
references' are held at once. The verdict is ``invalid`` when any check
fails, ``inconclusive`` when none failed but one could not be decided, and
``valid`` otherwise.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import Any

from fromscratch.chain.init import check_init
from fromscratch.chain.steps import (REUSE, TREND_FACTOR, classify, lineage_step, pair_statistics, sketches,
                                     trend_ratios)
from fromscratch.errors import InputError
from fromscratch.lineage.api import compare_fingerprints
from fromscratch.lineage.fingerprint import Fingerprint, build_fingerprint

SCHEMA = "fromscratch.chain/1"
_FLAG_TEXT = {
    "jump": "checkpoint {to} is not derived from checkpoint {frm} (relation {relation}): the model was replaced",
    "permuted": "checkpoint {to} is derived from {frm} but its values moved position ({n} tensors not aligned)",
    "remapped": "checkpoint {to} matches {frm} only under a different layer mapping ({what})",
    "reshaped": "tensor shapes or names changed between checkpoints {frm} and {to}",
    "large-change": "step {frm} -> {to} changed the weights {ratio:.3g}x more than its neighbours and the chain's median",
}


def _natural(text: str) -> list:
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", text)]


def expand_checkpoints(specs: list[str]) -> list[str]:
    """Checkpoint locations in training order: globs and folders of checkpoints expanded in natural order.

    A folder counts as a folder *of checkpoints* when it holds no weights
    itself but has sub-folders or files that do; otherwise it is one checkpoint.
    """
    out: list[str] = []
    for spec in specs:
        if any(ch in spec for ch in "*?[") and not Path(spec).exists():
            hits = sorted(glob.glob(spec), key=_natural)
            if not hits:
                raise InputError(spec, "glob matches no checkpoint")
            out.extend(hits)
            continue
        p = Path(spec)
        if p.is_dir() and not _holds_weights(p):
            subs = sorted((c for c in p.iterdir() if _holds_weights(c) or c.suffix in _WEIGHT_SUFFIXES),
                          key=lambda c: _natural(c.name))
            if not subs:
                raise InputError(spec, "folder holds no checkpoint")
            out.extend(str(c) for c in subs)
        else:
            out.append(spec)
    return out


_WEIGHT_SUFFIXES = {".safetensors", ".gguf", ".bin", ".pt", ".pth", ".onnx"}


def _holds_weights(p: Path) -> bool:
    if not p.is_dir():
        return False
    return any(c.is_file() and c.suffix in _WEIGHT_SUFFIXES for c in p.iterdir())


def _label_refs(references: list) -> list[tuple[str, str]]:
    out = []
    for r in references or []:
        if isinstance(r, (tuple, list)):
            out.append((str(r[0]), str(r[1])))
        elif hasattr(r, "label") and hasattr(r, "path"):
            out.append((str(r.label), str(r.path)))
        else:
            out.append((Path(str(r)).name or str(r), str(r)))
    return out


def _reference_hits(fp: Fingerprint, refs: list[tuple[str, Fingerprint]], seed: int) -> list[dict[str, Any]]:
    rows = []
    for label, rfp in refs:
        obj = compare_fingerprints(fp, rfp, seed=seed)
        rows.append({"reference": label, "relation": obj["verdict"], "p_value": float(obj["p_value"]),
                     "shared_parameter_fraction": float(obj["shared_parameter_fraction"])})
    return rows


def _step_record(k: int, prev_fp: Fingerprint, cur_fp: Fingerprint, seed: int) -> dict[str, Any]:
    step: dict[str, Any] = {"from": k - 1, "to": k}
    step.update(lineage_step(prev_fp, cur_fp, seed))
    step.update(pair_statistics(sketches(prev_fp), sketches(cur_fp)))
    step["flag"] = classify(step)
    return step


def _submission(model: str | None, last_path: str, last_fp: Fingerprint, seed: int) -> dict[str, Any]:
    if model is None:
        return {"relation": None, "path": None, "note": "no submitted model given"}
    if Path(model).resolve() == Path(last_path).resolve():
        return {"relation": "identical", "path": model, "p_value": 0.0, "note": "the submission is CKPT_n itself"}
    obj = compare_fingerprints(build_fingerprint(model), last_fp, seed=seed)
    relation = obj["verdict"]
    note = {"identical": "the submitted model is CKPT_n",
            "derived": "the submitted model is derived from CKPT_n (post-training or another change)",
            "independent": "the submitted model is not CKPT_n and not derived from it",
            "inconclusive": "too little comparable material to relate the submission to CKPT_n"}[relation]
    return {"relation": relation, "path": model, "p_value": float(obj["p_value"]), "note": note}


def _walk(paths: list[str], refs: list[tuple[str, Fingerprint]], seed: int, progress: Any,
          reference_checks: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Fingerprint, Fingerprint]:
    """Fingerprint checkpoints in order; (steps, per-checkpoint reference hits, first fp, last fp).

    ``reference_checks="all"`` compares every checkpoint with every reference;
    ``"flagged"`` only CKPT_0, CKPT_n and checkpoints whose step is flagged by
    lineage or alignment (cheaper for long chains against many references).
    """
    first = prev = build_fingerprint(paths[0])
    hits = [{"index": 0, "path": paths[0], "references": _reference_hits(first, refs, seed)}]
    steps: list[dict[str, Any]] = []
    for k in range(1, len(paths)):
        cur = build_fingerprint(paths[k])
        steps.append(_step_record(k, prev, cur, seed))
        if reference_checks == "all" or steps[-1]["flag"] is not None or k == len(paths) - 1:
            hits.append({"index": k, "path": paths[k], "references": _reference_hits(cur, refs, seed)})
        prev = cur
        if progress is not None:
            progress()
    return steps, hits, first, prev


def _failures(init: dict[str, Any], steps: list[dict[str, Any]], hits: list[dict[str, Any]],
              submission: dict[str, Any], n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not init["fresh"]:
        why = "; ".join(init["findings"][:3]) or "no tensor could be tested"
        out.append({"step": 0, "check": "init", "detail": f"CKPT_0 is not a fresh initialisation: {why}"})
    for h in hits:
        for r in h["references"]:
            if r["relation"] in REUSE:
                out.append({"step": h["index"], "check": "reference",
                            "detail": f"checkpoint {h['index']} is {r['relation']} from reference {r['reference']} "
                                      f"(p = {r['p_value']:.3g})"})
    for s in steps:
        if s["flag"] in _FLAG_TEXT:
            text = _FLAG_TEXT[s["flag"]].format(to=s["to"], frm=s["from"], relation=s["relation"],
                                                n=len(s["misaligned"]), what=", ".join(s["remapped"][:3]),
                                                ratio=s.get("trend_ratio") or 0.0)
            out.append({"step": s["to"], "check": "continuity", "detail": text})
    if submission["relation"] in ("independent",):
        out.append({"step": n, "check": "submission",
                    "detail": f"the submitted model is neither CKPT_{n} nor derived from it"})
    order = {"init": 0, "reference": 1, "continuity": 2, "submission": 3}
    return sorted(out, key=lambda f: (f["step"] if f["step"] is not None else n + 1, order[f["check"]]))


def _undecided(steps: list[dict[str, Any]], hits: list[dict[str, Any]], submission: dict[str, Any]) -> list[str]:
    out = [f"step {s['from']} -> {s['to']}: lineage inconclusive and nothing to align" for s in steps
           if s["flag"] == "undecided"]
    if submission["relation"] == "inconclusive":
        out.append("submission: too little comparable material")
    out += [f"checkpoint {h['index']} vs {r['reference']}: inconclusive" for h in hits[:1]
            for r in h["references"] if r["relation"] == "inconclusive"]
    return out


def verify_chain(checkpoints: list[str], *, model: str | None = None, references: list | None = None,
                 init_options: list[str] | None = None, config: dict[str, Any] | None = None,
                 seed: int = 0, progress: Any = None, reference_checks: str = "all") -> dict[str, Any]:
    """The ``fromscratch.chain/1`` object for CKPT_0 ... CKPT_n (in training order)."""
    if reference_checks not in ("all", "flagged"):
        raise InputError("--reference-checks", "must be all or flagged")
    paths = [str(p) for p in checkpoints]
    if not paths:
        raise InputError("chain", "no checkpoints given")
    for p in paths + ([model] if model else []):
        if not Path(p).exists():
            raise InputError(p, "no such file or directory")
    init = check_init(paths[0], scheme_options=init_options, config=config)
    refs = [(label, build_fingerprint(path)) for label, path in _label_refs(references or [])]
    steps, hits, first, last = _walk(paths, refs, seed, progress, reference_checks)
    ratios = trend_ratios([s["change"] for s in steps])
    for s, r in zip(steps, ratios):
        s["trend_ratio"] = r
        if r is not None and r > TREND_FACTOR and s["flag"] is None:
            s["flag"] = "large-change"
    submission = _submission(model, paths[-1], last, seed)
    anchor = compare_fingerprints(last, first, seed=seed) if len(paths) > 1 else None
    n = len(paths) - 1
    failures = _failures(init, steps, hits, submission, n)
    undecided = _undecided(steps, hits, submission)
    verdict = "invalid" if failures else ("inconclusive" if undecided else "valid")
    return {"schema": SCHEMA, "verdict": verdict,
            "checkpoints": paths, "init": init, "steps": steps, "submission": submission,
            "references": hits,
            "anchor": None if anchor is None else {
                "relation": anchor["verdict"], "p_value": float(anchor["p_value"]),
                "note": "CKPT_n against CKPT_0: a genuine run usually keeps a trace of its initialisation"},
            "failures": failures, "undecided": undecided, "reference_checks": reference_checks,
            "first_failure": failures[0] if failures else None, "seed": seed}
