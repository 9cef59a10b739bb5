"""Weight sensitivity: where on the weight simplex the decision holds, and how far it is to a flip.

Totals are linear in the pillar weights, total_t(w) = f_t * (w . p_t), so the set of
weights under which a given set of teams is eliminated is a convex polytope of the
simplex. Two questions are answered:

1. *How much of the simplex* (uniform Dirichlet draws, overall and in a neighbourhood of
   the official weights) eliminates each team and repeats the official decision.
2. *How far is the nearest flip* (`min_weight_change_to_flip`): the smallest L1 change of
   the normalised weights after which the rule eliminates a different set (an exact tie
   counts as a flip). With E the officially eliminated eligible teams (no boundary tie),
   the set stays the same exactly while every e in E stays strictly below every eligible
   survivor s; so it changes iff total_e(w) >= total_s(w) for some pair (e, s). The
   minimum over w is therefore the minimum over pairs of the linear program

       minimise sum(u) + sum(v)  s.t.  w = w0 + u - v,  u, v >= 0,  w >= 0,  sum(w) = 1,
                                         w . (f_e p_e - f_s p_s) >= 0,

   solved exactly by HiGHS (scipy.optimize.linprog). An official boundary tie gives 0;
   no feasible pair (or nothing to decide) gives None.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from fromscratch.decide.aggregate import eliminated


def simplex_shares(
    pillars: np.ndarray, factor: np.ndarray, w0: np.ndarray, eligible: np.ndarray, official: np.ndarray,
    k: int, tie_policy: str, samples: int, neighbourhood: float, rng: np.random.Generator,
) -> dict:
    """Shares of Dirichlet(1) weight draws (overall, and shrunk towards w0) per outcome."""
    P = len(w0)
    out: dict = {}
    u = rng.dirichlet(np.ones(P), size=samples)
    for label, W in (("overall", u), ("neighbourhood", (1.0 - neighbourhood) * w0 + neighbourhood * u)):
        tot = np.einsum("tp,np->nt", pillars, W) * factor
        el = eliminated(tot, eligible, k, tie_policy, rng)
        out[label] = {
            "p_eliminated": el.mean(axis=0),
            "p_same_decision": float(np.all(el == official, axis=1).mean()),
        }
    return out


def _pair_lp(w0: np.ndarray, d: np.ndarray) -> tuple[float, np.ndarray] | None:
    """Smallest L1 move of w0 on the simplex making w . d >= 0; None if impossible."""
    P = len(w0)
    if float(d.max()) < 0.0:
        return None
    if float(w0 @ d) >= 0.0:
        return 0.0, w0.copy()
    c = np.ones(2 * P)
    A_eq = np.concatenate([np.ones(P), -np.ones(P)])[None, :]
    A_ub = np.vstack([
        np.hstack([-np.eye(P), np.eye(P)]),  # -(u - v) <= w0  i.e. w >= 0
        np.concatenate([-d, d])[None, :],  # -d.(u - v) <= d.w0  i.e. d.w >= 0
    ])
    b_ub = np.concatenate([w0, [float(d @ w0)]])
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=[0.0], bounds=(0, None), method="highs")
    if res.status != 0:
        return None
    w = np.clip(w0 + res.x[:P] - res.x[P:], 0.0, None)
    return float(res.fun), w / w.sum()


def min_flip(
    pillars: np.ndarray, factor: np.ndarray, w0: np.ndarray, eligible: np.ndarray, official: np.ndarray,
    k: int, teams: list[str], pillar_names: list[str],
) -> dict | None:
    """The smallest L1 weight change that changes the eliminated set, with the weights and pair.

    Returns None when no weights on the simplex change the decision.
    """
    n_elig = int(eligible.sum())
    if k <= 0 or k >= n_elig:
        return None
    tot = (pillars @ w0) * factor
    el_tot = tot[official & eligible]
    sv_tot = tot[~official & eligible]
    if len(el_tot) != k or (len(el_tot) and len(sv_tot) and el_tot.max() >= sv_tot.min()):
        # the official rule already sits on a boundary tie: any change flips it
        return {"distance": 0.0, "weights": dict(zip(pillar_names, w0.tolist())), "eliminated_team": None,
                "surviving_team": None}
    best = None
    for e in np.flatnonzero(official & eligible):
        for s in np.flatnonzero(~official & eligible):
            d = factor[e] * pillars[e] - factor[s] * pillars[s]
            r = _pair_lp(w0, d)
            if r is None:
                continue
            key = (r[0], teams[e], teams[s])
            if best is None or key < best[0]:
                best = (key, r[1], e, s)
    if best is None:
        return None
    (dist, _, _), w, e, s = best
    return {"distance": dist, "weights": dict(zip(pillar_names, w.tolist())),
            "eliminated_team": teams[e], "surviving_team": teams[s]}
