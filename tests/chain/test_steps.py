"""Continuity statistics: the trend rule and positional alignment."""

from __future__ import annotations

import numpy as np

from fromscratch.chain.steps import TREND_FACTOR, pair_statistics, trend_ratios


def _flags(changes):
    return [r is not None and r > TREND_FACTOR for r in trend_ratios(changes)]


def test_warm_up_with_tiny_early_steps_is_not_a_spike():
    assert not any(_flags([3e-4, 3e-4, 4e-4, 0.2, 0.5, 0.4, 0.3]))


def test_large_first_step_out_of_the_init_is_not_a_spike():
    assert not any(_flags([2.4, 0.13, 0.07, 0.06]))


def test_isolated_interior_spike_is_flagged():
    flags = _flags([0.3, 0.25, 4.0, 0.2, 0.15])
    assert flags == [False, False, True, False, False]


def _sk(values, kind="attention"):
    return {"layers.0.attention|q|None": (values, {"shape": [64, 64], "numel": 4096, "kind": kind})}


def test_alignment_holds_for_a_training_step_and_fails_for_a_permutation():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.02, 1024)
    b = a + rng.normal(0, 0.01, 1024)
    ok = pair_statistics(_sk(a), _sk(b))
    assert ok["misaligned"] == [] and 0.3 < ok["change"] < 0.7
    bad = pair_statistics(_sk(a), _sk(rng.permutation(b)))
    assert bad["misaligned"] == ["layers.0.attention/q"]


def test_norm_weights_are_not_alignment_tested():
    rng = np.random.default_rng(1)
    a = 1 + rng.normal(0, 1e-3, 1024)
    out = pair_statistics(_sk(a, "norm"), _sk(rng.permutation(a), "norm"))
    assert out["tested_tensors"] == 0
