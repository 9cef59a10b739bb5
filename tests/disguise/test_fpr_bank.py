"""A smaller version of the disguised false-positive bank (benchmarks/bench_lineage_fpr.py).

Four same-recipe seed siblings trained 400 steps (4x the zoo's seeds; two of
them share the data order), every ordered pair, each candidate plain, rotated
with folded norms, rescaled, permuted and rotated+permuted: no component may
be flagged at the decision threshold, and no model pair judged derived. Part of the
default run (CI): about 50 s on one core, training the siblings included.
"""

from __future__ import annotations

import pytest


@pytest.mark.torch
def test_small_disguised_false_positive_bank():
    from fromscratch.disguise import fpr, nullbank

    paths = nullbank.siblings(nullbank.SMALL, 4)
    rows = list(fpr.compare_bank(paths))
    assert len(rows) == 4 * 3 * len(fpr.VARIANTS)
    t = fpr.tally(rows)
    assert t["component_pairs"] >= 300
    assert t["flagged"] == 0, t["flagged_examples"]
    assert t["model_pairs_flagged"] == 0
    assert t["min_p"] > t["threshold"]
    assert set(t["by_variant"]) == set(fpr.VARIANTS)


def test_upper_bound():
    from fromscratch.disguise.fpr import upper_bound

    # zero events in n trials: the one-sided 95 % bound is 1 - 0.05 ** (1 / n) (about 3 / n)
    assert upper_bound(0, 3000) == pytest.approx(1 - 0.05 ** (1 / 3000), rel=1e-6)
    assert upper_bound(0, 3000) < 1e-3 < upper_bound(0, 2000)
    assert upper_bound(5, 10) > 0.5
