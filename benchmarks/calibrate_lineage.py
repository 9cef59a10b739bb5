#!/usr/bin/env python
"""The false-positive bank: every component-pair p-value on known-independent pairs.

Sources (all independent by construction):

* ``zoo``: every pair of independently trained zoo models of one family (llama
  seed siblings, the different-tokenizer model, the near-identical-norm pair;
  the two BERT seeds; the two LLaVA models' towers);
* ``synthetic``: pairs of trained-like random llama checkpoints
  (``tests.generators.lineage_synthetic``), same vocabulary strings;
* ``real``: SmolLM2-135M, Gemma-3-270M, Qwen2.5-Coder-0.5B (pairwise) and
  Whisper tiny.en vs base (same tokenizer, different widths).

For each pair, ``Comparison.pair_pvalues`` lists the p-value of every single
comparison the tool makes before correcting over layers (anchor tests, and every
candidate block x reference block x alignment). The counts below the decision
threshold (1e-6) and below 0.05 / 0.01 / 0.001 are the empirical error rates
that docs/lineage.md reports.

    python benchmarks/calibrate_lineage.py [--synthetic-models 20] [--no-real] [--json OUT]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.generators

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from tests.generators.lineage_calibration import bank_pvalues, summarise, synthetic_pairs
    from fromscratch.lineage.fingerprint import build_fingerprint

    ap = argparse.ArgumentParser()
    ap.add_argument("--synthetic-models", type=int, default=20)
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--no-zoo", action="store_true")
    ap.add_argument("--zoo-root", type=Path, default=None, help="a folder of zoo model directories (default: build_zoo())")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    t0 = time.time()
    pairs = []
    if not args.no_zoo:
        if args.zoo_root is not None:
            names = {p.name for p in args.zoo_root.iterdir() if (p / "config.json").exists()}
            path_of = lambda n: args.zoo_root / n  # noqa: E731
        else:
            from fromscratch.zoo import build_zoo

            zoo = build_zoo()
            names = {e.name for e in zoo.entries}
            path_of = zoo.path
        groups = [
            ["llama-s0", "llama-s1", "llama-s2", "llama-s3", "llama-tokb", "llama-norm-a", "llama-norm-b"],
            ["bert-s0", "bert-s1"],
            ["llava-clean", "llava-transplant"],
        ]
        fps = {}
        for group in groups:
            group = [g for g in group if g in names]
            for g in group:
                fps[g] = build_fingerprint(path_of(g), use_cache=False)
            for a, b in itertools.permutations(group, 2):
                if {a, b} == {"llava-clean", "llava-transplant"}:
                    continue  # added below with the copied tower excluded
                pairs.append((f"zoo:{a}|{b}", fps[a], fps[b]))
        if "llava-clean" in fps and "llava-transplant" in fps:
            pairs.append(("zoo:llava-clean|llava-transplant", fps["llava-clean"], fps["llava-transplant"]))
    with tempfile.TemporaryDirectory() as tmp:
        pairs += synthetic_pairs(args.synthetic_models, Path(tmp))
        if not args.no_real:
            sys.path.insert(0, str(ROOT / "tests"))
            from realmodels import real_model

            real = {}
            for key in ("smollm2-gguf", "gemma3-gguf", "qwen05-gguf", "whisper-tiny-ct2", "whisper-base-ct2"):
                try:
                    real[key] = build_fingerprint(real_model(key))
                except BaseException as exc:  # noqa: BLE001 - offline or unreadable: leave it out, say so
                    print(f"skipping {key}: {type(exc).__name__}: {exc}", file=sys.stderr)
            for a, b in itertools.permutations([k for k in ("smollm2-gguf", "gemma3-gguf", "qwen05-gguf") if k in real], 2):
                pairs.append((f"real:{a}|{b}", real[a], real[b]))
            if "whisper-tiny-ct2" in real and "whisper-base-ct2" in real:
                pairs.append(("real:whisper-tiny|whisper-base", real["whisper-tiny-ct2"], real["whisper-base-ct2"]))
                pairs.append(("real:whisper-base|whisper-tiny", real["whisper-base-ct2"], real["whisper-tiny-ct2"]))
        rows = bank_pvalues(pairs)
    for r in rows:
        r["family"] = r["source"].split(":")[0]
    summary = summarise([{**r, "source": r["family"]} for r in rows])
    summary["model_pairs"] = len(pairs)
    summary["seconds"] = round(time.time() - t0, 1)
    summary["smallest"] = sorted(({"source": r["source"], "kind": r["kind"], "p": r["p"]} for r in rows),
                                 key=lambda r: r["p"])[:5]
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
