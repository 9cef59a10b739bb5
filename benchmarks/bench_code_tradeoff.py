"""What a gap test can reach on ports at a given false-flag rate: thresholds fixed on the tune halves.

For every file of the verdict sets (bench_code_verdicts.py: vLLM, mlx-lm and SGLang ports of
transformers 5.24.0 with their ground-truth folders; litgpt, torchtune, x-transformers and keras-hub
as independent code) two statistics are computed against the cached transformers index:

  port gap     identifier containment of j* minus the best reference not linked to j* (the port test)
  rank margin  rank score of j* minus the best reference not linked to j* (the rank-margin test)

For each port set and statistic, the threshold is the largest value that calls `target` of that set's
TUNE half right (j* in the truth folder and statistic >= threshold); it is then applied, unchanged, to
the set's REPORT half and to all independent files. This measures the trade-off itself, not the tool's
verdicts (which use the pseudo-candidate nulls at level 0.01).

Usage: python benchmarks/bench_code_tradeoff.py [--targets 0.5,0.8] [--out benchmarks/_work/code_tradeoff.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
from bench_code_ports import ground_truth
from bench_code_verdicts import cached_index, half

from fromscratch.code import corpora
from fromscratch.code.port import gap_statistic
from fromscratch.code.score import query
from fromscratch.code.sources import Skipped, read_source

HERE = Path(__file__).parent


def candidates(refs: list[Path], models: Path) -> list[tuple[str, Path, set[str] | None]]:
    vfiles = [p for p in sorted(corpora.vllm_models().glob("*.py")) if p.name != "__init__.py"]
    sg = [p for p in sorted(corpora.sglang_models().glob("*.py")) if p.name != "__init__.py"]
    folders = {p.relative_to(models).parts[0] for p in refs}
    out: list[tuple[str, Path, set[str] | None]] = []
    gt = ground_truth(refs, models, vfiles)
    out += [("vllm", p, gt[p.name]) for p in vfiles if p.name in gt]
    out += [("mlx", p, {p.stem.lower()}) for p in sorted(corpora.mlx_models().glob("*.py")) if p.stem.lower() in folders]
    gt = ground_truth(refs, models, sg)
    out += [("sglang_tf", p, gt[p.name]) for p in sg if p.name in gt]
    out += [("independent", p, None) for p in corpora.independent_model_code()]
    out += [("keras_hub", p, None) for p in corpora.keras_hub_model_code()]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="0.5,0.8")
    ap.add_argument("--out", default=str(HERE / "_work" / "code_tradeoff.json"))
    args = ap.parse_args()
    models = corpora.transformers_models(corpora.TRANSFORMERS_PORTS)
    refs = corpora.model_files(models)
    idx = cached_index("tf5.24.0", refs, models, "transformers")
    rows = []
    for s, p, truth in candidates(refs, models):
        r = read_source(p.name, p)
        if isinstance(r, Skipped) or not r.units:
            continue
        q = query(idx, r)
        row = {"set": s, "file": p.name, "half": half(p.name), "truth": truth}
        for name, values in (("port_gap", q.ident_cont), ("rank_margin", q.rank)):
            stat, top = gap_statistic(idx, values)
            row[name] = (stat or 0.0, idx.files[top].split("/")[1] if top >= 0 else None)
        rows.append(row)
    indep = [r for r in rows if r["truth"] is None]
    results = []
    for stat in ("port_gap", "rank_margin"):
        for target in (float(t) for t in args.targets.split(",")):
            for s in ("vllm", "mlx", "sglang_tf"):
                tune = [r for r in rows if r["set"] == s and r["half"] == "tune"]
                right = sorted((r[stat][0] for r in tune if r[stat][1] in r["truth"]), reverse=True)
                k = math.ceil(target * len(tune))
                res = {"statistic": stat, "set": s, "target": target, "tune_n": len(tune), "tune_j_star_right": len(right)}
                if k <= len(right):
                    thr = right[k - 1]
                    rep = [r for r in rows if r["set"] == s and r["half"] == "report"]
                    res.update(threshold=round(thr, 4), report_n=len(rep),
                               report_right=sum(r[stat][0] >= thr and r[stat][1] in r["truth"] for r in rep),
                               independent_n=len(indep), independent_flagged=sum(r[stat][0] >= thr for r in indep),
                               keras_hub_flagged=sum(r[stat][0] >= thr for r in indep if r["set"] == "keras_hub"))
                results.append(res)
                print(json.dumps(res), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"load_average": os.getloadavg(), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
