"""Verdict rules: from per-component test results to per-component relations (a pure function).

Decision thresholds are fixed (see docs/lineage.md): a component is derived
when its Holm-adjusted p-value is below ``DERIVED_P``, independent when it is
above ``INDEPENDENT_P`` and the test had power, inconclusive otherwise. Norms
are a family of their own (Holm within it) and are called derived only when
their block is.
"""

from __future__ import annotations

from typing import Any

from fromscratch.lineage import stats
from fromscratch.lineage.context import learned_tensors

#: decision thresholds (fixed; see docs/lineage.md)
DERIVED_P = 1e-6
INDEPENDENT_P = 0.01


def _tested_item(item: dict[str, Any], res: dict[str, Any], p: float) -> None:
    """Fill a block / table component's entry from its test result and adjusted p."""
    item["p_value"] = float(p)
    item["p_raw"] = float(res.get("p_raw", 1.0))
    item["similarity"] = float(res.get("similarity", 0.0))
    item["reference_name"] = res.get("reference")
    item["reference_layer"] = res.get("reference_layer")
    if res.get("relation"):
        item["relation"] = res["relation"]
    elif p < DERIVED_P:
        item["relation"] = "derived"
    elif p > INDEPENDENT_P and res.get("powered"):
        item["relation"] = "independent"
    elif p > INDEPENDENT_P:
        item["reason"] = res.get("reason") or "the test lacked power (too little comparable material)"
    else:
        item["reason"] = "some evidence of correspondence, below the derived threshold"
    if "reason" in res and "reason" not in item and item["relation"] == "inconclusive":
        item["reason"] = res["reason"]
    if "evidence" in res:
        item["evidence"] = res["evidence"]


def _norm_item(item: dict[str, Any], res: dict[str, Any] | None, p: float | None, supported: bool) -> None:
    """Fill a norm's entry: derived only when its block is derived and its own test agrees."""
    if res is None:
        item["reason"] = "no comparable norm in the reference"
        return
    item["p_value"] = float(p if p is not None else res.get("p_raw", 1.0))
    item["p_raw"] = float(res.get("p_raw", 1.0))
    item["similarity"] = float(res.get("similarity", 0.0))
    item["reference_name"] = res.get("reference")
    item["reference_layer"] = res.get("reference_layer")
    item["naive_cosine"] = res.get("naive_cosine")
    if "evidence" in res:
        item["evidence"] = res["evidence"]
    if res.get("reason"):
        item["relation"] = "inconclusive"
        item["reason"] = res["reason"]
    elif supported and item["p_value"] < INDEPENDENT_P:
        item["relation"] = "derived"
        item["basis"] = "unknown"
    elif item["p_value"] > INDEPENDENT_P and res.get("powered"):
        item["relation"] = "independent"
    else:
        item["relation"] = "inconclusive"
        item["reason"] = ("norm weights are never decisive on their own" if item["p_value"] <= INDEPENDENT_P
                          else "too few aligned coordinates")


def component_relations(ccomps: list[dict[str, Any]], results: dict[str, dict[str, Any]],
                        identical: dict[str, str | None]) -> list[dict[str, Any]]:
    """One entry per candidate component (in the candidate's order), relations decided."""
    tested = sorted(n for n, r in results.items() if not r.get("norm") and r.get("relation") is None)
    adj = dict(zip(tested, stats.holm([results[n]["p_raw"] for n in tested])))
    derived_layers: set[tuple[str, int]] = set()
    any_block_derived = False
    out: list[dict[str, Any]] = []
    for cc in ccomps:
        name = cc["name"]
        res = results.get(name)
        item: dict[str, Any] = {
            "name": name, "kind": cc["kind"], "layer": cc["layer"], "reference_name": None,
            "reference_layer": None, "relation": "inconclusive", "basis": None, "p_value": 1.0,
            "similarity": 0.0, "parameters": int(cc["parameters"]),
        }
        learned = cc["learned_parameters"] > 0 and bool(learned_tensors(cc))
        if res is not None and not res.get("norm"):
            _tested_item(item, res, adj.get(name, res.get("p_raw", 1.0)))
        if name in identical and cc["kind"] != "norm" and learned:
            item["relation"] = "identical"
            item["reference_name"] = identical[name] or item["reference_name"]
            item["similarity"] = 1.0
            if name not in adj:
                item["p_value"] = 0.0
            item.pop("reason", None)
        if item["relation"] in ("identical", "derived"):
            item["basis"] = "unknown"
            if cc["layer"] is not None:
                derived_layers.add((cc["tower"], cc["layer"]))
            any_block_derived = True
        if not learned and cc["kind"] != "norm":
            item["relation"] = "inconclusive"
            item["reason"] = "no learned tensors (fixed tables, constants): never evidence"
            item["basis"] = None
        out.append(item)
    # norms: supporting evidence only, Holm-adjusted as a family of their own
    norm_names = sorted(n for n, r in results.items() if r.get("norm") and not r.get("reason"))
    norm_adj = dict(zip(norm_names, stats.holm([results[n]["p_raw"] for n in norm_names])))
    for item, cc in zip(out, ccomps):
        if cc["kind"] != "norm":
            continue
        supported = (cc["layer"] is None and any_block_derived) or (cc["tower"], cc["layer"]) in derived_layers
        _norm_item(item, results.get(cc["name"]), norm_adj.get(cc["name"]), supported)
    for item in out:
        if item["relation"] == "inconclusive" and not item.get("reason"):
            item["reason"] = "no calibrated statistic for this component kind (only the identical check applies)"
        item["p_value"] = float(max(0.0, min(1.0, item["p_value"])))
        item["similarity"] = float(max(0.0, min(1.0, item["similarity"])))
    return out
