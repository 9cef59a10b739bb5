"""Port identification and speed: vLLM model files -> the transformers models folder.

For every vLLM model file (candidates, up to 300) each tool ranks the transformers
`*/modeling_*.py` files; ground truth comes from architecture names: the vLLM file
defines `XForCausalLM`/`XForConditionalGeneration` and the correct answers are the
transformers model folders whose modelling file defines a class of that name.
fromscratch, copydetect (PyPI) and Dolos (npm, via benchmarks/dolos/run_dolos.mjs)
run on the same files in the same run; accuracy is top-1 over the candidates with
ground truth, time is wall-clock for the whole job (index/fingerprint all
references + query all candidates).

Verdicts (the tool's own copied/adapted/independent calls): on the vLLM files with
ground truth, on mlx-lm model files named after a transformers folder (ground
truth: that folder), and on model code written independently of transformers
(litgpt, torchtune, x-transformers: corpora.INDEPENDENT), whose rate of copied /
adapted calls is the external false-positive rate. Held out (not looked at while the
port test was designed): SGLang's model files (ground truth as for vLLM) and
keras-hub's model implementations (independent code in another framework).

Usage: python benchmarks/bench_code_ports.py [--candidates 300] [--no-copydetect] [--no-dolos] [--no-verdicts]
       [--copydetect-candidates N] [--out benchmarks/_work/code_ports.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fromscratch.code import corpora
from fromscratch.code.api import ALPHA_PORT, analyse
from fromscratch.code.index import index_from_sources
from fromscratch.code.score import query
from fromscratch.code.sources import Skipped, read_source

ARCH = re.compile(r"^class (\w+For(?:CausalLM|ConditionalGeneration))\b", re.M)
HERE = Path(__file__).parent


def ground_truth(refs: list[Path], models: Path, cands: list[Path]) -> dict[str, set[str]]:
    owner: dict[str, set[str]] = {}
    for p in refs:
        for name in ARCH.findall(p.read_text(encoding="utf-8")):
            owner.setdefault(name, set()).add(p.relative_to(models).parts[0])
    gt = {}
    for c in cands:
        dirs = set()
        for name in ARCH.findall(c.read_text(encoding="utf-8")):
            dirs |= owner.get(name, set())
        if dirs:
            gt[c.name] = dirs
    return gt


def run_ours(refs: list[Path], models: Path, cands: list[Path]) -> tuple[dict[str, list[str]], dict]:
    """Index the references, then query every candidate (ranking by the rank score)."""
    t0 = time.perf_counter()
    parsed = []
    for p in refs:
        rel = p.relative_to(models).as_posix()
        r = read_source(rel, p)
        if not isinstance(r, Skipped):
            parsed.append((rel, r))
    idx = index_from_sources(parsed)
    t_index = time.perf_counter() - t0
    rankings = {}
    for c in cands:
        r = read_source(c.name, c)
        if isinstance(r, Skipped) or not r.units:
            rankings[c.name] = []
            continue
        q = query(idx, r)
        order = np.argsort(-q.rank, kind="stable")[:10]
        rankings[c.name] = [idx.files[i] for i in order]
    total = time.perf_counter() - t0
    run_ours.index = idx  # type: ignore[attr-defined]
    return rankings, {"seconds": total, "index_seconds": t_index, "query_seconds": total - t_index,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def relations(idx, files: list[Path], truth: dict[str, set[str]] | None = None) -> dict:
    """The tool's own verdicts (fromscratch.code.api.analyse) on each file against the index.

    With `truth` (file name -> correct model folders) also: how many are called
    copied/adapted WITH a correct folder among their origins, and top-1 of the ranking.
    """
    counts = {"copied": 0, "adapted": 0, "independent": 0}
    via: dict[str, int] = {}
    correct = top1_hits = 0
    flagged: list[dict] = []
    for f in files:
        res = analyse(f, [], indices=[idx])["files"][0]
        counts[res["relation"]] += 1
        dirs = truth.get(f.name) if truth else None
        origin_dirs = {o.split("/")[0] for o in res["origins"]}
        if res["relation"] != "independent":
            pt = res.get("port_test") or {}
            port_hit = pt.get("p_value") is not None and pt["p_value"] <= ALPHA_PORT
            key = "port_test" if port_hit and len(res["origins"]) == 1 else "other_rules"
            via[key] = via.get(key, 0) + 1
            if truth is None:
                flagged.append({"file": str(f), "relation": res["relation"], "origins": res["origins"][:3],
                                "port_p": pt.get("p_value")})
        if dirs:
            correct += bool(origin_dirs & dirs)
            top1_hits += bool(res["ranking"]) and res["ranking"][0]["reference_file"].split("/")[0] in dirs
    out = {"n": len(files), "relations": counts, "flagged_via": via}
    if truth is not None:
        out.update({"reuse_found_with_correct_origin": correct / max(len(files), 1),
                    "top1": top1_hits / max(len(files), 1)})
    else:
        out["false_positive_rate"] = (counts["copied"] + counts["adapted"]) / max(len(files), 1)
        out["flagged"] = flagged
    return out


def run_copydetect(refs: list[Path], models: Path, cands: list[Path]) -> tuple[dict[str, list[str]], dict]:
    from copydetect import CopyDetector

    t0 = time.perf_counter()
    det = CopyDetector(extensions=["py"], autoopen=False, silent=True, display_t=1.0)
    for c in cands:
        det.add_file(str(c), "test")
    for r in refs:
        det.add_file(str(r), "ref")
    det.run()
    sim = np.asarray(det.similarity_matrix)
    rankings = {}
    ref_names = [Path(r).relative_to(models).as_posix() for r in det.ref_files]
    for i, t in enumerate(det.test_files):
        s = sim[i, :, 0] if sim.ndim == 3 else sim[i]
        s = np.where(s < 0, 0, s)  # copydetect marks self/skipped pairs with -1
        order = np.argsort(-s, kind="stable")[:10]
        rankings[Path(t).name] = [ref_names[j] for j in order]
    return rankings, {"seconds": time.perf_counter() - t0}


def run_dolos(refs: list[Path], models: Path, cands: list[Path], max_fp: float | None) -> tuple[dict, dict]:
    if shutil.which("node") is None or not (HERE / "dolos" / "node_modules").exists():
        raise RuntimeError("node or benchmarks/dolos/node_modules missing (cd benchmarks/dolos && npm install)")
    with tempfile.TemporaryDirectory() as tmp:
        job = Path(tmp) / "job.json"
        out = Path(tmp) / "out.json"
        job.write_text(json.dumps({"refs": [str(r) for r in refs], "candidates": [str(c) for c in cands],
                                   "top": 10, "maxFingerprintPercentage": max_fp}))
        t0 = time.perf_counter()
        subprocess.run(["node", str(HERE / "dolos" / "run_dolos.mjs"), str(job), str(out)], check=True,
                       cwd=HERE / "dolos", timeout=3600)
        wall = time.perf_counter() - t0
        res = json.loads(out.read_text())
    rankings = {Path(c).name: [Path(r).relative_to(models).as_posix() for r, _ in v] for c, v in res["rankings"].items()}
    return rankings, {"seconds": wall, "dolos_internal_seconds": res["seconds"]}


def top1(rankings: dict[str, list[str]], gt: dict[str, set[str]]) -> dict:
    hits, rr = 0, []
    for c, dirs in gt.items():
        ranked = [r.split("/")[0] for r in rankings.get(c, [])]
        if ranked and ranked[0] in dirs:
            hits += 1
        rank = next((i + 1 for i, d in enumerate(ranked) if d in dirs), None)
        rr.append(1.0 / rank if rank else 0.0)
    n = len(gt)
    return {"n": n, "top1": hits / n if n else None, "mrr@10": float(np.mean(rr)) if rr else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=300)
    ap.add_argument("--copydetect-candidates", type=int, default=None,
                    help="run copydetect only on the first N candidates with ground truth (it is slow)")
    ap.add_argument("--no-copydetect", action="store_true")
    ap.add_argument("--no-dolos", action="store_true")
    ap.add_argument("--no-verdicts", action="store_true", help="skip the relation counts on ports and independent code")
    ap.add_argument("--dolos-max-fp", type=float, default=None)
    ap.add_argument("--out", default=str(HERE / "_work" / "code_ports.json"))
    args = ap.parse_args()
    models = corpora.transformers_models(corpora.TRANSFORMERS_PORTS)
    refs = corpora.model_files(models)
    vroot = corpora.vllm_models()
    cands = [p for p in sorted(vroot.glob("*.py")) if p.name != "__init__.py"][: args.candidates]
    gt = ground_truth(refs, models, cands)
    print(f"{len(refs)} reference files, {len(cands)} candidates, {len(gt)} with ground truth", flush=True)
    report: dict = {"references": len(refs), "candidates": len(cands), "with_ground_truth": len(gt),
                    "transformers": corpora.TRANSFORMERS_PORTS, "vllm": corpora.VLLM, "tools": {}}
    rk_ours, tm = run_ours(refs, models, cands)
    report["tools"]["fromscratch"] = {**top1(rk_ours, gt), **tm}
    print("fromscratch", report["tools"]["fromscratch"], flush=True)
    if not args.no_verdicts:
        idx = run_ours.index  # type: ignore[attr-defined]
        folders = {p.relative_to(models).parts[0] for p in refs}
        mlx = [p for p in sorted(corpora.mlx_models().glob("*.py")) if p.name != "__init__.py"]
        mlx_gt = {p.name: {p.stem.lower()} for p in mlx if p.stem.lower() in folders}
        report["verdicts"] = {
            "null_quantiles": {"pair": [float(x) for x in np.quantile(idx.null, [0.5, 0.9, 0.99])],
                               "port": [float(x) for x in np.quantile(idx.null_port, [0.5, 0.9, 0.99])]},
            "vllm_ground_truth_ports": relations(idx, [c for c in cands if c.name in gt], gt),
            "mlx_ground_truth_ports": relations(idx, [p for p in mlx if p.name in mlx_gt], mlx_gt),
            "independent_implementations": relations(idx, corpora.independent_model_code()),
        }
        # held out: corpora not looked at while the port test was designed
        sg = [p for p in sorted(corpora.sglang_models().glob("*.py")) if p.name != "__init__.py"]
        sg_gt = ground_truth(refs, models, sg)
        report["verdicts"]["held_out_sglang_ground_truth_ports"] = relations(idx, [p for p in sg if p.name in sg_gt], sg_gt)
        report["verdicts"]["held_out_independent_keras_hub"] = relations(idx, corpora.keras_hub_model_code())
        print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "flagged"} if isinstance(v, dict) else v
                          for k, v in report["verdicts"].items()}, indent=1), flush=True)
    if not args.no_dolos:
        rk, tm = run_dolos(refs, models, cands, args.dolos_max_fp)
        report["tools"]["dolos" + (f" -M {args.dolos_max_fp}" if args.dolos_max_fp else "")] = {**top1(rk, gt), **tm}
        print("dolos", tm, top1(rk, gt), flush=True)
    if not args.no_copydetect:
        cd_cands = [c for c in cands if c.name in gt]
        if args.copydetect_candidates:
            cd_cands = cd_cands[: args.copydetect_candidates]
        sub = {c.name: gt[c.name] for c in cd_cands}
        rk, tm = run_copydetect(refs, models, cd_cands)
        report["tools"]["copydetect"] = {**top1(rk, sub), **tm, "note": "ground-truth candidates only"}
        report["tools"]["fromscratch_on_copydetect_subset"] = top1(rk_ours, sub)
        print("copydetect", report["tools"]["copydetect"], flush=True)
    report["ratios"] = ratios(report["tools"], len(cands))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(json.dumps(report, indent=2, sort_keys=True))
    print("RATIOS", json.dumps(report["ratios"]), flush=True)


def ratios(tools: dict, n_cands: int) -> dict:
    """Wall-time ratios of the other tools over fromscratch on the same job in this run, with the load average.

    copydetect runs on a subset of candidates (it compares every pair): it is compared with fromscratch's index
    time plus its per-candidate query time on as many candidates, and extrapolated to the whole job."""
    ours = tools["fromscratch"]
    out: dict = {"load_average_1_5_15": [round(x, 2) for x in os.getloadavg()], "fromscratch_seconds": round(ours["seconds"], 1)}
    for name, t in tools.items():
        if name.startswith("dolos"):
            out[f"{name} / fromscratch"] = round(t["seconds"] / ours["seconds"], 2)
    cd = tools.get("copydetect")
    if cd:
        n = tools["fromscratch_on_copydetect_subset"]["n"]
        per_q = ours["query_seconds"] / max(1, n_cands)
        out["copydetect / fromscratch (same candidates)"] = round(cd["seconds"] / (ours["index_seconds"] + n * per_q), 2)
        out["copydetect / fromscratch (whole job, extrapolated)"] = round(cd["seconds"] * n_cands / max(1, n) / ours["seconds"], 2)
    return out


if __name__ == "__main__":
    sys.exit(main())
