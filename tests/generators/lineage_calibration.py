"""Empirical calibration of lineage on known-independent pairs (the false-positive bank).

Every pair of models listed here is independent by construction (different
seeds, different tokenizers, different organisations). For each pair we collect
every component-pair p-value the tool computes (``Comparison.pair_pvalues``)
and count how many fall below the decision threshold and below the nominal
levels 0.05 / 0.01 / 0.001 (a calibrated or conservative test has at most that
share). ``benchmarks/calibrate_lineage.py`` runs the full bank and writes the
counts that docs/lineage.md reports; the test suite runs a smaller one.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

from fromscratch.lineage.compare import DERIVED_P, Comparison
from fromscratch.lineage.fingerprint import Fingerprint, build_fingerprint
from tests.generators import lineage_synthetic as synthetic


def bank_pvalues(pairs: list[tuple[str, Fingerprint, Fingerprint]], *, seed: int = 0) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for source, a, b in pairs:
        for item in Comparison(a, b, seed=seed).pair_pvalues():
            item["source"] = source
            rows.append(item)
    return rows


def synthetic_pairs(n_models: int, workdir: Path, shape: synthetic.Shape = synthetic.Shape()) -> list[tuple[str, Fingerprint, Fingerprint]]:
    fps = []
    for s in range(n_models):
        path = synthetic.write_model(synthetic.random_llama(1000 + s, shape), workdir / f"syn{s}", shape)
        fps.append(build_fingerprint(path, use_cache=False))
    return [("synthetic", fps[i], fps[j]) for i, j in itertools.combinations(range(n_models), 2)]


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    out: dict[str, Any] = {"component_pairs": n, "threshold": DERIVED_P}
    out["below_threshold"] = sum(r["p"] < DERIVED_P for r in rows)
    for level in (0.05, 0.01, 0.001):
        out[f"below_{level}"] = sum(r["p"] < level for r in rows)
    by_source: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for r in rows:
        by_source[r["source"]] = by_source.get(r["source"], 0) + 1
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + 1
    out["by_source"] = dict(sorted(by_source.items()))
    out["by_kind"] = dict(sorted(by_kind.items()))
    out["min_p"] = min((r["p"] for r in rows), default=1.0)
    return out


def quick_bank(n_models: int = 6) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        rows = bank_pvalues(synthetic_pairs(n_models, Path(tmp)))
    return summarise(rows)
