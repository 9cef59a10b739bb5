"""Public entry points of weight lineage: ``compare`` and ``audit`` (interface 3).

Both return plain dicts in the CONTRACT.md shapes (``fromscratch.compare/1`` and
the lineage part of ``fromscratch.audit/1``). Multiple-comparison control:

* within one candidate/reference pair, component p-values are Holm-adjusted over
  every tested component (norms excluded: they are only supporting evidence);
  the pair's overall ``p_value`` is the smallest adjusted p (Bonferroni);
* across references in ``audit`` every p-value is further multiplied by the
  number of references (Bonferroni) before the thresholds are applied.

Thresholds (fixed): derived when p < 1e-6; independent when p > 0.01 and the test
had power; otherwise inconclusive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fromscratch.lineage.compare import (
    DERIVED_P,
    INDEPENDENT_P,
    CandidateMemo,
    Comparison,
)
from fromscratch.lineage.fingerprint import Fingerprint, build_fingerprint

COMPARE_SCHEMA = "fromscratch.compare/1"
AUDIT_SCHEMA = "fromscratch.audit/1"


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _learned_params(comp: dict[str, Any]) -> int:
    return sum(_numel(t["shape"]) for t in comp["tensors"] if t["learned"] and not t["constant"])


def _summary(fp: Fingerprint) -> dict[str, Any]:
    return {"path": fp.meta["path"], "format": fp.meta["format"], "parameters": int(fp.meta["parameters"])}


def _roll_up(obj: dict[str, Any], cfp_components: list[dict[str, Any]]) -> None:
    """Fill verdict, p_value, shared_parameter_fraction and coverage from the components.

    ``identical`` as a whole needs every decisive component identical and the
    same number of parameters on both sides (a pruned copy is derived).
    """
    learned = {c["name"]: _learned_params(c) for c in cfp_components}
    total = sum(learned.values())
    comps = obj["components"]
    shared = sum(learned.get(c["name"], 0) for c in comps if c["relation"] in ("identical", "derived"))
    compared = sum(learned.get(c["name"], 0) for c in comps
                   if c["relation"] in ("identical", "derived", "independent")
                   or (c["relation"] == "inconclusive" and "evidence" in c))
    decisive = [c for c in comps if c["kind"] != "norm" and learned.get(c["name"], 0) > 0]
    p_overall = min([c["p_value"] for c in decisive], default=1.0)
    independent_share = sum(learned.get(c["name"], 0) for c in decisive if c["relation"] == "independent")
    decisive_share = sum(learned.get(c["name"], 0) for c in decisive)
    same_size = obj["candidate"]["parameters"] == obj["reference"]["parameters"]
    if decisive and same_size and all(c["relation"] == "identical" for c in decisive):
        verdict = "identical"
    elif any(c["relation"] in ("identical", "derived") for c in decisive) or p_overall < DERIVED_P:
        verdict = "derived"
    elif p_overall > INDEPENDENT_P and decisive_share > 0 and independent_share >= 0.5 * decisive_share:
        verdict = "independent"
    else:
        verdict = "inconclusive"
    obj["verdict"] = verdict
    obj["p_value"] = float(p_overall)
    obj["shared_parameter_fraction"] = float(shared / total) if total else 0.0
    obj["coverage"] = float(compared / total) if total else 0.0


def compare_fingerprints(cand: Fingerprint, ref: Fingerprint, *, seed: int = 0,
                         shared: CandidateMemo | None = None) -> dict[str, Any]:
    """Compare two fingerprints (no model is read).

    The statistics are thousands of small matrix products; multi-threaded BLAS
    only adds overhead there (and thrashes a busy machine), so BLAS runs on one
    thread inside this call. ``shared`` carries candidate-side work from one
    reference to the next (``audit``); it never changes a result.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        comparison = Comparison(cand, ref, seed=seed, shared=shared)
        comps = comparison.run()
    obj: dict[str, Any] = {
        "schema": COMPARE_SCHEMA,
        "candidate": _summary(cand),
        "reference": _summary(ref),
        "verdict": "inconclusive",
        "p_value": 1.0,
        "shared_parameter_fraction": 0.0,
        "coverage": 0.0,
        "components": comps,
        "alignment": comparison.alignment(),
        "thresholds": {"derived_p": DERIVED_P, "independent_p": INDEPENDENT_P},
        "multiple_comparisons": "Holm over tested components (norms excluded); overall p = min adjusted p",
        "seed": int(seed),
    }
    _roll_up(obj, cand.components())
    return obj


def compare(candidate: str | Path, reference: str | Path, *, seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """Weight lineage of one candidate against one reference (``fromscratch.compare/1``)."""
    cand, ref = _fingerprints([candidate, reference], progress=progress)
    return compare_fingerprints(cand, ref, seed=seed)


def _fingerprints(locations: list[str | Path], *, progress: bool = False) -> list[Fingerprint]:
    """Fingerprint several models, two at a time.

    Each pass holds one tensor of its model at a time, so two concurrent passes
    hold two tensors (never two models); numpy's decoding and hashing release
    the GIL, so this uses a second core for the I/O-and-decode bound part.
    """
    if len(locations) == 1:
        return [build_fingerprint(locations[0], progress=progress)]
    from concurrent.futures import ThreadPoolExecutor

    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(build_fingerprint, loc, progress=bar or False) for loc in locations]
            return [f.result() for f in futures]
    finally:
        if bar is not None:
            bar.stop()


def _bonferroni_references(obj: dict[str, Any], factor: int, cand_components: list[dict[str, Any]]) -> None:
    if factor <= 1:
        return
    for c in obj["components"]:
        if c["relation"] == "identical":
            continue
        c["p_value"] = float(min(1.0, c["p_value"] * factor))
        if c["relation"] == "derived" and c["kind"] != "norm" and c["p_value"] >= DERIVED_P:
            c["relation"] = "inconclusive"
            c["basis"] = None
            c["reason"] = "significant for this reference alone, not after correction over references"
            c["frozen"] = None
            c["change"] = None
        elif c["relation"] == "independent" and c["p_value"] <= INDEPENDENT_P:
            c["relation"] = "inconclusive"
            c["reason"] = "weak evidence after correction over references"
    obj["multiple_comparisons"] += f"; Bonferroni x{factor} over references"
    _roll_up(obj, cand_components)


def audit(candidate: str | Path, references: list[str | Path], *, seed: int = 0,
          progress: bool = False) -> dict[str, Any]:
    """The candidate against several references (lineage part of ``fromscratch.audit/1``).

    The candidate is fingerprinted once; each reference once.
    """
    fps = _fingerprints([candidate, *references], progress=progress) if references else \
        [build_fingerprint(candidate, progress=progress)]
    cand = fps[0]
    shared = CandidateMemo(cand)
    results = []
    for rfp in fps[1:]:
        obj = compare_fingerprints(cand, rfp, seed=seed, shared=shared)
        _bonferroni_references(obj, len(references), cand.components())
        results.append(obj)
    verdicts = [r["verdict"] for r in results]
    if "identical" in verdicts:
        verdict = "identical"
    elif "derived" in verdicts:
        verdict = "derived"
    elif verdicts and all(v == "independent" for v in verdicts):
        verdict = "independent"
    else:
        verdict = "inconclusive"
    return {"schema": AUDIT_SCHEMA, "candidate": _summary(cand), "verdict": verdict, "references": results}
