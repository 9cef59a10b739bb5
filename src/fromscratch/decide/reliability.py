"""Agreement of human raters: Krippendorff's alpha (interval metric).

A human pillar is only as good as its panel. Alpha compares the disagreement between
raters on the same team (observed, D_o) with the disagreement between any two ratings
in the table (expected by chance, D_e): alpha = 1 - D_o / D_e; 1 is perfect agreement,
0 is no better than chance. Units are teams, values are each rater's mean over criteria;
raters missing for a team are simply absent (teams with fewer than two ratings do not
count), as the coefficient allows.
"""

from __future__ import annotations

import numpy as np


def krippendorff_interval(values: np.ndarray, present: np.ndarray) -> float | None:
    """Alpha of a (units, raters) table; None when undefined (fewer than two pairable values)."""
    d_o_num = 0.0
    pooled = []
    for u in range(values.shape[0]):
        v = values[u, present[u]]
        m = len(v)
        if m < 2:
            continue
        diffs = (v[:, None] - v[None, :]) ** 2
        d_o_num += diffs.sum() / (m - 1)
        pooled.append(v)
    if not pooled:
        return None
    allv = np.concatenate(pooled)
    n = len(allv)
    if n < 2:
        return None
    d_o = d_o_num / n
    # sum over ordered pairs i != j of (v_i - v_j)^2 = 2 n sum (v - mean)^2
    d_e = 2.0 * n * float(((allv - allv.mean()) ** 2).sum()) / (n * (n - 1))
    if d_e == 0.0:
        return None if d_o == 0.0 else 0.0
    return float(1.0 - d_o / d_e)
