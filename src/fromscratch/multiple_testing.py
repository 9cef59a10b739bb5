"""Multiple-comparison control shared by the lineage tests and the decision engine.

Both report families of p-values (components of one model pair; eliminated team
versus the next) whose dependence is unknown, so both use Holm's step-down
procedure, which controls the family-wise error rate under any dependence.
"""

from __future__ import annotations


def holm(ps: list[float]) -> list[float]:
    """Holm step-down adjusted p-values, in input order (ties broken by position)."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: (ps[i], i))
    adj = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adj[i] = running
    return adj
