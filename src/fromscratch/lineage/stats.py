"""The statistics of weight lineage and their null distributions.

Everything here works on small numpy arrays taken from fingerprints (never on
whole models) and is deterministic given a seed. Two families of tests:

* ``unit_test`` -- does a candidate matrix have hidden units that match the
  reference's units coordinate by coordinate in an already aligned residual
  basis? Units are matched on one half of the residual coordinates and the
  match is scored on the other half. Under independence the candidate's law is
  invariant to flipping the sign of any residual coordinate (Gaussian-type
  initialisation is symmetric and the whole training run is sign-equivariant),
  and the matching never looks at the scored half, so the score is a sum of
  terms with independent random signs: Hoeffding's inequality turns it into a
  valid (conservative) p-value without any simulation.
* ``anchor_test`` -- do the residual coordinates of the two models correspond
  at all? Columns of a table whose rows live in a shared, model-independent
  basis (token strings, pixel positions, position indices) are matched on one
  half of the rows and scored on the other half; a coordinate counts only if
  its held-out correlation beats what convergent geometry of independent
  models can produce, and the count gets a sign-test (binomial) null.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from fromscratch.multiple_testing import holm as holm  # re-exported for compare

try:
    # The Boost binomial tail that ``scipy.stats.binom.sf`` itself evaluates (same values,
    # bit for bit; tests/lineage/test_stats.py checks it): importing ``scipy.stats`` costs
    # about 1.5 s of every ``compare``.
    from scipy.special._ufuncs import _binom_sf
except ImportError:  # pragma: no cover - a SciPy without it: the public, slower import
    def _binom_sf(k: float, n: float, p: float) -> float:
        from scipy.stats import binom

        return float(binom.sf(k, n, p))

#: smallest p-value written out (log-space results below this are clipped)
P_FLOOR = 1e-300


def norm_sf(z: float) -> float:
    """Standard normal upper tail; what ``scipy.stats.norm.sf`` computes (``ndtr(-z)``)."""
    return float(special.ndtr(-z))


def norm_isf(p: float) -> float:
    """Standard normal upper quantile; what ``scipy.stats.norm.isf`` computes (``-ndtri(p)``), 0 < p < 1."""
    return float(-special.ndtri(p))


def binom_sf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) > k) for 0 <= k < n, as ``scipy.stats.binom.sf`` computes it."""
    return float(_binom_sf(float(k), float(n), p))


def hoeffding_p(z: float) -> float:
    """One-sided p-value of a Rademacher sum standardised by its root sum of squares."""
    if not np.isfinite(z) or z <= 0:
        return 1.0
    return max(P_FLOOR, math.exp(-0.5 * z * z))


