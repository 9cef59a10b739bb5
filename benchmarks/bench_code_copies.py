"""Copy detection on real transformers code: labelled pairs and disguised re-releases.

(a) Labelled pairs from the `# Copied from transformers.models...` annotations of
    transformers 4.46.3 (annotations stripped before scoring; negatives: same-role
    definitions of other models, not linked by any annotation chain, not identical
    after normalisation — see fromscratch.code.evaluate). Reports AUC of the unit
    score (and of each channel), and recall / false-positive rate at the tool's
    copy threshold T_UNIT_COPY.
(b) Disguised copies: model files renamed + reformatted + comment/docstring-free +
    reordered (tests/code/obfuscate.py) queried against the whole models folder
    (originals included); reports how often the original ranks first.

Usage: python benchmarks/bench_code_copies.py [--limit N] [--disguised 60] [--out benchmarks/_work/code_copies.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from fromscratch.code import corpora, evaluate
from fromscratch.code.api import T_UNIT_COPY
from fromscratch.code.index import index_from_sources
from fromscratch.code.lang import PythonLanguage
from fromscratch.code.score import query

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests" / "code"))
from obfuscate import disguise  # noqa: E402


GRID = np.round(np.arange(0.50, 0.951, 0.01), 2)


def pick_threshold(s: np.ndarray, y: np.ndarray, max_fpr: float = 0.01) -> float:
    """The rule that fixed T_UNIT_COPY: the lowest grid value whose false-positive rate is <= max_fpr."""
    for t in GRID:
        if (s[y == 0] >= t).mean() <= max_fpr:
            return float(t)
    return float(GRID[-1])


def held_out(pairs, s: np.ndarray, y: np.ndarray, keep: np.ndarray) -> dict:
    """Two-fold cross-fitting by model folder: the threshold rule is applied on one half of the
    model folders (by a hash of the target file's folder) and judged on the other half, where
    neither the fixed T_UNIT_COPY nor the refitted threshold has seen a label."""
    fold = np.array([hashlib.blake2b(p.target_file.split("/")[0].encode(), digest_size=8).digest()[0] & 1
                     for p in pairs])
    out = {"folds": []}
    for k in (0, 1):
        fit, test = (fold == k) & keep, (fold != k) & keep
        t = pick_threshold(s[fit], y[fit])
        ev = {}
        for name, thr in (("refit", t), ("fixed", T_UNIT_COPY)):
            st, yt = s[test], y[test]
            ev[name] = {"threshold": thr, "recall": float((st[yt == 1] >= thr).mean()),
                        "fpr": float((st[yt == 0] >= thr).mean()),
                        "positives": int(yt.sum()), "negatives": int((yt == 0).sum()),
                        "auc": evaluate.auc(st, yt)}
        out["folds"].append({"fit_fold": k, "threshold_fit": t,
                             "fit_recall": float((s[fit][y[fit] == 1] >= t).mean()), "test": ev})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None, help="positives to use (default: all)")
    ap.add_argument("--disguised", type=int, default=60)
    ap.add_argument("--out", default=str(HERE / "_work" / "code_copies.json"))
    args = ap.parse_args()
    models = corpora.transformers_models(corpora.TRANSFORMERS_COPIES)
    t0 = time.perf_counter()
    parsed = evaluate.parse_models(models)
    idx = index_from_sources([(f"transformers/{k}", v) for k, v in parsed.items()], null_size=0)
    t_index = time.perf_counter() - t0
    pairs = evaluate.labelled_pairs(models, parsed, limit=args.limit)
    y = np.array([p.label for p in pairs])
    t1 = time.perf_counter()
    scores = evaluate.pair_scores(idx, "transformers", parsed, pairs)
    t_pairs = time.perf_counter() - t1
    report: dict = {"transformers": corpora.TRANSFORMERS_COPIES, "files": len(parsed),
                    "positives": int(y.sum()), "negatives": int((y == 0).sum()),
                    "index_seconds": t_index, "pair_seconds": t_pairs, "threshold": T_UNIT_COPY, "auc": {}}
    near = np.array([p.near_duplicate for p in pairs])
    keep = ~near
    report["near_duplicate_negatives"] = int(near.sum())
    report["auc_all_negatives"] = {}
    for k, s in scores.items():
        report["auc"][k] = evaluate.auc(s[keep], y[keep])
        report["auc_all_negatives"][k] = evaluate.auc(s, y)
    s = scores["score"]
    report["recall_at_threshold"] = float((s[y == 1] >= T_UNIT_COPY).mean())
    report["fpr_at_threshold"] = float((s[(y == 0) & keep] >= T_UNIT_COPY).mean())
    report["fpr_at_threshold_all_negatives"] = float((s[y == 0] >= T_UNIT_COPY).mean())
    report["operating_points"] = [
        {"threshold": t, "recall": float((s[y == 1] >= t).mean()),
         "fpr": float((s[(y == 0) & keep] >= t).mean()), "fpr_all_negatives": float((s[y == 0] >= t).mean())}
        for t in (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)]
    report["held_out"] = held_out(pairs, s, y, keep)
    print(json.dumps(report["held_out"], indent=1), flush=True)
    order = np.argsort(-s)
    report["highest_negatives"] = [
        {"score": float(s[i]), "target": f"{pairs[i].target_file}:{pairs[i].target}",
         "other": f"{pairs[i].source_file}:{pairs[i].source}", "near_duplicate": bool(near[i])}
        for i in order if y[i] == 0][:15]
    report["lowest_positives"] = [
        {"score": float(s[i]), "target": f"{pairs[i].target_file}:{pairs[i].target}",
         "source": f"{pairs[i].source_file}:{pairs[i].source}"} for i in order[::-1] if y[i] == 1][:10]
    print(json.dumps({k: report[k] for k in ("positives", "negatives", "near_duplicate_negatives", "auc",
                                             "auc_all_negatives", "recall_at_threshold", "fpr_at_threshold",
                                             "fpr_at_threshold_all_negatives")}, indent=1), flush=True)
    # (b) disguised re-releases of PyTorch model files
    names = sorted((k for k in parsed if "/modeling_tf_" not in k and "/modeling_flax_" not in k),
                   key=lambda k: hashlib.blake2b(k.encode(), digest_size=8).digest())[: args.disguised]
    lang = PythonLanguage()
    rank1, results = 0, []
    for i, name in enumerate(names):
        text = disguise((models / name).read_text(encoding="utf-8"), seed=i)
        q = query(idx, lang.parse("candidate.py", text))
        fid = idx.files.index(f"transformers/{name}")
        top = float(q.rank.max())  # the tool's ranking score
        ok = q.rank[fid] >= top - 1e-12
        rank = int((q.rank > q.rank[fid]).sum()) + 1
        rank1 += ok
        results.append({"file": name, "rank": rank, "score": float(q.rank[fid]), "code_score": float(q.file_score[fid]),
                        "top": idx.files[int(np.argmax(q.rank))]})
    report["disguised"] = {"n": len(names), "rank1": rank1 / max(1, len(names)),
                           "misses": [r for r in results if r["rank"] > 1]}
    print(json.dumps(report["disguised"], indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
