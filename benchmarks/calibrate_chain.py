#!/usr/bin/env python
"""Error rates of the chain checks (the numbers in docs/chain.md).

1. **Init test under its null**: ``--models`` synthetic fresh initialisations
   (numpy draws of the chain material's shapes and of the zoo llama's, every
   matrix ``Normal(0, 0.02)``, norms one); share whose Holm-adjusted smallest
   p falls below ``ALPHA`` (the false-alarm rate per model).
2. **Genuine chains** (the chain material, calibration and held-out sets
   separately): verdicts, smallest init p, largest trend ratio, smallest share
   of aligned tensors.
3. **Power against disguised inits**: a trained model mixed with fresh noise,
   ``alpha * T / sd(T) * 0.02 + sqrt(1 - alpha^2) * N(0, 0.02^2)`` (scale matched
   exactly, norms one), and the trained matrices with rows and columns
   permuted and rescaled to std 0.02: the smallest alpha still detected.

    python benchmarks/calibrate_chain.py [--models N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from fromscratch.chain.init import ALPHA, tensor_tests
from fromscratch.chain.scheme import resolve
from fromscratch.multiple_testing import holm


def _shapes(d: int, ff: int, vocab: int, kv: int, layers: int) -> list[tuple[str, str, tuple[int, ...]]]:
    out = [("embedding", "weight", (vocab, d)), ("lm_head", "weight", (vocab, d))]
    for _ in range(layers):
        out += [("attention", "q", (d, d)), ("attention", "k", (kv, d)), ("attention", "v", (kv, d)),
                ("attention", "o", (d, d)), ("mlp", "gate", (ff, d)), ("mlp", "up", (ff, d)), ("mlp", "down", (d, ff))]
    return out


def _min_p(tensors: list[tuple[str, str, np.ndarray]], scheme) -> float:
    ps = [p for kind, role, arr in tensors for _, _, p in tensor_tests(arr, kind, role, scheme)[0]]
    return float(min(holm(ps)))


def null_rate(n_models: int) -> dict:
    scheme = resolve({"initializer_range": 0.02})
    out = {}
    for label, shapes, count in (("chain-material shape (d=64, 2 layers)", _shapes(64, 176, 512, 32, 2), n_models),
                                 ("zoo llama shape (d=256, 4 layers)", _shapes(256, 704, 1024, 128, 4), max(10, n_models // 10))):
        mins = []
        for i in range(count):
            rng = np.random.default_rng(10_000 + i)
            mins.append(_min_p([(k, r, rng.normal(0, 0.02, s).astype(np.float32)) for k, r, s in shapes], scheme))
        out[label] = {"models": count, "false_alarms": int(sum(m < ALPHA for m in mins)),
                      "smallest_min_p": min(mins), "median_min_p": float(np.median(mins))}
    return out


def genuine(cat: dict) -> dict:
    from fromscratch.chain.api import verify_chain

    refs = [(k, cat["references"][k]) for k in ("ref-a", "ref-b")]
    sets: dict[str, dict] = {}
    for name, e in cat["chains"].items():
        if e["kind"] != "genuine":
            continue
        o = verify_chain(e["checkpoints"], model=e["model"], references=refs, init_options=e["init_options"])
        s = sets.setdefault(e.get("set", "calibration"), {"chains": 0, "false_alarms": 0, "min_init_p": 1.0,
                                                          "max_trend_ratio": 0.0, "min_aligned_share": 1.0,
                                                          "steps": 0})
        s["chains"] += 1
        s["false_alarms"] += o["verdict"] != "valid"
        s["min_init_p"] = min(s["min_init_p"], o["init"]["p_value"])
        s["steps"] += len(o["steps"])
        for st in o["steps"]:
            if st["trend_ratio"] is not None:
                s["max_trend_ratio"] = max(s["max_trend_ratio"], st["trend_ratio"])
            if st["tested_tensors"]:
                s["min_aligned_share"] = min(s["min_aligned_share"], st["aligned_tensors"] / st["tested_tensors"])
        print(name, o["verdict"], file=sys.stderr, flush=True)
    return sets


def _trained(path: str) -> list[tuple[str, str, np.ndarray]]:
    from fromscratch.artifacts import open_model

    with open_model(path) as m:
        return [(c.kind, t.role, m.load(t)) for c in m.components() for t in c.tensors
                if t.learned and len(t.shape) == 2]


def power(path: str, label: str) -> dict:
    scheme = resolve({"initializer_range": 0.02})
    trained = _trained(path)
    rows = {}
    for alpha in (1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02):
        rng = np.random.default_rng(1)
        mixed = [(k, r, (alpha * a / a.std() * 0.02 + math.sqrt(1 - alpha ** 2) *
                          rng.normal(0, 0.02, a.shape)).astype(np.float32)) for k, r, a in trained]
        rows[f"mix alpha={alpha}"] = _min_p(mixed, scheme)
    rng = np.random.default_rng(2)
    shuffled = [(k, r, (a[rng.permutation(a.shape[0])][:, rng.permutation(a.shape[1])] / a.std() * 0.02)
                 .astype(np.float32)) for k, r, a in trained]
    rows["shuffled, rescaled"] = _min_p(shuffled, scheme)
    return {"model": label, "min_p": rows, "detected": {k: v < ALPHA for k, v in rows.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=300)
    ap.add_argument("--json", default=None)
    ap.add_argument("--phases", default="power,genuine,null", help="comma-separated: power, genuine, null")
    args = ap.parse_args()
    from fromscratch.zoo import find_zoo
    from fromscratch.zoo.chains import build_chains

    cat = build_chains()
    phases = args.phases.split(",")
    result: dict = {"alpha": ALPHA}
    if "power" in phases:
        result["power"] = [power(cat["references"]["ref-a"], "chain reference ref-a (d=64, 200 steps)")]
        zoo = find_zoo()
        if zoo is not None:
            result["power"].append(power(str(zoo.path("llama-s0")), "zoo llama-s0 (d=256, 100 steps)"))
        print(json.dumps(result["power"]), file=sys.stderr, flush=True)
    if "genuine" in phases:
        result["genuine"] = genuine(cat)
        print(json.dumps(result["genuine"]), file=sys.stderr, flush=True)
    if "null" in phases:
        result["null"] = null_rate(args.models)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
