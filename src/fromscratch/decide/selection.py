"""Self-selection advantage of team-chosen benchmarks.

cross[i][j] = team i's mean raw score (0-1) over team j's picks, when i has results on
all of them. A team that picked the benchmarks it is best at scores higher on its own
picks than on the picks of others:

    selection_advantage_i = cross[i][i] - mean_{j != i, cross[i][j] known} cross[i][j]

(null when the team has no results on any other team's picks). Raw scores are used so
the number means "points of benchmark accuracy", whatever the protocol's normalisation.
The same formula on each bootstrap replicate gives its confidence interval.
"""

from __future__ import annotations

import numpy as np


def pick_index(picks: dict[str, tuple[str, ...]], teams: list[str], bench_names: list[str]) -> dict[int, list[int]]:
    bix = {b: i for i, b in enumerate(bench_names)}
    out = {}
    for j, team in enumerate(teams):
        out[j] = [bix[b] for b in picks.get(team, ()) if b in bix]
    return out


def cross_matrix(S: np.ndarray, picks: dict[int, list[int]]) -> np.ndarray:
    """(..., T, T) mean of S (..., T, nb) over each team's picks; NaN where any pick is missing."""
    T = S.shape[-2]
    out = np.full(S.shape[:-1] + (T,), np.nan)
    for j in range(T):
        if picks[j]:
            out[..., :, j] = S[..., :, picks[j]].mean(axis=-1)
    return out


def advantage(C: np.ndarray) -> np.ndarray:
    """(..., T) own-pick score minus the mean over known other-team picks; NaN when none."""
    T = C.shape[-1]
    own = np.diagonal(C, axis1=-2, axis2=-1)
    off = ~np.eye(T, dtype=bool)
    others = np.where(off, C, np.nan)
    known = (~np.isnan(others)).sum(axis=-1)
    mean_others = np.divide(np.nansum(others, axis=-1), known, out=np.full(own.shape, np.nan), where=known > 0)
    return own - mean_others
