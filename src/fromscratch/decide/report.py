"""HTML report of a decision, rendered from the decision dict alone.

The report is a view of the JSON, nothing more: every number shown is a value of the
decision object (rounded for display), never recomputed, so the published HTML can be
checked against the published JSON. Charts are inline SVG whose geometry is derived from
those values; the page loads nothing from the network.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fromscratch.report.templating import environment


def _scale(lo: float, hi: float, width: float, pad: float = 0.0):
    span = (hi - lo) or 1.0

    def f(x: float) -> float:
        return round(pad + (float(x) - lo) / span * (width - 2 * pad), 2)

    return f


def _totals_chart(decision: dict) -> dict:
    teams = decision["teams"]
    vals = [v for t in teams for v in (t["total"], *t["ci"])]
    lo, hi = min(vals), max(vals)
    margin = 0.05 * ((hi - lo) or 1.0)
    x = _scale(lo - margin, hi + margin, 520.0, 10.0)
    rows = []
    for i, t in enumerate(teams):
        rows.append({"y": 14 + 26 * i, "team": t["team"], "x0": x(t["ci"][0]), "x1": x(t["ci"][1]),
                     "xt": x(t["total"]), "out": t["eliminated"]})
    return {"rows": rows, "height": 26 * len(teams) + 10}


def _bars(pairs: list[tuple[str, float]], signed: bool = False) -> dict:
    m = max([abs(v) for _, v in pairs] + [1e-12])
    mid = 260.0 if signed else 0.0
    half = 250.0 if signed else 500.0
    rows = []
    for i, (label, v) in enumerate(pairs):
        w = abs(v) / m * half
        x0 = mid - w if (signed and v < 0) else mid
        rows.append({"y": 6 + 22 * i, "label": label, "x": round(x0, 2), "w": round(w, 2), "neg": v < 0})
    return {"rows": rows, "height": 22 * len(pairs) + 8, "mid": mid}


def render(decision: dict[str, Any]) -> str:
    env = environment()
    text = resources.files("fromscratch.decide").joinpath("templates/decision.html.jinja").read_text(encoding="utf-8")
    tpl = env.from_string(text)
    p_elim = _bars([(t["team"], t["p_eliminated"]) for t in decision["teams"]])
    shap = decision["influence"]["shapley"]
    shap_chart = _bars([(v["player"], v["value"]) for v in shap["values"][:20]], signed=True) if shap else None
    return tpl.render(d=decision, totals=_totals_chart(decision), p_elim=p_elim, shap_chart=shap_chart)
