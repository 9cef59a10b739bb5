"""Continuity of a checkpoint chain: each step derived, aligned, and of plausible size.

Everything here works on lineage fingerprints (``fromscratch.lineage``), one
streaming pass per checkpoint, cached; two fingerprints are held at a time.
Per consecutive pair (``k-1 -> k``):

* **lineage**: the weight-lineage comparison of checkpoint ``k`` against
  ``k-1`` must say ``identical`` or ``derived``, every component matched to the
  component of the same name (same layer mapping);
* **alignment**: every learned tensor's values (norm weights excepted: they
  start constant and move by about their own spread) at 1,024 positions fixed by its
  shape (stored in the fingerprint) must correlate position by position
  between the two checkpoints. Under "no positional correspondence" (another
  model, or the same one with rows or columns permuted) the Pearson
  correlation of unrelated values is ~N(0, 1/n), so Fisher's z gives a p-value;
  lineage tolerates permutations, this test does not;
* **change**: the relative L2 distance of those sampled values, each tensor
  normalised by its own norm, parameter-weighted over tensors.

The changes are then judged against the chain's own trend (``trend_flags``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fromscratch.lineage.api import compare_fingerprints
from fromscratch.lineage.fingerprint import Fingerprint
from fromscratch.multiple_testing import holm

ALIGN_P = 1e-6          # a tensor is aligned when its Holm-adjusted correlation p is below this
TREND_FACTOR = 8.0      # a step is a spike when its change exceeds this many times its neighbours'
REUSE = ("identical", "derived")


def sketches(fp: Fingerprint) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    """Sampled values and tensor metadata of every learned tensor, keyed by component/role/expert."""
    out: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
    for comp in fp.components():
        for t in comp["tensors"]:
            if not t["learned"]:
                continue
            key = f"{comp['name']}|{t['role']}|{t['expert']}"
            arr = fp.arrays.get(f"sk|{key}")
            if arr is not None:
                out[key] = (arr.astype(np.float64), dict(t, kind=comp["kind"],
                                                         numel=int(np.prod(t["shape"])) if t["shape"] else 1))
    return out


def _alignment_p(a: np.ndarray, b: np.ndarray) -> float | None:
    """One-sided p of 'no positional correspondence' (None when either side is constant)."""
    if a.size < 16 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    r = float(np.corrcoef(a, b)[0, 1])
    r = min(max(r, -0.999999), 0.999999)
    z = math.atanh(r) * math.sqrt(a.size - 3)
    return float(0.5 * math.erfc(z / math.sqrt(2)))


def pair_statistics(prev: dict[str, Any], cur: dict[str, Any]) -> dict[str, Any]:
    """Change and positional alignment between two checkpoints' sketches."""
    num = den = 0.0
    keys, ps = [], []
    reshaped: list[str] = []
    missing = sorted(set(prev) ^ set(cur))
    for key in sorted(set(prev) & set(cur)):
        a, ta = prev[key]
        b, tb = cur[key]
        if ta["shape"] != tb["shape"]:
            reshaped.append(key)
            continue
        norm = float(np.linalg.norm(a))
        if norm > 0:
            rel = float(np.linalg.norm(b - a)) / norm
            num += ta["numel"] * rel * rel
            den += ta["numel"]
        # norm weights start constant and move by about their own spread: no positional signal to test
        p = None if ta["kind"] == "norm" else _alignment_p(a, b)
        if p is not None:
            keys.append(key)
            ps.append(p)
    adjusted = holm(ps) if ps else []
    misaligned = [k.replace("|None", "").replace("|", "/") for k, pa in zip(keys, adjusted) if pa >= ALIGN_P]
    return {"change": math.sqrt(num / den) if den else 0.0, "aligned_tensors": len(keys) - len(misaligned),
            "tested_tensors": len(keys), "misaligned": misaligned,
            "reshaped": [k.replace("|None", "").replace("|", "/") for k in reshaped],
            "missing": [k.replace("|None", "").replace("|", "/") for k in missing]}


def lineage_step(prev_fp: Fingerprint, cur_fp: Fingerprint, seed: int) -> dict[str, Any]:
    """Lineage of checkpoint k against k-1: relation, p and any component matched to another name."""
    obj = compare_fingerprints(cur_fp, prev_fp, seed=seed)
    remapped = sorted(f"{c['name']} -> {c['reference_name']}" for c in obj["components"]
                      if c["kind"] != "norm" and c["relation"] in REUSE
                      and c.get("reference_name") not in (None, c["name"]))
    return {"relation": obj["verdict"], "p_value": float(obj["p_value"]), "remapped": remapped,
            "coverage": float(obj["coverage"])}


def classify(step: dict[str, Any]) -> str | None:
    """The step's flag before the trend is looked at (None: continuous)."""
    if step["reshaped"] or step["missing"]:
        return "reshaped"
    if step["relation"] == "independent":
        return "jump"
    if step["relation"] in REUSE and step["remapped"]:
        return "remapped"
    if step["misaligned"]:
        return "permuted" if step["relation"] in REUSE else "jump"
    if step["relation"] == "inconclusive" and step["tested_tensors"] == 0:
        return "undecided"
    return None


def trend_ratios(changes: list[float]) -> list[float | None]:
    """Per step, its change over the chain's local trend (None for the first and last step).

    Only interior steps are judged: a step is a spike when its change is more
    than ``TREND_FACTOR`` times that of *both* neighbours and of the median of all
    other steps. Requiring both neighbours makes rising and falling schedules
    pass: after a warm-up of tiny steps the first full-rate step has a large
    successor, and the first step out of a small initialisation (often the
    largest of a run, e.g. Adagrad's) has no predecessor. The first and last
    steps are judged by lineage and alignment alone.
    """
    out: list[float | None] = []
    n = len(changes)
    for k, c in enumerate(changes):
        if k == 0 or k == n - 1 or c <= 0:
            out.append(None)
            continue
        others = [changes[j] for j in range(n) if j != k]
        ref = max(changes[k - 1], changes[k + 1], float(np.median(others)))
        ratio = c / ref if ref > 0 else math.inf
        out.append(ratio)
    return out
