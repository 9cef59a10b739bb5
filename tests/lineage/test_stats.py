"""The statistics alone, on synthetic matrices: nulls hold, disguises do not hide reuse."""

from __future__ import annotations

import numpy as np
import pytest

from fromscratch.lineage import stats


def _trained_like(rng, h, d):
    w = rng.standard_t(4, size=(h, d)) * 0.02
    w += (rng.standard_normal((h, 6)) @ rng.standard_normal((6, d))) * 0.01
    w[:, rng.choice(d, 3, replace=False)] *= 5
    return w


def test_unit_test_null_is_not_anticonservative():
    rng = np.random.default_rng(0)
    ps = np.array([stats.unit_test(_trained_like(rng, 300, 128), _trained_like(rng, 300, 128), seed=s).p_value
                   for s in range(120)])
    assert ps.min() > 1e-4
    assert np.mean(ps < 0.05) <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / len(ps))


@pytest.mark.parametrize("noise", [0.5, 2.0, 3.0])
def test_unit_test_finds_permuted_noised_copy(noise):
    rng = np.random.default_rng(1)
    a = _trained_like(rng, 400, 192)
    b = a[rng.permutation(400)] + noise * 0.02 * rng.standard_normal(a.shape)
    b[rng.random(400) < 0.5] *= -1  # unit sign flips
    res = stats.unit_test(b, a, seed=3)
    assert res.p_value < 1e-6 and res.powered


def test_unit_test_survives_width_pruning():
    rng = np.random.default_rng(2)
    a = _trained_like(rng, 400, 192)
    keep = np.sort(rng.choice(400, 200, replace=False))
    assert stats.unit_test(a[keep], a, seed=0).p_value < 1e-6


def test_anchor_test_null_and_power():
    rng = np.random.default_rng(3)
    d, n = 96, 1200
    nulls = []
    for s in range(20):
        shared = rng.standard_normal((n, 8))
        e1 = shared @ rng.standard_normal((8, d)) + rng.standard_normal((n, d))
        e2 = shared @ rng.standard_normal((8, d)) + rng.standard_normal((n, d))  # convergent geometry, no reuse
        nulls.append(stats.anchor_test(e1, e2, seed=s).p_value)
    assert min(nulls) > 0.01
    e = rng.standard_normal((n, d))
    perm, sg = rng.permutation(d), rng.choice([-1.0, 1.0], d)
    res = stats.anchor_test(e[:, perm] * sg + 0.8 * rng.standard_normal((n, d)), e, seed=0)
    assert res.p_value < 1e-6
    assert np.mean(res.mapping == perm) > 0.95
    assert np.all(res.signs[res.confident] == sg[res.confident])


def test_layernorm_trap_cosine_is_not_evidence():
    """Two independent positive-mean norm vectors: cosine ~0.99, calibrated p large."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(0.35, 0.04, 4096), rng.normal(0.95, 0.10, 4096)
    res = stats.norm_test(a, b)
    assert res.naive_cosine > 0.98
    assert res.p_value > 0.01
    derived = stats.norm_test(a + rng.normal(0, 0.01, 4096), a)
    assert derived.p_value < 1e-6


def test_holm_and_bonferroni():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.bonferroni_min([0.2, 0.001]) == pytest.approx(0.002)


def test_monotone_layer_map_handles_pruning_and_duplication():
    ev = np.zeros((4, 3))
    for i, j in enumerate([0, 1, 1, 2]):  # depth up-scaling: layer 1 used twice
        ev[i, j] = 10
    assert stats.monotone_layer_map(ev) == [0, 1, 1, 2]
    ev = np.zeros((2, 4))
    ev[0, 0] = ev[1, 3] = 10  # pruning
    assert stats.monotone_layer_map(ev) == [0, 3]


def test_norm_group_test_accounts_for_within_model_dependence():
    """Two strongly related norm vectors per model: the combined z must stay ~N(0, 1) under independence."""
    rng = np.random.default_rng(5)
    zs = []
    for _ in range(300):
        base_c, base_r = rng.normal(size=256), rng.normal(size=256)
        xs = [1 + 0.05 * base_c, 1 + 0.05 * (base_c + 0.3 * rng.normal(size=256))]
        ys = [0.5 + 0.02 * base_r, 0.5 + 0.02 * (base_r + 0.3 * rng.normal(size=256))]
        zs.append(stats.norm_group_test(xs, ys)[1])
    zs = np.array(zs)
    assert abs(zs.std() - 1.0) < 0.15 and np.mean(zs > 2.326) < 0.03
    shared = rng.normal(size=256)
    p, z, _ = stats.norm_group_test([1 + 0.05 * shared, 1 + 0.05 * (shared + rng.normal(size=256))],
                                    [1 + 0.05 * shared + 0.1 * rng.normal(size=256), 1 + 0.05 * rng.normal(size=256)])
    assert p < 1e-6


def test_tails_match_scipy_stats_bit_for_bit():
    """The scipy.special tails used instead of importing scipy.stats give the same floats."""
    from scipy import stats as sps

    for dc in (2, 8, 64, 577, 2048, 5000):
        for count in sorted({1, 2, 3, dc // 10, dc // 10 + 1, dc // 5, dc // 2, dc - 1, dc} - {0}):
            assert stats.binom_sf(count - 1, dc, stats.ANCHOR_NULL_RATE) == float(
                sps.binom.sf(count - 1, dc, stats.ANCHOR_NULL_RATE))
    zs = np.random.default_rng(0).normal(0, 8, 500).tolist() + [0.0, 37.5, -37.5, 1e4]
    assert [stats.norm_sf(z) for z in zs] == [float(sps.norm.sf(z)) for z in zs]
    ps = (10.0 ** np.random.default_rng(1).uniform(-300, np.log10(0.5), 500)).tolist() + [1e-300, 0.49]
    assert [stats.norm_isf(p) for p in ps] == [float(sps.norm.isf(p)) for p in ps]


@pytest.mark.parametrize("units,coords,kept", [(300, 190, 150), (5, 40, 40), (64, 12, 1), (1, 30, 7)])
def test_aligned_profile_is_the_unpacked_slice(units, coords, kept):
    """compare's cheaper profile slicing: same float32 bits and the same memory layout as before."""
    from fromscratch.lineage.alignment import aligned_profile as _aligned_profile
    from fromscratch.lineage.fingerprint import unpack_profile
    from fromscratch.lineage.fingerprint_q8 import q8 as _q8

    rng = np.random.default_rng(units + coords)
    raw = rng.standard_normal((units, coords)).astype(np.float32)
    raw[0] = 0.0  # an all-zero unit (scale fallback)
    pos = np.sort(rng.choice(coords, kept, replace=False))
    signs = np.where(rng.random(kept) < 0.5, -1.0, 1.0).astype(np.float32)
    for p in (_q8(raw), raw):
        for sg in (signs, None):
            want = unpack_profile(p)[:, pos] * (np.ones(kept, np.float32) if sg is None else sg)[None, :]
            got = _aligned_profile(p, pos, sg)
            # strides of length-1 axes mean nothing; the others fix every later reduction order
            layout = [(st, n) for st, n in zip(want.strides, want.shape) if n > 1]
            assert got.dtype == want.dtype and [(st, n) for st, n in zip(got.strides, got.shape) if n > 1] == layout
            assert np.array_equal(got.view(np.int32), want.view(np.int32))


