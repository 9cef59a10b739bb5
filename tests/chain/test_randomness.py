"""The fresh-initialisation tests on synthetic matrices: calibrated under the null, powerful against structure."""

from __future__ import annotations

import numpy as np
import pytest

from fromscratch.chain.randomness import Law, matrix_tests, moment_tests, spectrum_test
from fromscratch.multiple_testing import holm

SHAPES = [(64, 64), (128, 48), (96, 256), (300, 80)]


def _draw(rng, family: str, shape, std: float) -> np.ndarray:
    if family == "normal":
        return rng.normal(0, std, shape).astype(np.float32)
    if family == "uniform":
        a = std * np.sqrt(3)
        return rng.uniform(-a, a, shape).astype(np.float32)
    from scipy import stats

    unit = stats.truncnorm(-2, 2).std()
    return (stats.truncnorm(-2, 2).rvs(size=shape, random_state=rng) * std / unit).astype(np.float32)


@pytest.mark.parametrize("family", ["normal", "uniform", "truncated-normal"])
def test_null_false_alarm_rate_is_near_nominal(family):
    """Each test's p-values on fresh draws: at most about alpha of them below alpha (binomial slack)."""
    rng = np.random.default_rng(7)
    law = Law(family, 0.02)
    ps: dict[str, list[float]] = {}
    for i in range(60):
        for name, _, p in matrix_tests(_draw(rng, family, SHAPES[i % 4], 0.02), law):
            ps.setdefault(name, []).append(p)
    assert set(ps) >= {"mean", "variance", "skewness", "kurtosis", "law", "row-norms", "column-norms",
                       "row-correlations", "column-correlations", "spectrum"}
    for name, vals in ps.items():
        rate = np.mean(np.asarray(vals) < 0.05)
        assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / len(vals)), (name, rate)
    family_ps = holm([p for v in ps.values() for p in v])
    assert min(family_ps) > 1e-3


def test_spectrum_is_not_conservative_to_uselessness():
    """Under the null the Tracy-Widom p-values spread over (0, 1), not all near 1."""
    rng = np.random.default_rng(3)
    ps = [spectrum_test(rng.normal(0, 1, (100, 200)), 1.0)[1] for _ in range(80)]
    assert 0.2 < float(np.median(ps)) < 0.8


def test_low_rank_signal_plus_noise_fails_the_spectrum():
    rng = np.random.default_rng(1)
    m, n = 128, 256
    noise = rng.normal(0, 0.02, (m, n))
    u, v = rng.normal(size=(m, 1)), rng.normal(size=(1, n))
    signal = 0.02 * 1.5 * (u @ v) / np.sqrt(np.sqrt(m * n))  # a spike well beyond the BBP threshold
    ratio, p = spectrum_test(noise + signal, 0.02)
    assert ratio > 1.05 and p < 1e-6
    assert spectrum_test(noise, 0.02)[1] > 1e-3


def test_permuting_rows_and_columns_keeps_the_structure_visible():
    rng = np.random.default_rng(2)
    m, n = 96, 200
    scales = np.exp(rng.normal(0, 0.5, (m, 1)))          # trained units have unequal norms
    w = rng.normal(0, 0.02, (m, n)) * scales
    w = w * (0.02 / w.std())                               # scale matched to the declared init
    p = w[rng.permutation(m)][:, rng.permutation(n)]
    res = {name: pv for name, _, pv in matrix_tests(p.astype(np.float32), Law("normal", 0.02))}
    assert res["row-norms"] < 1e-10
    assert res["variance"] > 1e-3                           # the scale alone would not catch it


def test_wrong_scale_fails_the_variance_test_beyond_the_margin():
    rng = np.random.default_rng(4)
    a = rng.normal(0, 0.0215, (256, 256)).astype(np.float32)      # variance +15.6 %
    res = {name: p for name, _, p in moment_tests(a, Law("normal", 0.02))}
    assert res["variance"] < 1e-6
    truncated = rng.normal(0, 0.02, (1024, 1024)).astype(np.float32)
    truncated = ((truncated.view(np.uint32) >> 16) << 16).view(np.float32)   # BF16 by truncation
    assert {n: p for n, _, p in moment_tests(truncated, Law("normal", 0.02))}["variance"] == 1.0


def test_heavy_tails_fail_the_law_and_kurtosis():
    rng = np.random.default_rng(5)
    a = (rng.standard_t(4, (200, 200)) * 0.02 / np.sqrt(2)).astype(np.float32)
    res = {name: p for name, _, p in matrix_tests(a, Law("normal", 0.02))}
    assert res["kurtosis"] < 1e-6 and res["law"] < 1e-3


def test_undeclared_std_skips_the_scale_test_and_still_tests_shape():
    rng = np.random.default_rng(6)
    a = rng.normal(0, 0.05, (64, 128)).astype(np.float32)
    res = {name: p for name, _, p in matrix_tests(a, Law("normal", None))}
    assert "variance" not in res and min(res.values()) > 1e-4
