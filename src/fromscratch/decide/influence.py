"""Which benchmarks (and human pillars) decided the elimination.

The *elimination margin* is total(next) - total(boundary), where `boundary` is the
eliminated eligible team with the highest total and `next` the surviving eligible team
with the lowest total: the gap the decision rests on.

- Leave-one-benchmark-out: the decision and margin recomputed without each benchmark
  (removed from every pillar and every team's picks; a pillar left empty scores 0).
- Shapley attribution of the margin: players are every benchmark that counts for either
  team of the pair plus each human pillar. v(S) is the margin computed from the players
  in S only (a benchmark pillar's score is the mean over its benchmarks in S, 0 if none;
  a human pillar outside S scores 0), so v(empty) = 0 and the values add up to the
  margin. Because pillar scores are means, a benchmark's worth depends on which others
  are present; Shapley averages over that. Exact over all subsets up to 16 players,
  otherwise estimated from seeded random permutations (reported with `exact: false`).
"""

from __future__ import annotations

from math import factorial

import numpy as np

from fromscratch.decide.aggregate import Structure, eliminated, pillar_scores, totals

EXACT_MAX_PLAYERS = 16
PERMUTATIONS = 2000


def boundary_pair(tot: np.ndarray, official: np.ndarray, eligible: np.ndarray) -> tuple[int, int] | None:
    el = np.flatnonzero(official & eligible)
    sv = np.flatnonzero(~official & eligible)
    if len(el) == 0 or len(sv) == 0:
        return None
    e = el[np.argmax(tot[el])]
    s = sv[np.argmin(tot[sv])]
    return int(e), int(s)


def leave_one_out(
    N: np.ndarray, H: np.ndarray, st: Structure, bench_names: list[str], teams: list[str],
    eligible: np.ndarray, official: np.ndarray, k: int, tie_policy: str, pair: tuple[int, int] | None,
    rng: np.random.Generator,
) -> list[dict]:
    out = []
    for b, name in enumerate(bench_names):
        K = st.K.copy()
        K[:, b, :] = 0.0
        tot = totals(pillar_scores(N, H, st, K), st.weights, st.factor)
        el = eliminated(tot, eligible, k, tie_policy, rng)
        out.append({
            "benchmark": name,
            "eliminated": [teams[i] for i in np.flatnonzero(el)],
            "changed": bool(np.any(el != official)),
            "margin": None if pair is None else float(tot[pair[1]] - tot[pair[0]]),
        })
    return out


def _values(masks: np.ndarray, Nb: np.ndarray, Kb: np.ndarray, Hp: np.ndarray, hidx: list[int],
            weights: np.ndarray, factor: np.ndarray, nbp: int) -> np.ndarray:
    """Margin v(S) for boolean player masks (m, nbp + nh); team axis holds (boundary, next)."""
    mb = masks[:, :nbp].astype(np.float64)
    present = ~np.isnan(Nb)
    num = np.einsum("mb,tb,tbp->mtp", mb, np.where(present, Nb, 0.0), Kb)
    den = np.einsum("mb,tb,tbp->mtp", mb, present.astype(np.float64), Kb)
    pil = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    if hidx:
        pil[:, :, hidx] = masks[:, None, nbp:] * Hp[None, :, :]
    tot = (pil @ weights) * factor
    return tot[:, 1] - tot[:, 0]


def shapley(
    N: np.ndarray, H: np.ndarray, st: Structure, bench_names: list[str], human_names: list[str],
    pair: tuple[int, int] | None, rng: np.random.Generator,
) -> dict | None:
    if pair is None:
        return None
    idx = list(pair)
    counts = st.K[idx].sum(axis=(0, 2)) > 0
    bsel = np.flatnonzero(counts)
    Nb, Kb = N[idx][:, bsel], st.K[idx][:, bsel, :]
    Hp = H[idx]
    players = [bench_names[b] for b in bsel] + [f"pillar:{h}" for h in human_names]
    n, nbp = len(players), len(bsel)
    fac = st.factor[idx]
    if n == 0:
        return None
    phi = np.zeros(n)
    if n <= EXACT_MAX_PLAYERS:
        codes = np.arange(1 << n, dtype=np.int64)
        masks = ((codes[:, None] >> np.arange(n)) & 1).astype(bool)
        v = np.concatenate([
            _values(masks[i : i + 8192], Nb, Kb, Hp, st.human_idx, st.weights, fac, nbp)
            for i in range(0, len(masks), 8192)
        ])
        size = masks.sum(axis=1)
        wt = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
        for j in range(n):
            without = codes[(codes >> j) & 1 == 0]
            phi[j] = float(np.sum(wt[size[without]] * (v[without | (1 << j)] - v[without])))
        exact, perms = True, None
    else:
        perms = PERMUTATIONS
        for start in range(0, perms, 200):
            m = min(200, perms - start)
            order = np.argsort(rng.random((m, n)), axis=1)
            masks = np.zeros((m, n + 1, n), dtype=bool)
            for step in range(1, n + 1):
                masks[:, step] = masks[:, step - 1]
                masks[np.arange(m), step, order[:, step - 1]] = True
            v = _values(masks.reshape(-1, n), Nb, Kb, Hp, st.human_idx, st.weights, fac, nbp).reshape(m, n + 1)
            gain = np.diff(v, axis=1)  # gain[:, step] belongs to player order[:, step]
            np.add.at(phi, order.ravel(), gain.ravel())
        phi /= perms
        exact = False
    total = float(_values(np.ones((1, n), dtype=bool), Nb, Kb, Hp, st.human_idx, st.weights, fac, nbp)[0])
    ranked = sorted(zip(players, phi.tolist()), key=lambda x: (-abs(x[1]), x[0]))
    return {"margin": total, "exact": exact, "permutations": perms,
            "values": [{"player": p, "value": v} for p, v in ranked]}
