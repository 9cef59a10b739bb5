"""Norm weights: supporting evidence only.

The naive cosine of two positive-mean gain vectors is near 1 whatever their
origin; what is tested is the centred correlation under each residual
alignment (``stats.norm_group_test``). A norm is called derived only when its
own block (or, for a final norm, some block) is derived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fromscratch.lineage import stats

if TYPE_CHECKING:
    from fromscratch.lineage.context import PairContext


def _rtower(rname: str | None) -> str:
    if not rname:
        return "text"
    head = rname.split(".", 1)[0]
    return head if head in {"vision", "audio"} else "text"


def _norm_partner(ctx: PairContext, cc: dict, results: dict[str, dict], independent_p: float) -> str | None:
    layer = cc["layer"]
    prefix = "" if cc["tower"] == "text" else cc["tower"] + "."
    if layer is None:
        return cc["name"] if cc["name"] in ctx.rby_name else None
    for sub in ("attention", "mlp", "experts"):
        res = results.get(f"{prefix}layers.{layer}.{sub}")
        ref = res.get("reference") if res else None
        if ref and res.get("p_raw", 1) < independent_p and "." in ref:
            # the norm of the reference block this block matched (possibly in another tower)
            name = ref.rsplit(".", 1)[0] + ".norm"
            if name in ctx.rby_name:
                return name
    return cc["name"] if cc["name"] in ctx.rby_name else None


def _pairs(cc: dict, keys: list[str], rname: str | None, vec_c: dict, vec_r: dict):
    """(role, candidate vector, reference vector) for each of the component's vectors."""
    pairs = []
    for k in keys:
        role = k.split("|")[2]
        rk = f"vec|{rname}|{role}|None" if rname else None
        if rk not in vec_r:
            cands = sorted(x for x in vec_r if rname and x.startswith(f"vec|{rname}|"))
            rk = cands[0] if cands else None
        if rk is not None:
            pairs.append((role, vec_c[k], vec_r[rk]))
    return pairs


def _tested(ctx: PairContext, cc: dict, pairs: list, rname: str | None):
    """(rows of the best alignment, (p, z) per alignment)."""
    rows: list[dict[str, Any]] = []
    combined: list[tuple[float, float]] = []
    rt = _rtower(rname)
    aligns = [al for al in ctx.alignments.get((cc["tower"], rt), []) if al.size >= 8]
    for al in aligns:
        cpos = ctx.c.arrays[f"coords|{cc['tower']}"][al.c_pos]
        rpos = ctx.r.arrays[f"coords|{rt}"][al.r_pos]
        xs = [gc[cpos] * 1.0 for _, gc, _ in pairs]
        ys = [gr[rpos] * 1.0 for _, _, gr in pairs]
        p, z, per = stats.norm_group_test(xs, ys)
        combined.append((p, z))
        if not rows or p < min(c[0] for c in combined[:-1]):
            rows = []
            for (role, gc, gr), res in zip(pairs, per):
                naive = None
                if gc.shape == gr.shape:
                    nn = float(np.linalg.norm(gc) * np.linalg.norm(gr))
                    naive = float(gc @ gr / nn) if nn else None
                rows.append({"role": role, "naive_cosine": naive, "centred_correlation": res.centred_correlation,
                             "p": res.p_value, "n": res.n, "alignment": al.name})
    return rows, combined


def norm_components(ctx: PairContext, results: dict[str, dict], independent_p: float) -> dict[str, dict[str, Any]]:
    """Results of every norm component (name -> result); ``results`` are the block results so far."""
    vec_c = {k: v for k, v in ctx.c.arrays.items() if k.startswith("vec|")}
    vec_r = {k: v for k, v in ctx.r.arrays.items() if k.startswith("vec|")}
    out: dict[str, dict[str, Any]] = {}
    for cc in ctx.ccomps:
        if cc["kind"] != "norm":
            continue
        keys = sorted(k for k in vec_c if k.startswith(f"vec|{cc['name']}|"))
        if not keys:
            reason = ("constant (still at its initial value): not learned, never evidence"
                      if cc["tensors"] and all(t["constant"] for t in cc["tensors"]) else "no residual-indexed vector")
            out[cc["name"]] = {"relation": "inconclusive", "p_raw": 1.0, "similarity": 0.0,
                               "reference": None, "powered": False, "reason": reason, "norm": True}
            continue
        rname = _norm_partner(ctx, cc, results, independent_p)
        rows, combined = _tested(ctx, cc, _pairs(cc, keys, rname, vec_c, vec_r), rname)
        if not rows:
            out[cc["name"]] = {"relation": "inconclusive", "p_raw": 1.0, "similarity": 0.0,
                               "reference": rname, "powered": False, "norm": True,
                               "reason": "no aligned residual coordinates to compare norm weights on"}
            continue
        p = stats.bonferroni_min([c[0] for c in combined])
        naive = [r["naive_cosine"] for r in rows if r["naive_cosine"] is not None]
        out[cc["name"]] = {
            "p_raw": p, "similarity": float(max(0.0, max(r["centred_correlation"] for r in rows))),
            "reference": rname, "reference_layer": ctx.rby_name.get(rname, {}).get("layer") if rname else None,
            "powered": min(r["n"] for r in rows) >= 64, "norm": True,
            "naive_cosine": float(np.mean(naive)) if naive else None,
            "evidence": {"statistic": "centred correlation of norm weights, Fisher z combined over the "
                                      "component's vectors with their within-model dependence",
                         "vectors": rows},
        }
    return out
