"""Tests that one weight matrix is a single draw of independent values from a declared law.

A fresh initialisation is i.i.d. noise: every entry drawn independently from
one distribution (normal, uniform, truncated normal) with a known scale. Each
test below has that as its null and a distribution that holds without any
tuning, so its p-value is valid for any matrix shape:

* **moments** -- mean, variance (against the declared scale, beyond a 2 %
  equivalence margin), skewness and
  kurtosis (delta-method variances from the law's own moments);
* **law** -- Kolmogorov-Smirnov against the declared law (on a fixed sample of
  at most ``KS_SAMPLE`` values);
* **row / column norms** -- squared row norms of an i.i.d. matrix all have the
  same mean and a known variance; trained units do not (some grow, some die);
* **row / column correlations** -- cosine similarities between distinct rows
  are centred with variance ``1/n``; their summed squares have a known mean
  and variance (pairs are pairwise independent under the null);
* **spectrum** -- the largest eigenvalue of ``W W^T`` (of a fixed block of at
  most 1,024 x 2,048 entries) sits at the
  Marchenko-Pastur edge with Tracy-Widom fluctuations (Johnstone's centring
  and scaling, Chiani's gamma approximation of TW1). Learned structure
  (low-rank signal from training) shows as spikes beyond the edge; it
  survives any permutation of rows and columns, and noise added on top.

Every function returns ``(name, statistic, p)`` triples; the caller corrects
for multiplicity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

KS_SAMPLE = 100_000
CORR_UNITS = 256
VARIANCE_MARGIN = 0.02          # relative variance deviation tolerated before the variance test counts
SPECTRUM_ROWS, SPECTRUM_COLS = 1024, 2048   # largest block whose spectrum is computed (shorter side first)
CHUNK = 1 << 22                        # values per chunk of the streaming moment sums

#: Chiani (2014): TW1 ~ Gamma(k, theta) - alpha
_TW_K, _TW_THETA, _TW_ALPHA = 46.446, 0.186054, 9.84801


@dataclass(frozen=True)
class Law:
    """The declared distribution of one tensor's entries."""

    family: str            # normal | uniform | truncated-normal
    std: float | None      # standard deviation of the entries; None = not declared (estimated)
    truncation: float = 2.0  # truncated-normal: cut at +-truncation * sigma-parameter

    def frozen(self, std: float):
        """A scipy distribution with this family and standard deviation ``std``."""
        if self.family == "normal":
            return stats.norm(0.0, std)
        if self.family == "uniform":
            a = std * math.sqrt(3.0)
            return stats.uniform(-a, 2 * a)
        if self.family == "truncated-normal":
            c = self.truncation
            unit = stats.truncnorm(-c, c).std()
            return stats.truncnorm(-c, c, scale=std / unit)
        raise ValueError(self.family)

    def standard_moments(self) -> dict[int, float]:
        """E[x^k] / sd^k for k = 2..8 (odd ones are zero: every family is symmetric)."""
        d = self.frozen(1.0)
        return {k: float(d.moment(k)) for k in (2, 4, 6, 8)}


def _two_sided(z: float) -> float:
    return float(2 * stats.norm.sf(abs(z)))


def _upper(z: float) -> float:
    return float(stats.norm.sf(z))


def power_sums(a: np.ndarray) -> tuple[int, list[float]]:
    """(n, [sum x, sum x^2, sum x^3, sum x^4]): float32 products per chunk (BLAS dot), float64 totals."""
    flat = a.reshape(-1)
    sums = [0.0, 0.0, 0.0, 0.0]
    for s in range(0, flat.size, CHUNK):
        x = np.ascontiguousarray(flat[s:s + CHUNK], dtype=np.float32)
        x2 = x * x
        sums[0] += float(x.sum(dtype=np.float64))
        sums[1] += float(x2.sum(dtype=np.float64))
        sums[2] += float(np.dot(x2, x))
        sums[3] += float(np.dot(x2, x2))
    return flat.size, sums


