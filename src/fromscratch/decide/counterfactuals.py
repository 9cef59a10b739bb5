"""Who would be eliminated under other reasonable rules: one row per changed rule.

Each row changes exactly one thing of the sealed protocol and applies the official
rule to the point estimates (the same `aggregate` functions as the official result,
the same tie policy and lottery seed), so a row equals what `decide` reports as
``eliminated_on_score`` plus the disqualified teams for a protocol with that one
change. The rows:

- every other elimination count from 1 to (eligible teams - 1);
- the team-chosen pillar removed (its weight 0);
- every other normalisation (those the protocol declares enough for);
- the originality gate as a disqualification instead of a penalty, or the reverse
  (both when the official gate only reports), with the teams the verdicts flag;
- each pillar's weight at both ends of the range the protocol declares in
  ``[counterfactuals.weights]`` (half and 1.5 times the weight when it declares none).

Under ``statistical_tie = "spare"`` the official decision may spare a team the
paired test cannot separate; the rows do not re-run that test (each row says so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fromscratch.decide import aggregate as agg
from fromscratch.decide.protocol import NORMALISATIONS
from fromscratch.schemas.decision import Counterfactual

if TYPE_CHECKING:
    from fromscratch.decide.engine import Context, Point

GATE_KO = {"disqualify": "실격", "penalty": "감점", "none": "보고만"}
GATE_EN = {"disqualify": "disqualification", "penalty": "a penalty", "none": "reporting only"}


def _row(ctx: Context, pt: Point, out: np.ndarray, kind: str, params: dict[str, Any], en: str, ko: str) -> dict[str, Any]:
    note = {"note": "point estimates; the statistical-tie test is not re-run for this row"} \
        if ctx.proto.statistical_tie == "spare" else {}
    return Counterfactual(change=en, change_ko=ko, kind=kind, parameters=params,
                          eliminated=[ctx.teams[i] for i in np.flatnonzero(out)],
                          same_decision=bool(np.all(out == (pt.on_score | ctx.disq))), **note,
                          ).model_dump(exclude_unset=True)


def _rule(ctx: Context, tot: np.ndarray, eligible: np.ndarray, k: int | None = None) -> np.ndarray:
    from fromscratch.decide.engine import _rng

    p = ctx.proto
    return agg.eliminated(tot, eligible, p.eliminate if k is None else k, p.tie_policy, _rng(p.seed, 1)) | ~eligible


def _counts(ctx: Context, pt: Point) -> list[dict[str, Any]]:
    k, rows = ctx.proto.eliminate, []
    for k2 in range(1, int(ctx.eligible.sum())):
        if k2 != k:
            rows.append(_row(ctx, pt, _rule(ctx, pt.tot, ctx.eligible, k2), "eliminate", {"eliminate": k2},
                             f"eliminate {k2} instead of {k}", f"{k}팀 대신 {k2}팀 탈락"))
    return rows


def _without_chosen(ctx: Context, pt: Point) -> list[dict[str, Any]]:
    if ctx.proto.choices is None:
        return []
    pillar = ctx.proto.choices.pillar
    w = ctx.st.weights.copy()
    w[ctx.st.pillars.index(pillar)] = 0.0
    if w.sum() <= 0:
        return []
    tot = agg.totals(pt.Pm, w, ctx.st.factor)
    return [_row(ctx, pt, _rule(ctx, tot, ctx.eligible), "without-team-chosen", {"pillar": pillar, "weight": 0.0},
                 f"without the team-chosen pillar ({pillar} weight 0)", f"팀 자체 선택 벤치마크 제외 ({pillar} 가중치 0)")]


def _normalisations(ctx: Context, pt: Point, norm_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from fromscratch.decide.engine import _point

    rows = []
    available = {r["normalisation"] for r in norm_rows if r.get("available")}
    for kind in NORMALISATIONS:
        if kind == ctx.proto.normalisation or kind not in available:
            continue
        _, _, Pk = _point(ctx.data, ctx.st, kind)
        tot = agg.totals(Pk, ctx.st.weights, ctx.st.factor)
        rows.append(_row(ctx, pt, _rule(ctx, tot, ctx.eligible), "normalisation", {"normalisation": kind},
                         f"normalisation {kind} instead of {ctx.proto.normalisation}",
                         f"정규화 {kind} (공식 {ctx.proto.normalisation})"))
    return rows


def _flagged(ctx: Context) -> np.ndarray:
    g = ctx.proto.originality
    bad = {"violation"} | ({"needs-review"} if g.needs_review == "apply" else set())
    return np.array([ctx.verdicts.get(t) in bad for t in ctx.teams], dtype=bool)


def _gates(ctx: Context, pt: Point) -> list[dict[str, Any]]:
    g, cf = ctx.proto.originality, ctx.proto.counterfactuals
    flagged = _flagged(ctx)
    penalty = cf.penalty if cf.penalty is not None else (g.penalty if g.penalty > 0 else 0.1)
    others = {"disqualify": ["penalty"], "penalty": ["disqualify"], "none": ["disqualify", "penalty"]}[g.gate]
    base = agg.totals(pt.Pm, ctx.st.weights, np.ones(len(ctx.teams)))
    names = [ctx.teams[i] for i in np.flatnonzero(flagged)]
    rows = []
    for gate in others:
        if gate == "disqualify":
            out = _rule(ctx, base, ~flagged)
            en, ko, params = "originality gate: disqualification", "독창성 기준: 실격", {"gate": gate}
        else:
            p = g.penalty if g.gate == "penalty" else penalty
            out = _rule(ctx, base * np.where(flagged, 1.0 - p, 1.0), np.ones(len(ctx.teams), dtype=bool))
            en, ko, params = f"originality gate: penalty {p:g}", f"독창성 기준: 감점 {p:g}", {"gate": gate, "penalty": p}
        params["flagged"] = names
        rows.append(_row(ctx, pt, out, "originality-gate", params, f"{en} instead of {GATE_EN[g.gate]}",
                         f"{ko} (공식: {GATE_KO[g.gate]})"))
    return rows


def _weights(ctx: Context, pt: Point) -> list[dict[str, Any]]:
    rows = []
    declared = ctx.proto.counterfactuals.weights
    for j, pillar in enumerate(ctx.st.pillars):
        w0 = float(ctx.st.weights[j])
        lo, hi = declared.get(pillar, (0.5 * w0, 1.5 * w0))
        for end, value in (("low", float(lo)), ("high", float(hi))):
            w = ctx.st.weights.copy()
            w[j] = value
            if w.sum() <= 0:
                continue
            tot = agg.totals(pt.Pm, w, ctx.st.factor)
            src = "declared" if pillar in declared else "default ±50%"
            rows.append(_row(ctx, pt, _rule(ctx, tot, ctx.eligible), "weight",
                             {"pillar": pillar, "end": end, "weight": value, "official": w0, "range": [float(lo), float(hi)],
                              "declared": pillar in declared},
                             f"{pillar} weight {value:g} instead of {w0:g} ({end} end of {lo:g}–{hi:g}, {src})",
                             f"{pillar} 가중치 {value:g} (공식 {w0:g}; 범위 {lo:g}–{hi:g}의 {'하한' if end == 'low' else '상한'})"))
    return rows


def counterfactuals(ctx: Context, pt: Point, norm_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return (_counts(ctx, pt) + _without_chosen(ctx, pt) + _normalisations(ctx, pt, norm_rows) + _gates(ctx, pt)
            + _weights(ctx, pt))
