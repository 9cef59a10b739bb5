"""The exact LP flip distance against brute force, simplex shares, Shapley, statistics helpers."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from fromscratch.decide import aggregate as agg
from fromscratch.decide.stats import benjamini_hochberg, bootstrap_p, holm
from fromscratch.decide.weights import min_flip, simplex_shares


@functools.lru_cache(maxsize=None)
def _grid(P: int, steps: int) -> np.ndarray:
    """Every point of the simplex with coordinates in multiples of 1/steps."""
    axes = np.meshgrid(*[np.arange(steps + 1)] * (P - 1), indexing="ij")
    c = np.stack([a.ravel() for a in axes], axis=1)
    c = c[c.sum(axis=1) <= steps]
    return np.hstack([c, steps - c.sum(axis=1, keepdims=True)]).astype(float) / steps


def _brute(pillars, factor, w0, eligible, official, steps):
    """Smallest L1 distance from w0 among grid weights whose decision differs (ties count)."""
    g = _grid(len(w0), steps)
    tot = (g @ pillars.T) * factor
    el = tot[:, official & eligible]
    sv = tot[:, ~official & eligible]
    flipped = el.max(axis=1) >= sv.min(axis=1)
    if not flipped.any():
        return None
    return float(np.abs(g[flipped] - w0).sum(axis=1).min())


@pytest.mark.parametrize("P,T,k,seed,steps", [(3, 4, 1, 0, 400), (3, 5, 2, 1, 400), (4, 5, 1, 2, 80),
                                                (4, 4, 2, 3, 80), (3, 6, 1, 4, 400), (4, 6, 3, 5, 80)])
def test_lp_flip_matches_brute_force(P, T, k, seed, steps):
    rng = np.random.default_rng(seed)
    found = 0
    for trial in range(15):
        pillars = rng.uniform(0.3, 0.9, size=(T, P))
        w0 = rng.dirichlet(np.ones(P) * 3)
        factor = np.ones(T)
        eligible = np.ones(T, dtype=bool)
        tot = (pillars @ w0) * factor
        official = agg.eliminated(tot, eligible, k, "spare-all")
        teams = [f"t{i}" for i in range(T)]
        res = min_flip(pillars, factor, w0, eligible, official, k, teams, [f"p{j}" for j in range(P)])
        brute = _brute(pillars, factor, w0, eligible, official, steps)
        if res is None:
            assert brute is None
            continue
        found += 1
        lp = res["distance"]
        # the grid can only find flips at least as far as the exact minimum, and comes within its resolution
        assert brute is not None
        assert lp <= brute + 1e-9
        assert brute - lp <= 2.0 * (P - 1) / steps + 1e-9
        # the reported weights are on the simplex, at that distance, and really flip (or tie)
        w = np.array(list(res["weights"].values()))
        assert w.min() >= -1e-12 and w.sum() == pytest.approx(1.0)
        assert np.abs(w - w0).sum() == pytest.approx(lp, abs=1e-7)
        t2 = (pillars @ w) * factor
        assert t2[official].max() >= t2[~official].min() - 1e-9
    assert found >= 3


def test_no_flip_when_loser_is_dominated():
    pillars = np.array([[0.9, 0.9, 0.9], [0.8, 0.8, 0.8], [0.1, 0.2, 0.3]])
    eligible = np.ones(3, dtype=bool)
    w0 = np.array([0.2, 0.3, 0.5])
    official = agg.eliminated(pillars @ w0, eligible, 1, "spare-all")
    assert min_flip(pillars, np.ones(3), w0, eligible, official, 1, ["a", "b", "c"], ["x", "y", "z"]) is None


def test_boundary_tie_is_a_zero_distance_flip():
    pillars = np.array([[0.9, 0.9], [0.5, 0.5], [0.5, 0.5]])
    eligible = np.ones(3, dtype=bool)
    w0 = np.array([0.5, 0.5])
    official = agg.eliminated(pillars @ w0, eligible, 1, "spare-all")
    assert not official.any()  # spare-all keeps both tied teams
    assert agg.eliminated(pillars @ w0, eligible, 1, "eliminate-all").sum() == 2
    res = min_flip(pillars, np.ones(3), w0, eligible, official, 1, ["a", "b", "c"], ["x", "y"])
    assert res["distance"] == 0.0


def test_simplex_shares_exact_for_two_pillars():
    # team c loses iff w_x < 0.5 (c: (0.2, 0.8) vs b: (0.6, 0.4)); a never loses
    pillars = np.array([[0.9, 0.9], [0.6, 0.4], [0.2, 0.8]])
    eligible = np.ones(3, dtype=bool)
    w0 = np.array([0.5, 0.5]) + np.array([-0.1, 0.1])
    official = agg.eliminated(pillars @ w0, eligible, 1, "spare-all")
    out = simplex_shares(pillars, np.ones(3), w0, eligible, official, 1, "spare-all", 40000, 0.1,
                         np.random.default_rng(0))
    assert out["overall"]["p_eliminated"][2] == pytest.approx(0.5, abs=0.01)
    assert out["overall"]["p_eliminated"][0] == 0.0


def test_rank_and_zscore_normalisation():
    S = np.array([[0.9, 0.2], [0.5, 0.2], [0.1, np.nan]])
    st = agg.Structure([], np.ones(1), np.zeros((3, 2, 1)), np.zeros(2, int), [], np.zeros(2), np.full((3, 2), np.nan), np.ones(3))
    r = agg.normalise(S, "rank", st)
    assert r[:, 0].tolist() == [1.0, 0.5, 0.0]
    assert r[0, 1] == 0.5 and r[1, 1] == 0.5 and np.isnan(r[2, 1])
    z = agg.normalise(S, "zscore", st)
    assert z[:, 0].mean() == pytest.approx(0.0) and z[:, 0].std() == pytest.approx(1.0)
    assert z[0, 1] == 0.0


def test_holm_and_bh():
    p = [0.01, 0.04, 0.03, 0.20]
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.20])
    assert benjamini_hochberg(p) == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.20])
    assert bootstrap_p(1.0, np.random.default_rng(0).normal(1.0, 0.2, 5000)) < 0.01
    assert bootstrap_p(0.1, np.random.default_rng(0).normal(0.1, 0.2, 5000)) > 0.5


def test_bootstrap_is_independent_of_threads_and_paired(clear_loser):
    from fromscratch.decide.bootstrap import resample
    from fromscratch.decide.data import build
    from fromscratch.decide.protocol import load
    from fromscratch.decide.tables import read_human, read_results

    f = clear_loser
    p = load(f / "round.toml")
    data = build(p, read_results(f / "results.jsonl"), read_human(f / "human.jsonl", p.human_scale),
                 f / "results.jsonl", f / "human.jsonl")
    S1, H1 = resample(data, 130, 5, workers=1)
    S2, H2 = resample(data, 130, 5, workers=3)
    assert np.array_equal(S1, S2) and np.array_equal(H1, H2)
    # paired: two teams given identical items get identical replicate means
    data.benchmarks[0].X[1] = data.benchmarks[0].X[0]
    S3, _ = resample(data, 50, 5, workers=1)
    assert np.array_equal(S3[:, 0, 0], S3[:, 1, 0])
    # the replicate means scatter around the observed mean with the binomial standard error
    x = data.benchmarks[1].X[2]
    sd = S1[:, 2, 1].std()
    assert sd == pytest.approx(x.std() / np.sqrt(len(x)), rel=0.3)


def _two_team_data(x0, x1):
    from fromscratch.decide.data import BenchmarkData, RoundData

    X = np.vstack([x0, x1]).astype(float)
    bd = BenchmarkData("b", "p", [str(i) for i in range(X.shape[1])], X, np.ones_like(X, dtype=bool), np.ones(2, bool))
    return RoundData(["t0", "t1"], [bd], [], ["p"])


def test_paired_bootstrap_test_is_calibrated_and_has_power():
    """Under H0 (same item-response probabilities) the bootstrap test rejects at about alpha;
    with a real 10-point gap on 300 items (about 2.8 standard errors) it mostly rejects."""
    from fromscratch.decide.bootstrap import resample

    rng = np.random.default_rng(42)
    n, sims = 300, 160
    rejections = {0.0: 0, 0.10: 0}
    for gap in rejections:
        for s in range(sims):
            easy = rng.normal(0, 1.5, n)
            p0 = 1 / (1 + np.exp(-(0.4 + easy)))
            p1 = 1 / (1 + np.exp(-(0.4 + easy))) - gap
            x0 = (rng.random(n) < p0).astype(float)
            x1 = (rng.random(n) < np.clip(p1, 0, 1)).astype(float)
            S, _ = resample(_two_team_data(x0, x1), 400, s, workers=1)
            d = x0.mean() - x1.mean()
            if bootstrap_p(d, S[:, 0, 0] - S[:, 1, 0]) <= 0.05:
                rejections[gap] += 1
    assert 0.0 <= rejections[0.0] / sims <= 0.11
    assert rejections[0.10] / sims >= 0.6


def test_krippendorff_alpha_properties():
    from fromscratch.decide.reliability import krippendorff_interval

    rng = np.random.default_rng(1)
    truth = rng.uniform(0, 1, 40)
    perfect = np.repeat(truth[:, None], 5, axis=1)
    ones = np.ones_like(perfect, dtype=bool)
    assert krippendorff_interval(perfect, ones) == pytest.approx(1.0)
    noise = rng.uniform(0, 1, (40, 5))
    assert abs(krippendorff_interval(noise, ones)) < 0.1
    # reliability falls as rater noise grows; missing ratings are allowed
    mild = perfect + rng.normal(0, 0.05, perfect.shape)
    loud = perfect + rng.normal(0, 0.3, perfect.shape)
    mask = rng.random(perfect.shape) > 0.2
    assert krippendorff_interval(mild, mask) > 0.9 > krippendorff_interval(loud, mask) > 0.2
    # two raters, hand-computed: units (1, 2), (3, 3): D_o = (2*1)/4 = 0.5, D_e = 2*4*s/12 with s = 2.75
    two = np.array([[1.0, 2.0], [3.0, 3.0]])
    assert krippendorff_interval(two, np.ones_like(two, dtype=bool)) == pytest.approx(1 - 0.5 / (8 * 2.75 / 12))
