"""The robustness class and the one-sentence statement published with a decision.

The published rule: "robust" when p_same_decision >= 0.95 and min_weight_change_to_flip is null or
>= 0.10; otherwise "fragile", and the statement names the smallest change that flips
the decision: a resampling of items/raters (when the decision repeats too rarely) and/or
the smallest L1 change of the normalised pillar weights (with the pillars that move).
"""

from __future__ import annotations

import numpy as np

from fromscratch.schemas.decision import Robustness

P_SAME_MIN = 0.95
FLIP_MIN = 0.10


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _moves(w0: np.ndarray, w: dict[str, float], pillars: list[str]) -> str:
    delta = [(p, w0[i], w[p]) for i, p in enumerate(pillars) if abs(w[p] - w0[i]) > 1e-9]
    delta.sort(key=lambda x: (-abs(x[2] - x[1]), x[0]))
    return ", ".join(f"{p} {a:.3f} -> {b:.3f}" for p, a, b in delta)


def robustness(
    teams: list[str], on_score: np.ndarray, disq: np.ndarray, p_elim: np.ndarray, p_same: float,
    flip: dict | None, w0: np.ndarray, pillars: list[str], reps: int, raters: bool = True,
) -> dict:
    what = "items and raters" if raters else "items"
    dist = None if flip is None else float(flip["distance"])
    robust = p_same >= P_SAME_MIN and (dist is None or dist >= FLIP_MIN)
    out_names = [teams[i] for i in np.flatnonzero(on_score)]
    elig_p = sorted(((p_elim[i], teams[i]) for i in range(len(teams)) if not disq[i] and p_elim[i] > 0), reverse=True)
    who = ", ".join(f"{t} {_pct(p)}" for p, t in elig_p[:4]) or "none"
    if not out_names:
        subject = "no team is eliminated on score"
    else:
        subject = f"{' and '.join(out_names)} {'is' if len(out_names) == 1 else 'are'} eliminated on score"
    if robust:
        if dist is None:
            wtxt = "no choice of pillar weights changes it"
        else:
            wtxt = f"changing it takes an L1 change of at least {dist:.3f} in the normalised pillar weights"
        statement = f"robust: {subject} in {_pct(p_same)} of {reps} resamples of the {what}, and {wtxt}"
    else:
        parts = []
        if p_same < P_SAME_MIN:
            parts.append(f"the {what} are resampled: the decision repeats in only {_pct(p_same)} "
                         f"of {reps} resamples (probability of elimination: {who})")
        if dist is not None and dist < FLIP_MIN:
            if flip.get("eliminated_team") is None:
                parts.append("the pillar weights change at all: the official totals tie at the elimination boundary")
            else:
                parts.append(
                    f"the pillar weights change by {dist:.3f} in L1 ({_moves(w0, flip['weights'], pillars)}), "
                    f"which lifts {flip['eliminated_team']} level with {flip['surviving_team']}"
                )
        statement = f"fragile: {subject}, but it flips if " + "; or if ".join(parts)
    return Robustness(**{"class": "robust" if robust else "fragile"}, statement=statement, p_same_decision=p_same,
                      min_weight_change_to_flip=dist,
                      thresholds={"p_same_decision": P_SAME_MIN, "min_weight_change_to_flip": FLIP_MIN},
                      ).model_dump(by_alias=True)