def _unit_rows(a: np.ndarray) -> np.ndarray:
    if a.dtype in (np.float32, np.float64):
        # what np.linalg.norm(a, axis=1) computes for real floats (sqrt of add.reduce of a*a),
        # without its conj() copy: the same floats, one pass fewer
        n = np.sqrt(np.add.reduce(a * a, axis=1, keepdims=True))
    else:
        n = np.linalg.norm(a, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return a / n


def _std_cols(a: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """Scale each residual coordinate to unit RMS so no outlier coordinate dominates.

    A coordinate's RMS does not change when its sign flips, so the sign-flip
    argument of ``unit_test`` still holds after this scaling. ``overwrite``
    scales ``a`` itself (same values, no second array).
    """
    s = np.sqrt(np.mean(a * a, axis=0, keepdims=True))
    s[s == 0] = 1.0
    return np.divide(a, s, out=a if overwrite else None)


@dataclass
class UnitResult:
    """Outcome of one matrix-pair unit test."""

    p_value: float
    z: float
    similarity: float          # median held-out |cos| of matched units, in [0, 1]
    units: int                 # candidate units scored
    coords: int                # scored residual coordinates
    powered: bool              # enough material that a derived copy would be found
    detail: dict = field(default_factory=dict)


#: minimum scored coordinates and units for the unit test to count as powered
MIN_SCORED_COORDS = 40
MIN_UNITS = 8


@dataclass
class PreparedUnits:
    """One side's unit profiles split into the matching and the scored coordinates.

    Rows normalised separately on each half; prepared once per profile and
    alignment so that testing many layer pairs costs one small GEMM each.
    """

    match: np.ndarray   # (units, n_match), unit rows
    score: np.ndarray   # (units, n_scored), unit rows


def split_coords(o: int, seed: int, n_match: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A data-independent split of o aligned coordinates into matching and scored halves."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(o)
    n1 = min(n_match, max(16, o // 3))
    return np.sort(order[:n1]), np.sort(order[n1:])


def prepare_units(x: np.ndarray, c1: np.ndarray, c2: np.ndarray, *, max_units: int | None = None,
                  seed: int = 0) -> PreparedUnits:
    x = _std_cols(np.asarray(x, dtype=np.float32))
    if max_units is not None and x.shape[0] > max_units:
        keep = np.sort(np.random.default_rng(seed).choice(x.shape[0], size=max_units, replace=False))
        x = x[keep]
    return PreparedUnits(_unit_rows(x[:, c1]), _unit_rows(x[:, c2]))


def unit_test_prepared(pc: PreparedUnits, pr: PreparedUnits, *, light: bool = False) -> UnitResult:
    """The matched-unit sign-flip test on prepared profiles (see module docstring).

    ``light`` skips the descriptive similarity (a median), for screening.
    """
    hc, n2 = pc.score.shape
    if pc.match.shape[1] < 4 or n2 < 4 or hc == 0 or pr.match.shape[0] == 0:
        return UnitResult(1.0, 0.0, 0.0, int(hc), int(n2), False)
    sim1 = pc.match @ pr.match.T
    idx = argmax_abs(sim1)
    sgn = np.sign(sim1[np.arange(hc), idx])
    sgn[sgn == 0] = 1.0
    contrib = sgn[:, None] * pc.score * pr.score[idx]
    per_coord = contrib.sum(axis=0, dtype=np.float64)
    denom = float(np.sqrt(np.sum(per_coord ** 2)))
    z = float(per_coord.sum()) / denom if denom > 0 else 0.0
    powered = n2 >= MIN_SCORED_COORDS and hc >= MIN_UNITS
    if light:
        return UnitResult(hoeffding_p(z), z, 0.0, int(hc), int(n2), powered)
    cos2 = contrib.sum(axis=1)
    return UnitResult(hoeffding_p(z), z, float(np.clip(np.median(cos2), 0.0, 1.0)), int(hc), int(n2), powered,
                      {"matched_fraction_positive": float(np.mean(cos2 > 0))})


def unit_test(xc: np.ndarray, yr: np.ndarray, *, seed: int, n_match: int = 64,
              max_units: int = 256) -> UnitResult:
    """Matched-unit test between candidate profiles ``xc`` and reference profiles ``yr``.

    ``xc`` is (h_c, o) and ``yr`` (h_r, o): rows are hidden units, columns the o
    residual coordinates already aligned between the models (same column =
    same coordinate under the hypothesised correspondence, signs corrected).
    A seeded split puts up to ``n_match`` coordinates into the matching half
    (argmax |cos| over reference units) and the rest into the scored half.
    Each scored coordinate contributes one term to the statistic; under
    independence its sign is a fair coin, so z = sum / sqrt(sum of squares)
    has the Hoeffding tail exp(-z^2/2).
    """
    o = np.asarray(xc).shape[1]
    c1, c2 = split_coords(o, seed, n_match)
    pc = prepare_units(xc, c1, c2, max_units=max_units, seed=seed + 1)
    pr = prepare_units(yr, c1, c2)
    return unit_test_prepared(pc, pr)


@dataclass
class AnchorResult:
    """Outcome of the residual-correspondence test on an anchor table."""

    p_value: float
    z: float
    similarity: float             # median held-out signed correlation of matched columns, clipped to [0, 1]
    rows: int                     # shared anchor rows used
    mapping: np.ndarray | None    # candidate coord -> reference coord (argmax on all rows)
    signs: np.ndarray | None
    confident: np.ndarray | None  # candidate coords whose held-out match clears the allowance
    powered: bool
    detail: dict = field(default_factory=dict)


#: minimum shared rows (tokens, pixels, positions) for the anchor test to have power
MIN_ANCHOR_ROWS = 64
#: minimum candidate coordinates: 0.1**7 < 1e-6, so a full match can reach the threshold
MIN_ANCHOR_COORDS = 8
#: bound on the chance that one coordinate of an independent model clears the allowance
ANCHOR_NULL_RATE = 0.1


def _zcols(a: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """Columns centred and scaled to unit norm; ``overwrite`` does it in ``a`` itself (same values)."""
    a = np.subtract(a, a.mean(axis=0, keepdims=True), out=a if overwrite else None)
    s = np.linalg.norm(a, axis=0, keepdims=True)
    s[s == 0] = 1.0
    return np.divide(a, s, out=a if overwrite else None)


def argmax_abs(x: np.ndarray) -> np.ndarray:
    """``np.argmax(np.abs(x), axis=1)`` for a 2-D array, without the |x| temporary.

    The first index of the largest |value| in a row is the first index of the row's
    maximum or of its minimum, whichever is larger in absolute value, the smaller
    of the two on a tie; a NaN wins in both, as in ``argmax``. Two read-only passes
    instead of writing and reading a copy of ``x``.
    """
    hi = np.argmax(x, axis=1)
    lo = np.argmin(x, axis=1)
    rows = np.arange(x.shape[0])
    a_hi, a_lo = np.abs(x[rows, hi]), np.abs(x[rows, lo])
    return np.where(a_lo > a_hi, lo, np.where(a_hi > a_lo, hi, np.minimum(hi, lo)))


#: dominant directions removed from each anchor table before matching
DEFLATE_MAX = 32


def whiten(a: np.ndarray) -> np.ndarray:
    """Remove each anchor table's dominant directions (top principal components).

    Independent models share a few dominant directions (token frequency, a
    common low-rank structure); left in, one such direction makes many
    coordinates of one model correlate strongly with one coordinate of the
    other. Projecting out the top k = min(32, d/8) principal directions commutes
    with permutations and sign flips of coordinates (the projector transforms
    as Q^T P Q), so a disguised copy stays a disguised copy. The subspace is
    found by a seeded randomized range finder with two power iterations (cost
    O(n d k) instead of an O(d^3) eigendecomposition).
    """
    a = np.array(a, dtype=np.float64)          # our own copy, centred and deflated in place
    a -= a.mean(axis=0, keepdims=True)
    n, d = a.shape
    k = min(DEFLATE_MAX, d // 8, max(n - 2, 0))
    if k < 1:
        return a
    rng = np.random.default_rng(d * 7919 + n)
    y = a.T @ (a @ rng.standard_normal((d, k + 8)))
    for _ in range(2):
        y, _ = np.linalg.qr(y)
        y = a.T @ (a @ y)
    q, _ = np.linalg.qr(y)                      # d x (k+8), spans the top right-singular space
    _, _, vt = np.linalg.svd(a @ q, full_matrices=False)
    v = q @ vt[:k].T                            # d x k, top principal directions
    a -= (a @ v) @ v.T
    return a


def convergence_allowance(d_ref: int, n_scored: int) -> float:
    """How well a coordinate of an independent model can match one of the reference's.

    Independently trained models may share geometry up to an arbitrary linear
    map A; a single coordinate then correlates with a single reference
    coordinate at most about max_j |A_ij|, which for a generic (rotation-like)
    map is sqrt(2 ln d / d). Sampling noise on n rows adds about 3/sqrt(n).
    A floor of 0.25 keeps the allowance meaningful for wide models.
    """
    d = max(int(d_ref), 2)
    return float(min(0.95, max(0.25, math.sqrt(2 * math.log(d) / d)) + 3 / math.sqrt(max(n_scored, 1))))


def anchor_test(ec: np.ndarray, er: np.ndarray, *, seed: int, whitened: bool = False) -> AnchorResult:
    """Residual-coordinate correspondence between two anchor tables.

    ``ec`` (n, d_c) and ``er`` (n, d_r) hold the same n anchor rows (same tokens,
    pixels or positions) in each model's own residual coordinates. Each
    candidate coordinate is matched to a reference coordinate (argmax |corr|)
    on one half of the rows and scored (signed correlation) on the other half.
    The null hypothesis allows independent models to share geometry up to an
    arbitrary linear map, so a held-out correlation up to the
    ``convergence_allowance`` is not evidence; the statistic is the number of
    coordinates above it. Under the null a coordinate clears the allowance only
    through a 3-sigma sampling excursion on top of a maximal convergent match;
    we bound that probability by ``ANCHOR_NULL_RATE`` (0.1, some thirty times
    the Gaussian 3-sigma rate) and take p = P(Binomial(d_c, 0.1) >= count).
    A few privileged coordinates (outlier dimensions) that do match across
    independent models move this count by a few units only.

    ``whitened=True`` says both tables already went through ``whiten`` (a caller
    testing one table against several whitens it once).
    """
    ec = np.asarray(ec, dtype=np.float64)
    er = np.asarray(er, dtype=np.float64)
    n, dc = ec.shape
    dr = er.shape[1]
    if n < 8 or dc < 2 or dr < 2:
        return AnchorResult(1.0, 0.0, 0.0, n, None, None, None, False, {"reason": "too few shared rows"})
    if not whitened:
        ec, er = whiten(ec), whiten(er)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    r1, r2 = np.sort(order[: n // 2]), np.sort(order[n // 2:])
    f32 = np.float32
    c1 = _zcols(ec[r1], overwrite=True).astype(f32).T @ _zcols(er[r1], overwrite=True).astype(f32)  # dc x dr
    c2 = _zcols(ec[r2], overwrite=True).astype(f32).T @ _zcols(er[r2], overwrite=True).astype(f32)  # 2nd half
    rows = np.arange(dc)
    idx = argmax_abs(c1)
    sgn = np.sign(c1[rows, idx])
    sgn[sgn == 0] = 1.0
    held = (sgn * c2[rows, idx]).astype(np.float64)   # signed held-out correlation with the partner
    allow = convergence_allowance(dr, len(r2))
    count = int(np.sum(held > allow))
    p = binom_sf(count - 1, dc, ANCHOR_NULL_RATE) if count > 0 else 1.0
    p = max(P_FLOOR, p)
    both = c1 + c2
    mapping = argmax_abs(both)
    signs = np.sign(both[rows, mapping]).astype(np.float64)
    signs[signs == 0] = 1.0
    # a coordinate is usable for aligning blocks when both halves agree on its partner
    idx2 = argmax_abs(c2)
    confident = np.flatnonzero((held > allow) & (idx == idx2) & (idx == mapping))
    z = norm_isf(p) if p < 0.5 else 0.0
    sim = float(np.clip(np.median(held), 0.0, 1.0))
    return AnchorResult(p, z, sim, n, mapping, signs, confident,
                        n >= MIN_ANCHOR_ROWS and dc >= MIN_ANCHOR_COORDS,
                        {"coordinates_matched": count, "coordinates": dc, "allowance": allow})


@dataclass
class NormResult:
    """Norm weights: the naive cosine next to the calibrated statistic."""

    naive_cosine: float | None
    centred_correlation: float
    p_value: float
    n: int


def norm_test(gc: np.ndarray, gr: np.ndarray) -> NormResult:
    """Centred correlation of two aligned norm vectors with a Fisher-z null.

    Positive-mean vectors have cosine near 1 whatever their origin; what
    shared origin leaves is the per-coordinate deviation from the mean, whose
    correlation is ~N(0, 1/(n-3)) on the Fisher scale when coordinates are
    exchangeable (independent models).
    """
    gc = np.asarray(gc, dtype=np.float64)
    gr = np.asarray(gr, dtype=np.float64)
    n = len(gc)
    nc = float(np.linalg.norm(gc) * np.linalg.norm(gr))
    naive = float(gc @ gr / nc) if nc > 0 else None
    a, b = gc - gc.mean(), gr - gr.mean()
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    if n < 8 or den == 0:
        return NormResult(naive, 0.0, 1.0, n)
    r = float(np.clip(a @ b / den, -0.999999, 0.999999))
    z = math.atanh(r) * math.sqrt(n - 3)
    return NormResult(naive, r, max(P_FLOOR, norm_sf(z)), n)


def norm_group_test(xs: list[np.ndarray], ys: list[np.ndarray]) -> tuple[float, float, list[NormResult]]:
    """Several norm vectors of one component (attn_norm, mlp_norm ...) tested together.

    Each pair gives z_i = atanh(r_i) sqrt(n-3). Under independence, with
    coordinates exchangeable, cov(z_i, z_j) is about Rc_ij * Rr_ij, the product of
    the within-model correlations of vectors i and j (estimated from the two
    models themselves), so Z = sum z_i / sqrt(sum_ij Rc_ij Rr_ij) is ~N(0, 1):
    a Stouffer combination that does not assume the vectors independent.
    """
    per = [norm_test(x, y) for x, y in zip(xs, ys)]
    k = len(per)
    if k == 0:
        return 1.0, 0.0, per
    zs = []
    for res in per:
        r = float(np.clip(res.centred_correlation, -0.999999, 0.999999))
        zs.append(math.atanh(r) * math.sqrt(max(res.n - 3, 1)) if res.n >= 8 else 0.0)
    if k == 1:
        return per[0].p_value, zs[0], per

    def corr_matrix(vs: list[np.ndarray]) -> np.ndarray:
        m = np.stack([v - v.mean() for v in vs]).astype(np.float64)
        nrm = np.linalg.norm(m, axis=1, keepdims=True)
        nrm[nrm == 0] = 1.0
        m = m / nrm
        return m @ m.T

    var = float(np.sum(corr_matrix(xs) * corr_matrix(ys)))
    z = float(sum(zs) / math.sqrt(max(var, 1e-12)))
    return max(P_FLOOR, norm_sf(z)), z, per


def bonferroni_min(ps: list[float]) -> float:
    """min p times the number of tests: valid under any dependence."""
    if not ps:
        return 1.0
    return float(min(1.0, min(ps) * len(ps)))


def monotone_layer_map(evidence: np.ndarray) -> list[int]:
    """Map each candidate layer to a reference layer by dynamic programming.

    ``evidence[i, j]`` is how strongly candidate layer i matches reference layer
    j (e.g. -log10 p). The path is non-decreasing in j, so it represents
    pruning (reference layers skipped), duplication / depth up-scaling (a
    reference layer used several times) and plain fine-tuning (the diagonal),
    but never a reordering, which real derivations do not produce.
    """
    lc, lr = evidence.shape
    if lc == 0 or lr == 0:
        return []
    score = np.full((lc, lr), -np.inf)
    back = np.zeros((lc, lr), dtype=int)
    score[0] = evidence[0]
    for i in range(1, lc):
        best = np.maximum.accumulate(score[i - 1])
        arg = np.zeros(lr, dtype=int)
        cur = 0
        for j in range(lr):
            if score[i - 1, j] >= score[i - 1, cur]:
                cur = j
            arg[j] = cur
        score[i] = best + evidence[i]
        back[i] = arg
    path = [int(np.argmax(score[-1]))]
    for i in range(lc - 1, 0, -1):
        path.append(int(back[i, path[-1]]))
    return path[::-1]