def test_argmax_abs_is_argmax_of_abs():
    """Ties between +m and -m, signed zeros, NaN and infinities pick what argmax(|x|) picks."""
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 4, size=(4000, 9)).astype(np.float32)  # many ties
    x[::7] = 0.0
    x[1::7] = -0.0
    x[2::11, 3] = np.nan
    x[3::13, 5] = -np.inf
    x[4::13, 1] = np.inf
    x[5::13, 2] = -np.inf
    y = rng.standard_normal((300, 5000)).astype(np.float32)
    for a in (x, y, x.astype(np.float64), -x):
        assert np.array_equal(stats.argmax_abs(a), np.argmax(np.abs(a), axis=1))


def test_cheaper_row_and_profile_helpers_give_the_same_floats():
    """``_unit_rows``, ``unpack_profile`` and the views' row picking: the bits of the plain formulas."""
    from fromscratch.lineage import views
    from fromscratch.lineage.fingerprint import unpack_profile
    from fromscratch.lineage.fingerprint_q8 import q8 as _q8

    rng = np.random.default_rng(5)
    for shape in [(1536, 192), (64, 96), (7, 3)]:
        a = rng.standard_normal(shape).astype(np.float32)
        a[0] = 0.0
        n = np.linalg.norm(a, axis=1, keepdims=True)
        n[n == 0] = 1.0
        assert np.array_equal(stats._unit_rows(a), a / n)
        p = _q8(a)
        plain = p[:, 4:].astype(np.float32) * np.ascontiguousarray(p[:, :4]).view(np.float32)
        assert np.array_equal(unpack_profile(p), plain)
        rows = np.sort(rng.choice(shape[0], min(5, shape[0]), replace=False))
        got, want = views._picked_unit_rows(a, rows), views._unit_rows(a)[rows]
        assert np.array_equal(got, want) and got.flags["C_CONTIGUOUS"]
    keys = np.array([3, 1, 3, 2, 1, 0])
    assert views._first_rows(keys, np.array([0, 1, 3])).tolist() == [5, 1, 0]
    assert views._first_rows(keys, np.array([4])) is None


@pytest.mark.parametrize("d", [256, 576, 2048])
def test_string_less_models_keep_enough_coordinates(d):
    """Without token strings the hashed coordinate choice cannot match a model with strings: keep (nearly) all."""
    from fromscratch.lineage.fingerprint import FIXED_COORDS, STRINGLESS_COORDS, _select_coords

    rng = np.random.default_rng(d)
    keys = rng.integers(0, 1 << 62, 2048)
    rows = rng.standard_normal((2048, d)).astype(np.float32)
    with_strings = _select_coords(keys, rows)
    without = _select_coords(keys, rows, string_less=True)
    assert len(with_strings) < 0.6 * d or d <= 256
    if d <= STRINGLESS_COORDS:
        assert without.tolist() == list(range(d))
    else:
        assert set(range(FIXED_COORDS)) <= set(without.tolist())
        assert abs(len(without) - STRINGLESS_COORDS) < 0.1 * STRINGLESS_COORDS
