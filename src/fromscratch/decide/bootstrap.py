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
Replicates are produced in fixed-size chunks from per-benchmark numpy Generators
spawned from the protocol seed, so the result does not depend on the machine or on the
number of threads.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fromscratch.decide.data import RoundData

CHUNK = 64  # replicates per block: small enough for the count arrays to stay in cache


def _counts(rng: np.random.Generator, reps: int, n: int) -> np.ndarray:
    """(reps, n) float64 multiplicities of a uniform draw of n of n indices with replacement."""
    idx = rng.integers(0, n, size=(reps, n), dtype=np.int64)
    idx += (np.arange(reps, dtype=np.int64) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=reps * n).reshape(reps, n).astype(np.float64)


def _stream(rng: np.random.Generator, reps: int, X: np.ndarray, M: np.ndarray,
            cluster: np.ndarray | None = None, n_clusters: int = 0) -> np.ndarray:
    """(reps, T) resampled means of X (T, n) over present entries M: sum(c x) / sum(c m).

    With `cluster` codes, n_clusters clusters are drawn with replacement and every item
    counts as often as its cluster was drawn (the cluster bootstrap for correlated items).
    """
    full = bool(M.all()) and cluster is None
    XT = np.ascontiguousarray((X * M).T)
    MT = np.ascontiguousarray(M.T.astype(np.float64))
    out = np.empty((reps, X.shape[0]))
    for start in range(0, reps, CHUNK):
        m = min(CHUNK, reps - start)
        if cluster is None:
            c = _counts(rng, m, X.shape[1])
        else:
            c = _counts(rng, m, n_clusters)[:, cluster]
        num = c @ XT
        if full:
            out[start : start + m] = num / X.shape[1]
        else:
            den = c @ MT
            out[start : start + m] = np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)
    return out


def resample(data: RoundData, reps: int, seed: int, progress=None, workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(S, H): (reps, T, nb) resampled benchmark means and (reps, T, nh) human pillar scores.

    Each benchmark and each human pillar has its own random stream (spawned from the
    protocol seed in a fixed order), so the streams can run on several threads and the
    result is still the same on every machine. Where a team has no items in a
    replicate's draw the value is NaN (skipped by the pillar mean); a panel draw that
    omits all of a team's raters falls back to the official value (it says nothing).
    """
    nb, nh = len(data.benchmarks), len(data.human)
    seqs = np.random.SeedSequence([int(seed) & (2**63 - 1), 0xB007]).spawn(nb + nh)
    jobs = [(seqs[b], bd.X, bd.M, bd.cluster, bd.n_clusters) for b, bd in enumerate(data.benchmarks)]
    jobs += [(seqs[nb + h], hd.R, hd.RM, None, 0) for h, hd in enumerate(data.human)]

    def run(job):
        seq, X, M, cl, ncl = job
        r = _stream(np.random.default_rng(seq), reps, X, M, cl, ncl)
        if progress is not None:
            progress(reps / len(jobs))
        return r

    workers = workers or min(4, os.cpu_count() or 1)
    if workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(workers) as ex:
            parts = list(ex.map(run, jobs))
    else:
        parts = [run(j) for j in jobs]
    T = len(data.teams)
    S = np.stack(parts[:nb], axis=-1) if nb else np.empty((reps, T, 0))
    H = np.stack(parts[nb:], axis=-1) if nh else np.empty((reps, T, 0))
    for h, hd in enumerate(data.human):
        official = (hd.R * hd.RM).sum(1) / hd.RM.sum(1)
        bad = np.isnan(H[:, :, h])
        if bad.any():
            H[:, :, h] = np.where(bad, official[None, :], H[:, :, h])
    return S, H
