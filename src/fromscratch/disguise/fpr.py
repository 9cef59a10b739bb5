"""The disguised false-positive bank: independent pairs compared plain and disguised, and counted.

A disguise that keeps the function (rotation with folded norms, rescaling,
permutations) applied to an *independent* model must not make it look derived
either: each candidate sibling is compared plain and under each disguise with
every other (plain) sibling. Counts are over the components the compare
reports -- the decision -- at the fixed threshold; the pairs share models, so
they are not independent draws (the upper bound treats them as if they were).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fromscratch.disguise import exact, io
from fromscratch.disguise.llama import Llama


def _variants() -> dict[str, Callable[[Llama, int], Llama]]:
    return {
        "plain": lambda m, s: m,
        "rotated": lambda m, s: exact.rotate(m, s),
        "rescaled": lambda m, s: exact.rescale(m, s),
        "permuted": lambda m, s: exact.permute_residual(exact.permute_units(m, s), s + 1),
        "rotated+permuted": lambda m, s: exact.permute_units(exact.rotate(m, s), s + 1),
    }


VARIANTS = tuple(_variants())


def _fingerprint_variant(path: Path, variant: str, seed: int, work: Path) -> Any:
    from fromscratch.lineage.fingerprint import build_fingerprint

    if variant == "plain":
        return build_fingerprint(path, use_cache=False)
    m = _variants()[variant](io.load(path), seed)
    out = io.save(m, work / variant)
    try:
        return build_fingerprint(out, use_cache=False)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def compare_bank(paths: list[Path], variants: tuple[str, ...] = VARIANTS, *, seed: int = 0,
                 progress: Callable[[str], None] | None = None) -> Iterator[dict[str, Any]]:
    """Every ordered pair (disguised sibling i, plain sibling j), i != j, as compare JSON + labels."""
    from fromscratch.lineage.api import compare_fingerprints
    from fromscratch.lineage.fingerprint import build_fingerprint

    refs = [build_fingerprint(p, use_cache=False) for p in paths]
    with tempfile.TemporaryDirectory(prefix="fromscratch-nullbank-") as tmp:
        for vi, variant in enumerate(variants):
            for i, p in enumerate(paths):
                if progress:
                    progress(f"{variant} sibling {i}")
                cand = refs[i] if variant == "plain" else _fingerprint_variant(p, variant, 1000 * vi + i,
                                                                               Path(tmp))
                for j, ref in enumerate(refs):
                    if i != j:
                        obj = compare_fingerprints(cand, ref, seed=seed)
                        yield {"variant": variant, "candidate": i, "reference": j,
                               "shared_data_order": i // 2 == j // 2, "compare": obj}


def compact(row: dict[str, Any]) -> dict[str, Any]:
    """A bank row with only what ``tally`` reads (so a run's rows can be stored and merged)."""
    keep = ("name", "kind", "relation", "p_value", "reference_name", "reference_layer")
    comps = [{**{k: c.get(k) for k in keep}, **({"evidence": True} if "evidence" in c else {})}
             for c in row["compare"]["components"]]
    return {**{k: v for k, v in row.items() if k != "compare"},
            "compare": {"verdict": row["compare"]["verdict"], "p_value": row["compare"]["p_value"],
                        "components": comps}}


def upper_bound(k: int, n: int, level: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper confidence bound of a binomial rate."""
    from scipy.stats import beta

    return 1.0 if k >= n else float(beta.ppf(level, k + 1, n - k))


def tally(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """False-positive counts over every tested non-norm component pair (and over model pairs)."""
    from fromscratch.lineage.compare import DERIVED_P

    comps = [(r["variant"], c) for r in rows for c in r["compare"]["components"]
             if c["kind"] != "norm" and c.get("p_value") is not None
             and not (c["relation"] == "inconclusive" and "evidence" not in c)]
    flagged = [(v, c) for v, c in comps if c["relation"] in ("identical", "derived")]
    models_flagged = [r for r in rows if r["compare"]["verdict"] in ("identical", "derived")]
    by_variant = {}
    for v in dict.fromkeys(r["variant"] for r in rows):
        vc = [c for w, c in comps if w == v]
        by_variant[v] = {"component_pairs": len(vc), "flagged": sum(c["relation"] in ("identical", "derived")
                                                                   for c in vc),
                         "min_p": min((float(c["p_value"]) for c in vc), default=None)}
    n, k = len(comps), len(flagged)
    ps = sorted(float(c["p_value"]) for _, c in comps)
    return {"threshold": DERIVED_P, "component_pairs": n, "flagged": k, "fpr": k / n if n else None,
            "fpr_upper_95": upper_bound(k, n) if n else None,
            "model_pairs": len(rows), "model_pairs_flagged": len(models_flagged),
            "min_p": ps[0] if ps else None,
            "share_p_below_1e-3": sum(p < 1e-3 for p in ps) / n if n else None,
            "share_p_below_0.01": sum(p < 0.01 for p in ps) / n if n else None,
            "by_variant": by_variant,
            "flagged_examples": [{"variant": v, "component": c["name"], "p_value": c["p_value"]}
                                 for v, c in flagged[:20]]}
