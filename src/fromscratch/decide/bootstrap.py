"""Paired item (and rater) bootstrap of benchmark and human scores.

One replicate draws, for every benchmark, n item indices with replacement from its n
items, and the *same* draw is used for every team: teams are compared on the same
resampled test, which is what makes the bootstrap paired (differences between teams
keep their item-level correlation). Human pillars resample their rater panel the same
way (one draw of raters per pillar per replicate, shared by all teams).

A draw is stored as multiplicity counts c[r, i] (how often item i was drawn in
replicate r), so a replicate's benchmark means are one matrix product
(counts @ scores.T) / (counts @ present.T) for all teams and replicates at once; this
keeps 10,000 replicates x 20 benchmarks x 1,000 items at a few seconds on two cores.
Replicates are produced in fixed-size chunks from one numpy Generator seeded by the
protocol seed, so the result does not depend on the machine.
"""

from __future__ import annotations

import numpy as np

from fromscratch.decide.data import RoundData

CHUNK = 1000


def _counts(rng: np.random.Generator, reps: int, n: int) -> np.ndarray:
    """(reps, n) float64 multiplicities of a uniform draw of n of n indices with replacement."""
    idx = rng.integers(0, n, size=(reps, n), dtype=np.int64)
    idx += (np.arange(reps, dtype=np.int64) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=reps * n).reshape(reps, n).astype(np.float64)


def _resampled_means(counts: np.ndarray, X: np.ndarray, M: np.ndarray, full: bool) -> np.ndarray:
    """(reps, T) weighted means of X (T, n) over present entries M under `counts`."""
    num = counts @ (X * M).T
    if full:
        return num / X.shape[1]
    den = counts @ M.T.astype(np.float64)
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)


def resample(data: RoundData, reps: int, seed: int, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """(S, H): (reps, T, nb) resampled benchmark means and (reps, T, nh) human pillar scores.

    Where a team has no items (or no raters) in a replicate's draw the value is NaN for
    benchmarks (skipped by the pillar mean) and falls back to the official value for
    human pillars (a panel draw that happens to omit all of a team's raters says nothing).
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & (2**63 - 1), 0xB007]))
    T = len(data.teams)
    S = np.empty((reps, T, len(data.benchmarks)))
    H = np.empty((reps, T, len(data.human)))
    full_b = [bool(bd.M.all()) for bd in data.benchmarks]
    full_h = [bool(hd.RM.all()) for hd in data.human]
    official_h = [(hd.R * hd.RM).sum(1) / hd.RM.sum(1) for hd in data.human]
    done = 0
    while done < reps:
        m = min(CHUNK, reps - done)
        for b, bd in enumerate(data.benchmarks):
            c = _counts(rng, m, bd.X.shape[1])
            S[done : done + m, :, b] = _resampled_means(c, bd.X, bd.M, full_b[b])
        for h, hd in enumerate(data.human):
            c = _counts(rng, m, hd.R.shape[1])
            v = _resampled_means(c, hd.R, hd.RM, full_h[h])
            H[done : done + m, :, h] = np.where(np.isnan(v), official_h[h][None, :], v)
        done += m
        if progress is not None:
            progress(m)
    return S, H
