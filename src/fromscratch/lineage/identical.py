"""The ``identical`` tier: a component whose every learned tensor is the reference's.

A tensor counts as the reference's when its SHA-256 (of a fixed row sample)
and RMS equal a reference tensor's anywhere in the model, or when it equals the
same-named reference tensor at the 1,024 sketched positions within the
rounding error of the coarser of the two storage types (a format change or a
re-quantisation).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from fromscratch.lineage.context import learned_tensors

if TYPE_CHECKING:
    from fromscratch.lineage.context import PairContext

_TOL = [("F64", 1e-9), ("F32", 1e-6), ("F16", 2e-3), ("BF16", 6e-3), ("F8", 0.08), ("I8", 0.02), ("Q8", 0.02),
        ("Q6", 0.04), ("Q5", 0.07), ("Q4", 0.14), ("IQ4", 0.14), ("Q3", 0.25), ("Q2", 0.4), ("IQ", 0.4)]


def dtype_tolerance(dtype: str) -> float:
    """Relative RMS error a round trip through ``dtype`` can introduce."""
    d = (dtype or "").upper()
    for prefix, tol in _TOL:
        if d.startswith(prefix):
            return tol
    return 0.02


def _sketch_match(ctx: PairContext, cname: str, t: dict[str, Any], ref_t: dict) -> str | None:
    """The reference component whose same-named tensor equals ``t`` on the sketch, or None."""
    cand = ref_t.get((cname, t["role"], t["expert"]))
    if cand is None or cand[0]["shape"] != t["shape"]:
        return None
    a = ctx.c.arrays.get(f"sk|{cname}|{t['role']}|{t['expert']}")
    b = ctx.r.arrays.get(f"sk|{cname}|{t['role']}|{t['expert']}")
    if a is None or b is None or a.shape != b.shape:
        return None
    nb = float(np.linalg.norm(b))
    tol = max(dtype_tolerance(t["dtype"]), dtype_tolerance(cand[0]["dtype"]))
    if nb == 0 or float(np.linalg.norm(a - b)) / nb > tol:
        return None
    return cand[1]


def identical_components(ctx: PairContext) -> dict[str, str | None]:
    """Candidate component -> the reference component it is a copy of (most tensors' source)."""
    ref_sha: dict[str, tuple[str, float]] = {}
    ref_t: dict[tuple[str, str, Any], tuple[dict, str]] = {}
    for rc in ctx.rcomps:
        for t in rc["tensors"]:
            ref_sha.setdefault(t["sha256"], (rc["name"], t["rms"]))
            ref_t[(rc["name"], t["role"], t["expert"])] = (t, rc["name"])
    out: dict[str, str | None] = {}
    for cc in ctx.ccomps:
        lt = learned_tensors(cc)
        if not lt:
            continue
        hits: list[str] = []
        for t in lt:
            got = ref_sha.get(t["sha256"])
            if got is not None and abs(got[1] - t["rms"]) <= 1e-6 * max(abs(t["rms"]), 1e-30):
                hits.append(got[0])
                continue
            name = _sketch_match(ctx, cc["name"], t, ref_t)
            if name is None:
                break
            hits.append(name)
        else:
            out[cc["name"]] = Counter(hits).most_common(1)[0][0] if hits else None
    return out
