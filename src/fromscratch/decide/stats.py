"""Paired tests on bootstrap replicates, and multiplicity corrections.

The total of a team is a weighted mix of benchmark means and rater means, possibly
through a non-linear normalisation (z-score, rank), so the test statistic is the
difference of totals itself and its null distribution comes from the same paired
bootstrap that gives the intervals: p = (1 + #{|D* - D| >= |D|}) / (B + 1), the
two-sided centred-percentile bootstrap test (D* are the replicate differences, D the
observed one). Pairing is automatic because all teams share each replicate's draw.
"""

from __future__ import annotations

import numpy as np

from fromscratch.multiple_testing import holm as holm  # re-exported for the engine


def bootstrap_p(observed: float, replicates: np.ndarray) -> float:
    """Two-sided bootstrap p-value of H0: difference = 0 (replicates NaN-free)."""
    r = replicates[~np.isnan(replicates)]
    if r.size == 0:
        return 1.0
    extreme = np.abs(r - observed) >= abs(observed)
    return float((1 + int(extreme.sum())) / (r.size + 1))


def benjamini_hochberg(p: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in input order."""
    m = len(p)
    order = sorted(range(m), key=lambda i: (p[i], i))
    adj = [0.0] * m
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, p[i] * m / (rank + 1))
        adj[i] = min(1.0, running)
    return adj
