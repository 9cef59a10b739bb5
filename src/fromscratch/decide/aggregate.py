"""From benchmark scores to pillar scores, totals and the official elimination rule.

All functions take arrays with any number of leading axes (a bootstrap replicate axis,
a weight-sample axis, ...) so the point estimate, the bootstrap and every sensitivity
analysis run the very same code: a difference between the official numbers and the
robustness numbers can never come from two implementations of the rules.

Definitions (as published in docs/decide.md):
- benchmark score = mean of its item scores (0-1);
- normalisation, per benchmark, of that score (see `normalise`);
- benchmark pillar = mean of its benchmarks' normalised scores; the team-chosen pillar
  is, for each team, the mean over its own picks;
- human pillar = mean over raters of each rater's mean over criteria (0-1);
- total = sum over pillars of weight x pillar score (times 1 - penalty under the
  originality gate 'penalty').
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fromscratch.decide.data import RoundData
from fromscratch.decide.protocol import Protocol
from fromscratch.errors import InputError


@dataclass
class Structure:
    """The protocol and data reduced to the arrays aggregation needs."""

    pillars: list[str]
    weights: np.ndarray  # (P,) as written in the protocol
    K: np.ndarray  # (T, nb, P) 1 where benchmark b counts in pillar p for team t
    bench_pillar_idx: np.ndarray  # (nb,) pillar index of each benchmark
    human_idx: list[int]  # pillar index of each human pillar (order of data.human)
    baseline: np.ndarray  # (nb,) chance score per benchmark (random-baseline)
    target: np.ndarray  # (T, nb) target-model score (target-relative), NaN where not declared
    factor: np.ndarray  # (T,) 1 - penalty under the originality gate, else 1


def structure(protocol: Protocol, data: RoundData, factor: np.ndarray, source=None) -> Structure:
    pillars = list(protocol.pillars)
    pix = {p: i for i, p in enumerate(pillars)}
    T, nb, P = len(data.teams), len(data.benchmarks), len(pillars)
    K = np.zeros((T, nb, P))
    bidx = np.zeros(nb, dtype=np.int64)
    for b, bd in enumerate(data.benchmarks):
        bidx[b] = pix[bd.pillar]
        K[bd.required, b, pix[bd.pillar]] = 1.0
    baseline = np.zeros(nb)
    target = np.full((T, nb), np.nan)
    for b, bd in enumerate(data.benchmarks):
        baseline[b] = protocol.random_baseline.get(bd.name, 0.0)
    for t, team in enumerate(data.teams):
        for b, bd in enumerate(data.benchmarks):
            v = protocol.targets.get(team, {}).get(bd.name)
            if v is not None:
                target[t, b] = v
    if protocol.normalisation == "target-relative":
        for t, team in enumerate(data.teams):
            for b, bd in enumerate(data.benchmarks):
                if bd.required[t] and np.isnan(target[t, b]):
                    raise InputError(
                        source,
                        f"normalisation 'target-relative' needs [targets.{team}] {bd.name} = <target model score>",
                    )
    return Structure(
        pillars, np.array([protocol.pillars[p] for p in pillars], dtype=np.float64), K, bidx,
        [pix[h.pillar] for h in data.human], baseline, target, factor,
    )


def benchmark_scores(data: RoundData) -> np.ndarray:
    """(T, nb) mean item score per team and benchmark; NaN where a team has no items."""
    out = np.full((len(data.teams), len(data.benchmarks)), np.nan)
    for b, bd in enumerate(data.benchmarks):
        cnt = bd.M.sum(axis=1)
        s = (bd.X * bd.M).sum(axis=1)
        ok = cnt > 0
        out[ok, b] = s[ok] / cnt[ok]
    return out


def human_scores(data: RoundData) -> np.ndarray:
    """(T, nh) mean over raters of each rater's criterion mean."""
    out = np.zeros((len(data.teams), len(data.human)))
    for h, hd in enumerate(data.human):
        out[:, h] = (hd.R * hd.RM).sum(axis=1) / hd.RM.sum(axis=1)
    return out


