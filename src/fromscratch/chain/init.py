"""Is the claimed initialisation a fresh random draw under the declared scheme?

One streaming pass over CKPT_0, one tensor at a time. Each learned tensor gets
the tests of ``randomness`` (random tensors) or an exact check (norms at their
constant, zero biases). All p-values of all tensors form one family, corrected
by Holm's step-down procedure; the initialisation is fresh when no adjusted p
falls below ``ALPHA``. Findings name each failing tensor and test, so a
reviewer sees *why* (e.g. "layers.3.mlp/down: spectrum 4.1x the
Marchenko-Pastur edge").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fromscratch.chain.randomness import Law, law_test, matrix_tests, moment_tests
from fromscratch.chain.scheme import Scheme, expectation, resolve
from fromscratch.multiple_testing import holm

ALPHA = 1e-3
#: storage types whose rounding leaves the tests' nulls intact; quantised storage does not
FLOAT_DTYPES = {"F64", "F32", "F16", "BF16"}
MAX_FINDINGS = 24
MAX_PADDING_ROWS = 16

_DESCRIBE = {
    "mean": "mean {s:.3g} of the std (not centred)",
    "variance": "variance {s:.4g}x the declared",
    "skewness": "skewness {s:.3g}",
    "kurtosis": "kurtosis {s:.4g}",
    "law": "Kolmogorov-Smirnov distance {s:.3g} from the declared law",
    "row-norms": "row norms {s:.3g}x as dispersed as independent draws",
    "column-norms": "column norms {s:.3g}x as dispersed as independent draws",
    "row-correlations": "row correlations {s:.3g}x chance (mean n r^2)",
    "column-correlations": "column correlations {s:.3g}x chance (mean n r^2)",
    "spectrum": "top eigenvalue {s:.3g}x the Marchenko-Pastur edge",
    "constant": "not at its initial constant (max deviation {s:.3g})",
}


def _as_matrix(arr: np.ndarray) -> np.ndarray:
    """Rows = output units; stacked experts and convolution kernels flattened to 2-D (still i.i.d.)."""
    if arr.ndim == 2:
        return arr
    if arr.ndim == 3:  # (experts, out, in)
        return arr.reshape(-1, arr.shape[-1])
    return arr.reshape(arr.shape[0], -1)


def _drop_zero_rows(mat: np.ndarray) -> tuple[np.ndarray, int]:
    """Embeddings zero their padding rows at initialisation; a few exactly-zero rows are set aside."""
    zero = ~np.any(mat != 0, axis=1)
    k = int(zero.sum())
    if 0 < k <= MAX_PADDING_ROWS and k < mat.shape[0] // 8:
        return mat[~zero], k
    return mat, 0


def tensor_tests(arr: np.ndarray, kind: str, role: str, scheme: Scheme) -> tuple[list[tuple[str, float, float]], list[str]]:
    """(tests, notes) for one canonical tensor."""
    exp = expectation(scheme, kind, role, tuple(arr.shape))
    notes: list[str] = []
    if exp.kind == "constant":
        dev = float(np.max(np.abs(arr.astype(np.float64) - exp.value))) if arr.size else 0.0
        return [("constant", dev, 1.0 if dev == 0.0 else 0.0)], notes
    law = exp.law or Law("normal", None)
    if arr.ndim >= 2:
        mat = _as_matrix(arr)
        if kind == "embedding":
            mat, k = _drop_zero_rows(mat)
            if k:
                notes.append(f"{k} exactly-zero row(s) set aside (padding rows are zeroed at initialisation)")
        return matrix_tests(mat, law), notes
    flat = arr.reshape(-1)
    if flat.size < 8:
        return [], [f"{flat.size} values: too few to test"]
    return moment_tests(flat, law) + [law_test(flat, law)], notes


def _finding(name: str, test: str, stat: float, p_adj: float) -> str:
    text = _DESCRIBE.get(test, test + " {s:.3g}").format(s=stat)
    return f"{name}: {text} (Holm-adjusted p = {p_adj:.3g})"


def check_init(location: str, *, scheme_options: list[str] | None = None,
               config: dict[str, Any] | None = None, progress: Any = None) -> dict[str, Any]:
    """The ``init`` section: is CKPT_0 a fresh draw of the declared scheme?"""
    from fromscratch.artifacts import open_model

    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    with open_model(location) as model:
        cfg = config if config is not None else (model.config or {})
        scheme = resolve(cfg, scheme_options)
        if scheme.std is None and scheme.family != "torch-default":
            notes.append("no std declared (no initializer_range, no --init std=): scale not tested, "
                         "each tensor's std estimated from itself")
        for comp in model.components():
            for t in comp.tensors:
                if not t.learned:
                    continue
                name = f"{comp.name}/{t.role}" + (f"[{t.expert}]" if t.expert is not None else "")
                if str(t.dtype).upper() not in FLOAT_DTYPES:
                    notes.append(f"{name}: stored as {t.dtype}; quantised values are not tested (save CKPT_0 "
                                 "in F32/F16/BF16)")
                    continue
                arr = model.load(t)
                tests, tnotes = tensor_tests(arr, comp.kind, t.role, scheme)
                del arr
                notes.extend(f"{name}: {n}" for n in tnotes)
                rows.append({"tensor": name, "shape": list(t.shape),
                             "expected": expectation(scheme, comp.kind, t.role, tuple(t.shape)).note,
                             "tests": [{"test": n, "statistic": float(s), "p": float(p)} for n, s, p in tests]})
                if progress is not None:
                    progress()
    flat = [(r, x) for r in rows for x in r["tests"]]
    adjusted = holm([x["p"] for _, x in flat]) if flat else []
    for (_, x), pa in zip(flat, adjusted):
        x["p_adjusted"] = float(pa)
    p_value = float(min(adjusted, default=1.0))
    failing = sorted(((x["p_adjusted"], r["tensor"], x["test"], x["statistic"]) for r, x in flat
                      if x["p_adjusted"] < ALPHA), key=lambda f: (f[0], f[1], f[2]))
    findings = [_finding(name, test, stat, pa) for pa, name, test, stat in failing[:MAX_FINDINGS]]
    if len(failing) > MAX_FINDINGS:
        findings.append(f"... and {len(failing) - MAX_FINDINGS} more failing tests")
    tested = sum(1 for r in rows if r["tests"])
    return {"fresh": bool(flat) and p_value >= ALPHA, "p_value": p_value, "findings": findings,
            "notes": notes, "scheme": scheme.describe(), "alpha": ALPHA,
            "tensors_tested": tested, "tests": len(flat),
            "failing_tensors": sorted({f[1] for f in failing}),
            "multiple_comparisons": f"Holm over all {len(flat)} tests of all tensors",
            "tensors": rows}