def moment_tests(a: np.ndarray, law: Law) -> list[tuple[str, float, float]]:
    """Mean, variance, skewness and kurtosis against the law (delta-method null variances)."""
    n, (s1, s2, s3, s4) = power_sums(a)
    mean = s1 / n
    m2 = s2 / n - mean ** 2
    m3 = s3 / n - 3 * mean * s2 / n + 2 * mean ** 3
    m4 = s4 / n - 4 * mean * s3 / n + 6 * mean ** 2 * s2 / n - 3 * mean ** 4
    mu = law.standard_moments()
    sd = law.std if law.std is not None else math.sqrt(max(m2, 1e-300))
    out = [("mean", mean / sd, _two_sided(mean / (sd / math.sqrt(n))))]
    if law.std is not None:
        # equivalence margin: storage rounding (BF16 truncation shrinks |x| by ~0.4 %) and a declared
        # std rounded in the config must not fail a genuine init; only a deviation beyond it counts
        excess = max(0.0, abs(m2 / sd ** 2 - 1.0) - VARIANCE_MARGIN)
        z = excess / math.sqrt((mu[4] - 1.0) / n)
        out.append(("variance", m2 / sd ** 2, _two_sided(z) if excess > 0 else 1.0))
    if m2 <= 0:
        return out + [("skewness", 0.0, 0.0), ("kurtosis", 0.0, 0.0)]
    skew = m3 / m2 ** 1.5
    var_skew = (mu[6] - 6 * mu[4] + 9) / n
    out.append(("skewness", skew, _two_sided(skew / math.sqrt(var_skew))))
    kurt = m4 / m2 ** 2
    # delta method for m4 / m2^2 around the law's moments (mean known to be 0 at this order)
    var_kurt = ((mu[8] - mu[4] ** 2) + (2 * mu[4]) ** 2 * (mu[4] - 1) - 2 * 2 * mu[4] * (mu[6] - mu[4])) / n
    out.append(("kurtosis", kurt, _two_sided((kurt - mu[4]) / math.sqrt(max(var_kurt, 1e-300)))))
    return out