def normalise(S: np.ndarray, kind: str, st: Structure) -> np.ndarray:
    """Put benchmark scores (..., T, nb) on the pillar scale; NaN stays NaN.

    - raw: s;
    - random-baseline: (s - r_b) / (1 - r_b), r_b the benchmark's chance score (0 if not
      declared); below-chance scores become negative (not clipped, so the map is affine);
    - target-relative: s / t_tb, t_tb the score of the team's declared target model;
    - zscore: (s - mean_b) / sd_b over the teams that have a score on b (population sd);
      0 for every team when sd_b = 0;
    - rank: the team's win rate on b against the other teams with a score on b
      (1 = beat everyone, ties count half); 0.5 when a team is alone on b.
    """
    if kind == "raw":
        return S
    if kind == "random-baseline":
        return (S - st.baseline) / (1.0 - st.baseline)
    if kind == "target-relative":
        return S / st.target
    present = ~np.isnan(S)
    n = present.sum(axis=-2, keepdims=True)
    if kind == "zscore":
        mean = np.nansum(S, axis=-2, keepdims=True) / np.maximum(n, 1)
        dev = np.where(present, S - mean, 0.0)
        sd = np.sqrt((dev**2).sum(axis=-2, keepdims=True) / np.maximum(n, 1))
        z = np.divide(dev, sd, out=np.zeros_like(dev), where=sd > 0)
        return np.where(present, z, np.nan)
    if kind == "rank":
        a = S[..., :, None, :]
        b = S[..., None, :, :]
        both = ~np.isnan(a) & ~np.isnan(b)
        wins = np.where(both, (a > b) + 0.5 * (a == b), 0.0).sum(axis=-2)
        opp = both.sum(axis=-2) - 1  # the self-comparison counts once as 'both'
        wins = wins - 0.5  # remove the self tie
        r = np.divide(wins, opp, out=np.full_like(wins, 0.5), where=opp > 0)
        return np.where(present, r, np.nan)
    raise ValueError(f"unknown normalisation {kind!r}")


def pillar_scores(N: np.ndarray, H: np.ndarray, st: Structure, K: np.ndarray | None = None) -> np.ndarray:
    """(..., T, P) pillar scores from normalised benchmark scores N (..., T, nb) and human H (..., T, nh).

    A benchmark pillar is the mean of the benchmarks that count for the team (NaN ones
    skipped); a pillar with nothing counted scores 0 (only in what-if analyses that drop
    benchmarks; the official data always has something, see data.build).
    """
    K = st.K if K is None else K
    present = ~np.isnan(N)
    num = np.einsum("...tb,tbp->...tp", np.where(present, N, 0.0), K)
    den = np.einsum("...tb,tbp->...tp", present.astype(np.float64), K)
    out = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    if st.human_idx:
        out[..., st.human_idx] = H
    return out


def totals(pillars: np.ndarray, weights: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """(..., T) weighted totals (weights as given, or a (..., P) array of them)."""
    if weights.ndim == 1:
        t = pillars @ weights
    else:
        t = np.einsum("...tp,...p->...t", pillars, weights)
    return t * factor


def eliminated(
    tot: np.ndarray, eligible: np.ndarray, k: int, tie_policy: str, rng: np.random.Generator | None = None
) -> np.ndarray:
    """(..., T) bool: the official rule applied to totals (disqualified teams not eligible).

    The k lowest eligible totals leave. An exact tie at the boundary follows the tie
    policy: 'spare-all' keeps every tied team, 'eliminate-all' removes every tied team,
    'lottery' draws among the tied teams (uniformly, from `rng`).
    """
    n_elig = int(eligible.sum())
    shape = tot.shape
    if k <= 0 or n_elig == 0:
        return np.zeros(shape, dtype=bool)
    if k >= n_elig:
        return np.broadcast_to(eligible, shape).copy()
    masked = np.where(eligible, tot, np.inf)
    srt = np.sort(masked, axis=-1)
    kth = srt[..., k - 1 : k]  # k-th lowest
    nxt = srt[..., k : k + 1]  # (k+1)-th lowest
    if tie_policy == "eliminate-all":
        out = masked <= kth
    elif tie_policy == "spare-all":
        out = masked < nxt
    elif tie_policy == "lottery":
        if rng is None:
            raise ValueError("lottery needs a random generator")
        key = rng.random(shape)
        order = np.lexsort((key, masked), axis=-1)
        out = np.zeros(shape, dtype=bool)
        np.put_along_axis(out, order[..., :k], True, axis=-1)
    else:
        raise ValueError(f"unknown tie policy {tie_policy!r}")
    return out & eligible


def ranks(tot: np.ndarray) -> np.ndarray:
    """(..., T) competition ranks: 1 + number of teams with a strictly higher total."""
    return 1 + (tot[..., None, :] > tot[..., :, None]).sum(axis=-1)
