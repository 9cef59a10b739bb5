#!/usr/bin/env python
"""The disguised false-positive bank: how often lineage accuses an independent model.

Independent pairs, all by construction:

* ``siblings``: same-recipe seed siblings (``fromscratch.disguise.nullbank``),
  trained 1,000 steps (10x the zoo's seeds) on the zoo's data and tokenizer,
  half of them sharing the data order; every ordered pair (disguised sibling i,
  plain sibling j), with disguises plain / rotated (folded norms) / rescaled /
  permuted (units, heads, residual, signs) / rotated+permuted;
* ``zoo``: the zoo's seven independently trained llamas (seed siblings, the
  other-tokenizer model and the near-identical-norm "LayerNorm trap" pair),
  every ordered pair, under the same disguises.

Two counts: *decisions* -- every non-norm component the compare reports
(candidate component, its best reference component), judged identical/derived
or not at the fixed threshold p < 1e-6 -- and *raw tests* -- every single
comparison before the correction over layers (``Comparison.pair_pvalues``,
when the lineage engine offers it). Nothing is tuned on this bank: the
threshold was fixed before it existed.

    nice -n 10 python benchmarks/bench_lineage_fpr.py [--siblings 10] [--parts siblings,zoo] [--json OUT]
    python benchmarks/bench_lineage_fpr.py --combine SIBLINGS.json ZOO.json --json ALL.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))  # for tests.generators
import time
from pathlib import Path


def _zoo_rows(variants: tuple[str, ...], progress, zoo_root: Path | None) -> list[dict]:
    from fromscratch.disguise import fpr

    names = ["llama-s0", "llama-s1", "llama-s2", "llama-s3", "llama-tokb", "llama-norm-a", "llama-norm-b"]
    if zoo_root is None:
        from fromscratch.zoo import build_zoo

        paths = [build_zoo().path(n) for n in names]
    else:
        paths = [zoo_root / "models" / n for n in names]
    rows = list(fpr.compare_bank(paths, variants, progress=progress))
    for r in rows:
        r["candidate"], r["reference"] = names[r["candidate"]], names[r["reference"]]
    return rows


def _raw(rows_paths: list[tuple[str, Path, Path]]) -> dict | None:
    """Raw single-test p-values on the plain pairs (None when the engine has no pair_pvalues)."""
    try:
        from tests.generators.lineage_calibration import bank_pvalues, summarise
        from fromscratch.lineage.fingerprint import build_fingerprint
    except ImportError:
        return None
    fps = {}
    pairs = []
    for src, a, b in rows_paths:
        for p in (a, b):
            if p not in fps:
                fps[p] = build_fingerprint(p, use_cache=False)
        pairs.append((src, fps[a], fps[b]))
    try:
        return summarise(bank_pvalues(pairs))
    except AttributeError:
        return None


def _eval_loss(path: Path, root: Path | None, windows: int = 16, seq: int = 64) -> float:
    """Held-out next-token loss of a sibling (numpy forward pass on the zoo's eval stream)."""
    import numpy as np

    from fromscratch.disguise import load, logits, nullbank

    ids = np.load((root or nullbank.material()) / "data" / "eval.npy").astype(np.int64)
    n = len(ids) - seq - 1
    starts = [int(i * n / windows) for i in range(windows)]
    x = np.stack([ids[s:s + seq] for s in starts])
    y = np.stack([ids[s + 1:s + seq + 1] for s in starts])
    lg = logits(load(path), x)
    lg = lg - lg.max(-1, keepdims=True)
    logp = lg - np.log(np.exp(lg).sum(-1, keepdims=True))
    return float(-np.take_along_axis(logp, y[..., None], -1).mean())


def _siblings_part(recipe, n: int, progress, variants: tuple[str, ...], cached: bool, want_raw: bool,
                   root: Path | None) -> tuple[dict, list[dict]]:
    from fromscratch.disguise import fpr, nullbank

    t0 = time.time()
    paths = (nullbank.cached_siblings(recipe, root) if cached
             else nullbank.siblings(recipe, n, progress=progress, root=root))
    n = len(paths)
    t_train = time.time() - t0
    rows = [fpr.compact(r) for r in fpr.compare_bank(paths, variants, progress=progress)]
    plain = [("siblings", paths[i], paths[j]) for i, j in itertools.permutations(range(len(paths)), 2)]
    raw = _raw(plain) if "plain" in variants and want_raw else None
    info = {"recipe": recipe.__dict__, "siblings": n, "bank_key": nullbank.bank_key(recipe, root),
            "variants": list(variants), "sibling_dirs": [p.name for p in paths],
            "training": [{**json.loads((p / "training.json").read_text()), "eval_loss": round(_eval_loss(p, root), 4)}
                         for p in paths],
            "raw_plain": raw, "seconds": {"training_or_cache": round(t_train, 1),
                                                   "compare": round(time.time() - t0 - t_train, 1)}}
    return info, rows


def main() -> None:
    from fromscratch.disguise import fpr, nullbank

    ap = argparse.ArgumentParser()
    ap.add_argument("--siblings", type=int, default=10)
    ap.add_argument("--small", action="store_true", help="the CI test's smaller recipe")
    ap.add_argument("--parts", default="siblings,zoo", help="siblings, zoo, or both")
    ap.add_argument("--variants", default=",".join(fpr.VARIANTS), help="disguises of the sibling candidates")
    ap.add_argument("--cached", action="store_true", help="use the siblings already trained, train none")
    ap.add_argument("--zoo-root", type=Path, default=None,
                    help="a built zoo folder: its llamas and its data/tokenizer (default: build_zoo())")
    ap.add_argument("--no-raw", action="store_true", help="skip the raw single-test p-values")
    ap.add_argument("--combine", type=Path, nargs="*", default=[], help="merge the rows of earlier --json runs")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    recipe = nullbank.SMALL if args.small else nullbank.BENCH

    def progress(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    report: dict = {"parts": {}}
    rows: dict[str, list[dict]] = {}
    for path in args.combine:
        old = json.loads(path.read_text())
        report["parts"].update(old["parts"])
        rows.update(old["rows"])
    parts = [p for p in args.parts.split(",") if p] if not args.combine else []
    if "siblings" in parts:
        variants = tuple(v for v in args.variants.split(",") if v)
        name = "siblings" if variants == fpr.VARIANTS else "siblings:" + "+".join(variants)
        report["parts"][name], rows[name] = _siblings_part(recipe, args.siblings, progress, variants,
                                                                       args.cached, not args.no_raw,
                                                                       args.zoo_root)
    if "zoo" in parts:
        t0 = time.time()
        rows["zoo"] = [fpr.compact(r) for r in _zoo_rows(fpr.VARIANTS, progress, args.zoo_root)]
        report["parts"]["zoo"] = {"models": 7, "seconds": round(time.time() - t0, 1)}
    for name, rs in rows.items():
        report["parts"][name]["tally"] = fpr.tally(rs)
    report["total"] = fpr.tally([r for rs in rows.values() for r in rs])
    report["rows"] = rows
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    t = report["total"]
    print(f"component pairs {t['component_pairs']}, flagged {t['flagged']}, FPR {t['fpr']:.3g} "
          f"(95 % upper {t['fpr_upper_95']:.3g}); model pairs {t['model_pairs']}, flagged "
          f"{t['model_pairs_flagged']}; smallest p {t['min_p']:.3g}")
    for name in rows:
        for v, s in report["parts"][name]["tally"]["by_variant"].items():
            print(f"  {name} {v}: {s['flagged']}/{s['component_pairs']} flagged, min p {s['min_p']:.3g}")


if __name__ == "__main__":
    main()