def _fixed_sample(n: int, k: int) -> np.ndarray:
    """``k`` evenly spread positions out of ``n`` (deterministic, shape-only)."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).astype(np.int64))


def law_test(a: np.ndarray, law: Law) -> tuple[str, float, float]:
    """Kolmogorov-Smirnov against the declared law (std estimated if not declared: conservative)."""
    flat = a.reshape(-1)
    x = flat[_fixed_sample(flat.size, KS_SAMPLE)].astype(np.float64)
    sd = law.std if law.std is not None else float(x.std()) or 1.0
    res = stats.kstest(x, law.frozen(sd).cdf)
    return ("law", float(res.statistic), float(res.pvalue))


def unit_norms(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Squared row norms, squared column norms, mean square and mean fourth power (chunks of rows)."""
    m, n = a.shape
    rows = np.empty(m, dtype=np.float64)
    cols = np.zeros(n, dtype=np.float64)
    s4 = 0.0
    step = max(1, CHUNK // max(n, 1))
    for i in range(0, m, step):
        x2 = np.square(a[i:i + step], dtype=np.float32)
        rows[i:i + step] = x2.sum(axis=1, dtype=np.float64)
        cols += x2.sum(axis=0, dtype=np.float64)
        flat = x2.reshape(-1)
        s4 += float(np.dot(flat, flat))
    return rows, cols, float(rows.sum()) / a.size, s4 / a.size


def norm_dispersion(r: np.ndarray, n: int, m2: float, m4: float) -> tuple[float, float]:
    """Spread of squared unit norms ``r`` (each a sum of ``n`` entries) against i.i.d. entries: (ratio, p).

    Each squared norm sums ``n`` i.i.d. squares: variance ``n (m4 - m2^2)``,
    with the entries' own moments estimated from the whole matrix, so the test
    needs no declared law. ``D = sum (r_i - mean r)^2 / var`` is chi-square on
    ``m - 1`` degrees of freedom; its variance is inflated by the kurtosis of a
    sum of ``n`` squares (``2 + 12/n`` per term for normal entries).
    """
    m = r.size
    var = n * max(m4 - m2 * m2, 1e-300)
    d = float(np.sum((r - r.mean()) ** 2)) / var
    z = (d - (m - 1)) / math.sqrt((m - 1) * (2.0 + 12.0 / n))
    return d / (m - 1), _upper(z)


def correlation_test(a: np.ndarray, axis: int) -> tuple[float, float]:
    """Summed squared cosines between up to ``CORR_UNITS`` fixed rows (axis=1) or columns: (mean n r^2, p)."""
    idx = _fixed_sample(a.shape[0] if axis == 1 else a.shape[1], CORR_UNITS)
    # columns gathered row by row (np.take on axis 1): the same values as a.T[idx], without a strided walk
    u = (a[idx] if axis == 1 else np.take(a, idx, axis=1).T).astype(np.float64)
    norms = np.linalg.norm(u, axis=1)
    u = u[norms > 0] / norms[norms > 0, None]
    k, n = u.shape
    if k < 2:
        return 1.0, 1.0
    g = u @ u.T
    pairs = k * (k - 1) / 2
    t = (float(np.sum(g * g)) - k) / 2 * n
    var = pairs * 2.0 * (n - 1) / (n + 2)
    return t / pairs, _upper((t - pairs) / math.sqrt(var))


def spectrum_block(a: np.ndarray) -> np.ndarray:
    """A fixed sub-matrix of at most ``SPECTRUM_ROWS`` x ``SPECTRUM_COLS`` (rows the shorter side).

    A sub-matrix of an i.i.d. matrix is i.i.d., so the null is unchanged; a
    learned spike loses a factor sqrt(kept / total) of its margin over the edge,
    which trained weights have many times over. It bounds the cost to one
    1,024-square eigenproblem per tensor.
    """
    if a.shape[0] > a.shape[1]:
        a = a.T
    m, n = a.shape
    rows = _fixed_sample(m, SPECTRUM_ROWS)
    cols = _fixed_sample(n, SPECTRUM_COLS)
    return np.asarray(a[np.ix_(rows, cols)], dtype=np.float32)


def top_eigenvalue(a: np.ndarray) -> float:
    """Largest eigenvalue of ``A A^T`` (``A`` with rows the shorter side); float32 Gram, float64 solve."""
    return float(np.linalg.eigvalsh((a @ a.T).astype(np.float64))[-1])


def spectrum_test(a: np.ndarray, std: float) -> tuple[float, float]:
    """Top eigenvalue of ``W W^T`` against the Marchenko-Pastur edge: (ratio to the edge, TW1 p)."""
    block = spectrum_block(a)
    p, q = block.shape
    lam = top_eigenvalue(block) / (std * std)
    a_, b_ = math.sqrt(q - 1), math.sqrt(p)
    mu = (a_ + b_) ** 2
    sigma = (a_ + b_) * (1 / a_ + 1 / b_) ** (1 / 3)
    s = (lam - mu) / sigma
    p_value = float(stats.gamma.sf(s + _TW_ALPHA, _TW_K, scale=_TW_THETA))
    return lam / mu, p_value


def matrix_tests(a: np.ndarray, law: Law) -> list[tuple[str, float, float]]:
    """Every test above on one 2-D matrix (rows = output units)."""
    out = moment_tests(a, law)
    out.append(law_test(a, law))
    m, n = a.shape
    if m >= 8 and n >= 8:
        rows, cols, m2, m4 = unit_norms(a)
        out.append(("row-norms", *norm_dispersion(rows, n, m2, m4)))
        out.append(("column-norms", *norm_dispersion(cols, m, m2, m4)))
        out.append(("row-correlations", *correlation_test(a, 1)))
        out.append(("column-correlations", *correlation_test(a, 0)))
        sd = law.std if law.std is not None else math.sqrt(m2) or 1.0
        out.append(("spectrum", *spectrum_test(a, sd)))
    return out
