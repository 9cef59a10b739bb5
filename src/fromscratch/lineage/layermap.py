"""Monotone layer map: which reference layer each candidate block comes from.

Derived blocks vote with -log10 p for the reference layer they matched; the
path through the candidate's layers is non-decreasing in reference layers
(``stats.monotone_layer_map``), which represents pruning, duplication and
depth up-scaling but never a reordering.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fromscratch.lineage import stats
from fromscratch.lineage.context import kind_of


def layer_maps(ccomps: list[dict], rcomps: list[dict], results: dict[str, dict[str, Any]],
               derived_p: float) -> dict[str, dict[int, int]]:
    """kind ("attention", "mlp") -> {candidate layer: reference layer} for the text tower."""
    maps: dict[str, dict[int, int]] = {}
    for kind in ("attention", "mlp"):
        rows = [(c["layer"], c["name"]) for c in ccomps
                if kind_of(c) == kind and c["tower"] == "text" and c["name"] in results]
        rl = sorted({r["layer"] for r in rcomps if kind_of(r) == kind and r["tower"] == "text"})
        if not rows or not rl:
            continue
        ev = np.zeros((len(rows), len(rl)))
        for i, (_, name) in enumerate(rows):
            res = results[name]
            if res.get("reference_layer") in rl and res["p_raw"] < derived_p:
                ev[i, rl.index(res["reference_layer"])] = -math.log10(max(res["p_raw"], 1e-300))
        path = stats.monotone_layer_map(ev)
        maps[kind] = {rows[i][0]: rl[j] for i, j in enumerate(path) if ev[i, j] > 0}
    return maps
