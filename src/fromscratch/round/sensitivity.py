"""The weight-sensitivity map: who would be eliminated under other pillar weights.

For each pillar, its weight is scaled by factors 0 … 2 (the others kept), and the
lowest total under those weights is found from the per-team pillar scores that
the decision JSON publishes. The map shows at a glance how far the weights can
move before a different team is eliminated; the decision engine's
``min_weight_change_to_flip`` gives the exact L1 distance. Teams disqualified
by the originality gate are left out (they leave regardless of weights).
"""

from __future__ import annotations

from typing import Any

FACTORS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)


def sensitivity_map(decision: dict[str, Any]) -> dict[str, Any]:
    weights = dict((decision.get("rule") or {}).get("weights") or {})
    teams = [t for t in decision.get("teams", []) if not t.get("disqualified")]
    rows = []
    if not weights or len(teams) < 2:
        return {"schema": "fromscratch.sensitivity/1", "factors": list(FACTORS), "pillars": [], "official": None}

    def lowest(w: dict[str, float]) -> tuple[str | None, float | None]:
        totals = sorted(((sum(w[p] * float((t.get("pillars") or {}).get(p, 0.0)) for p in w) * float(t.get("factor", 1.0)),
                          t["team"]) for t in teams))
        if sum(w.values()) <= 0:
            return None, None
        return totals[0][1], totals[1][0] - totals[0][0]

    official, _ = lowest(weights)
    for pillar in weights:
        cells = []
        for f in FACTORS:
            w = dict(weights)
            w[pillar] = weights[pillar] * f
            team, margin = lowest(w)
            cells.append({"factor": f, "weight": w[pillar], "eliminated": team, "margin": margin,
                          "same": team == official})
        rows.append({"pillar": pillar, "official_weight": weights[pillar], "cells": cells})
    return {"schema": "fromscratch.sensitivity/1", "factors": list(FACTORS), "official": official, "pillars": rows}
