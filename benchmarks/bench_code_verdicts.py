"""Port verdicts with declared origins: the tool's own copied/adapted/independent calls on real ports.

Sets (each file analysed with `fromscratch.code.api.analyse` against a cached index):
  vllm      vLLM 0.33.0 model files with architecture ground truth -> transformers 5.24.0 modelling files
  mlx       mlx-lm 0.32.2 model files named after a transformers folder -> transformers 5.24.0
  lmdeploy  lmdeploy 0.18.0 PyTorch-engine model files with architecture ground truth -> transformers 5.24.0
            (added after every threshold was fixed; both halves are held out)
  sglang_tf SGLang 0.5.23 model files with architecture ground truth -> transformers 5.24.0
  sglang_vllm SGLang files whose header declares a vLLM model file that vLLM 0.33.0 has -> vLLM's model files
              (truth: the declared file)
  independent litgpt, torchtune, x-transformers model code -> transformers 5.24.0 (truth: none)
  keras_hub   keras-hub 0.32.0 model code -> transformers 5.24.0 (truth: none)
  heldout     megatron-core, llama-models, mistral-inference, olmo-core model code -> transformers 5.24.0
              (truth: none; added after every threshold was fixed)
  hf_bridge   the files of those packages that convert to or wrap transformers models (reported apart)
  fresh_*     the third held-out set (`heldout.FRESH_*`), defined on 2026-12-07 before it was first run; run for
              the code before that session and for two candidate rules, which it rejected (docs/code.md (6)),
              then for the final code (no half: all report):
    fresh_mlx         mlx-vlm 0.7.10 and mlx-audio 0.6.2 model folders named after a transformers folder
                      -> transformers 5.24.0 (truth: that folder); `in_mlx_lm` marks folders mlx-lm also has
    fresh_vllm        model files vLLM 0.34.0 added over 0.33.0, architecture ground truth -> transformers 5.24.0
    fresh_engines     tpu-inference 0.32.0 JAX models (architecture ground truth) and optimum-neuron 0.4.5
                      `modeling_*.py` in a folder named after a transformers folder (truth: that folder)
    fresh_independent torchtitan 0.3.0, fairseq2 0.8.1, nanotron 0.4 model code -> transformers 5.24.0
    fresh_bridge      their Hugging Face bridges (`interop.py`, `state_dict_adapter.py`, fairseq2's `hg/`)
  fourth_*    a fourth held-out set (`heldout.FOURTH_*`), defined on 2026-12-07 and run once for the code before and
              once after the `builds_on` rule was frozen (`--sets fourth`):
    fourth_ports        EasyDeL 0.3.0, levanter 1.1, mlx-embeddings 0.1.0 files named after a transformers folder
    fourth_independent  vit-pytorch 1.26.14, penzai 0.2.5 (models), praxis 1.4.0 (layers) -> transformers 5.24.0
  fifth_*     a fifth held-out set (`heldout.FIFTH_*`), defined on 2026-12-07 after the fourth was run; run once for the
              code before and once after the module-name change of interface.py was frozen (`--sets fifth`):
    fifth_ports         PaddleNLP 2.8.1 `paddlenlp/transformers/<folder>/` files named after a transformers folder
    fifth_independent   axlearn `common/`, llm-foundry `models/`, open_clip -> transformers 5.24.0
    fifth_bridge        their Hugging Face bridges (reported apart)
  sixth_*     a sixth held-out set (`heldout.SIXTH_*`), defined on 2026-12-07 before any of it was run; run as the
              fifth was (`--sets sixth`):
    sixth_ports         optimum-habana 1.21.2 `modeling_*.py` in a folder named after a transformers folder
    sixth_engine        aphrodite-engine 0.24.1 model files that vLLM 0.33.0 and 0.34.0 lack (architecture ground truth)
    sixth_independent   torchvision, ultralytics, speechbrain lobes, four lucidrains packages -> transformers 5.24.0
    sixth_bridge        their Hugging Face bridges (reported apart)
  seventh_*   a seventh held-out set (`heldout.SEVENTH_*`), defined on 2026-12-07 after the sixth was run; run once for
              the code of that release (`--sets seventh`):
    seventh_ports       mlx-transformers 0.3.0 model files named after a transformers folder
    seventh_independent torchscale, pyannote-audio models, asteroid masknn, Haiku nets -> transformers 5.24.0
    seventh_bridge      their Hugging Face bridges (reported apart)
  eighth_*    an eighth held-out set (`heldout.EIGHTH_*`), defined on 2026-12-07 after the seventh was run and before any
              of it was run; run once before and once after the next rule change is frozen (`--sets eighth`):
    eighth_ports        ipex-llm 2.2.0 `transformers/models/<folder>.py` patches named after a transformers folder
    eighth_independent  ibm-fms, five lucidrains packages, Sonnet -> transformers 5.24.0
    eighth_bridge       their Hugging Face bridges (reported apart)
  ninth_vllm  a ninth held-out set (`heldout.NINTH_VLLM`), defined on 2026-12-07 after the eighth was run and before any
              of it was run: vLLM 0.8.5 model files that vLLM 0.33.0, 0.34.0 and aphrodite-engine 0.24.1 lack
              (architecture ground truth) -> transformers 5.24.0 (`--sets ninth`)
  tenth_independent  a tenth held-out set (`heldout.TENTH_INDEPENDENT`), defined after the ninth was run and before any
              of it was run: 25 more lucidrains packages -> transformers 5.24.0 (`--sets tenth`)
  eleventh_*  an eleventh held-out set (`heldout.ELEVENTH_*`), defined at the end of session 9 and NOT run: keep it for
              the next rule change (`--sets eleventh`):
    eleventh_ports        lightllm 0.0.1 model folders named after a transformers folder (every file in them)
    eleventh_independent  exllamav2, petals' model wrappers -> transformers 5.24.0
    eleventh_bridge       their Hugging Face bridges (reported apart)
Every set with ground truth is split in two halves by a hash of the file name: the `tune`
half may be used to choose thresholds, the `report` half is reported untouched.

Usage: python benchmarks/bench_code_verdicts.py [--out benchmarks/_work/code_verdicts.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from bench_code_ports import ground_truth

from fromscratch.code import corpora, heldout
from fromscratch.code.api import analyse
from fromscratch.code.declared import names_reference, parse_declarations
from fromscratch.code.attribution import extract
from fromscratch.code.index import index_from_sources, load_index, save_index
from fromscratch.code.sources import Skipped, read_source

HERE = Path(__file__).parent
_METHOD = ("lang.py", "lang_c.py", "pytokens.py", "fingerprint.py", "index.py", "score.py", "port.py", "interface.py")


def half(name: str) -> str:
    return "tune" if hashlib.blake2b(name.encode(), digest_size=8).digest()[0] % 2 == 0 else "report"


def cached_index(tag: str, files: list[Path], root: Path, prefix: str):
    h = hashlib.sha256()
    for name in _METHOD:
        h.update((Path(corpora.__file__).parent / name).read_bytes())
    path = corpora.cache_dir() / "code-corpora" / f"bench-{tag}-{h.hexdigest()[:16]}.npz"
    if path.exists():
        return load_index(path)
    parsed = []
    for p in files:
        rel = p.relative_to(root).as_posix()
        r = read_source(rel, p)
        if not isinstance(r, Skipped):
            parsed.append((f"{prefix}/{rel}", r))
    idx = index_from_sources(parsed)
    save_index(idx, path)
    return idx


def judge(idx, paths: list[Path]) -> dict[Path, dict]:
    """Each file's entry, from one `analyse` call per extracted distribution with that distribution as the
    candidate tree (the files a port builds on are part of it, `tree.py`), judging only the given files."""
    top = corpora.cache_dir() / "code-corpora" / "x"
    by_root: dict[Path, list[Path]] = {}
    for p in paths:
        by_root.setdefault(top / p.relative_to(top).parts[0], []).append(p)
    out: dict[Path, dict] = {}
    for root, ps in sorted(by_root.items()):
        rels = {p.relative_to(root).as_posix(): p for p in ps}
        for f in analyse(root, [], indices=[idx], files=sorted(rels))["files"]:
            out[rels[f["file"]]] = f
    return out


def records(idx, items: list[tuple[Path, set[str] | None]], folder_truth: bool = True, named: bool = False) -> list[dict]:
    """`record` for every (file, truth), in order; `named`: a file is named by its path under the cache (the
    third to eleventh sets, whose files share names) and counts as `report` (those sets have no tune half)."""
    entries = judge(idx, [p for p, _ in items])
    rows = []
    for p, truth in items:
        if named:
            rows.append(record(entries[p], idx, p, truth, True, name=p.relative_to(corpora.cache_dir()).as_posix())
                        | {"half": "report"})
        else:
            rows.append(record(entries[p], idx, p, truth, folder_truth))
    return rows


def record(f: dict, idx, path: Path, truth: set[str] | None, folder_truth: bool, name: str | None = None) -> dict:
    key = (lambda o: o.split("/")[1]) if folder_truth else (lambda o: o)
    rec = {"file": name or path.name, "relation": f["relation"], "origins": f["origins"],
           "rules": [d["rules"] for d in f["origin_details"]], "ranking": [r["reference_file"] for r in f["ranking"]],
           "scores": [[r["score"], r["p_value"], r["code_score"], r["identifier_score"]] for r in f["ranking"]],
           "port_ref": (f.get("port_test") or {}).get("reference_file"),
           "copyright": f["attribution"]["copyright"],
           "claims": f["declared_origins"], "port_p": (f.get("port_test") or {}).get("p_value"),
           "interface": (f.get("interface_test") or {}).get("statistic"),
           "module_share": (f.get("interface_test") or {}).get("module_share"),
           "builds_on": [[b["file"], b["mass_ratio"]] for b in f.get("builds_on", []) if b["relation"] != "independent"]}
    if truth is not None:
        rec["truth"] = sorted(truth)
        rec["right"] = f["relation"] != "independent" and any(key(o) in truth for o in f["origins"])
        rec["first_right"] = bool(f["origins"]) and key(f["origins"][0]) in truth
        rec["top1"] = bool(f["ranking"]) and key(f["ranking"][0]["reference_file"]) in truth
        rec["half"] = half(path.name)
        # the file's own statement of origin, read from its text (not from the tool's verdict): a port whose
        # header says "Adapted from …/llama/modeling_llama.py" has llama as a right origin too
        named = {key(n) for n in idx.files for d in parse_declarations(extract(path.read_text(encoding="utf-8")).mentions)
                 if names_reference(d, n)}
        rec["declared_truth"] = sorted(named - truth)
        rec["right_or_declared"] = f["relation"] != "independent" and any(key(o) in truth | named for o in f["origins"])
    else:
        # independent files: halves by their path under the cache (many share a file name)
        rec["half"] = half(path.relative_to(corpora.cache_dir()).as_posix())
    return rec


def summary(rows: list[dict]) -> dict:
    out: dict = {"n": len(rows), "flagged": sum(r["relation"] != "independent" for r in rows)}
    if rows and "truth" in rows[0]:
        for h in ("tune", "report", "all"):
            sub = [r for r in rows if h == "all" or r["half"] == h]
            n = max(1, len(sub))
            out[h] = {"n": len(sub), "right": sum(r["right"] for r in sub) / n,
                      "right_or_declared": sum(r["right_or_declared"] for r in sub) / n,
                      "first_right": sum(r["first_right"] for r in sub) / n, "top1": sum(r["top1"] for r in sub) / n}
        for flag in (True, False):  # fresh_mlx: folders mlx-lm also has (the projects may share code) apart from the rest
            sub = [r for r in rows if r.get("in_mlx_lm") is flag]
            if sub:
                out[f"in_mlx_lm={flag}"] = {"n": len(sub), "right": sum(r["right"] for r in sub) / len(sub)}
    else:
        out["rate"] = out["flagged"] / max(1, len(rows))
        for h in ("tune", "report"):
            sub = [r for r in rows if r["half"] == h]
            out[h] = {"n": len(sub), "flagged": sum(r["relation"] != "independent" for r in sub)}
        out["flagged_files"] = [{k: r[k] for k in ("file", "relation", "origins", "rules")} for r in rows
                                if r["relation"] != "independent"]
    return out


def sglang_declared_vllm(sg: list[Path], vidx) -> dict[str, set[str]]:
    out = {}
    for p in sg:
        decls = [d for d in parse_declarations(extract(p.read_text(encoding="utf-8")).mentions)
                 if any("vllm" in part.lower() for path in d.paths for part in path)]
        named = {n for n in vidx.files for d in decls if names_reference(d, n)}
        if named:
            out[p.name] = named
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(HERE / "_work" / "code_verdicts.json"))
    ap.add_argument("--sets", default="vllm,mlx,sglang_tf,sglang_vllm,independent,keras_hub,heldout,lmdeploy",
                    help="comma-separated; `fresh` adds the third held-out set, `fourth` the fourth, `fifth` the fifth, `sixth` the sixth, `seventh` the seventh, `eighth` the eighth, `ninth` the ninth, `tenth` the tenth, `eleventh` the unrun eleventh (see above)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    models = corpora.transformers_models(corpora.TRANSFORMERS_PORTS)
    refs = corpora.model_files(models)
    folders = {p.relative_to(models).parts[0] for p in refs}  # the transformers model folders
    tidx = cached_index("tf5.24.0", refs, models, "transformers")
    vroot = corpora.vllm_models()
    vfiles = [p for p in sorted(vroot.glob("*.py")) if p.name != "__init__.py"]
    sets = args.sets.split(",")
    rows: dict[str, list[dict]] = {}
    if "vllm" in sets:
        gt = ground_truth(refs, models, vfiles)
        rows["vllm"] = records(tidx, [(p, gt[p.name]) for p in vfiles if p.name in gt])
        save(args.out, rows, t0)
    if "mlx" in sets:
        mlx = [p for p in sorted(corpora.mlx_models().glob("*.py")) if p.stem.lower() in folders]
        rows["mlx"] = records(tidx, [(p, {p.stem.lower()}) for p in mlx])
        save(args.out, rows, t0)
    if "lmdeploy" in sets:
        lm = [p for p in sorted(corpora.lmdeploy_models().glob("*.py")) if p.name != "__init__.py"]
        gt = ground_truth(refs, models, lm)
        rows["lmdeploy"] = records(tidx, [(p, gt[p.name]) for p in lm if p.name in gt])
        save(args.out, rows, t0)
    sg = [p for p in sorted(corpora.sglang_models().glob("*.py")) if p.name != "__init__.py"]
    if "sglang_tf" in sets:
        gt = ground_truth(refs, models, sg)
        rows["sglang_tf"] = records(tidx, [(p, gt[p.name]) for p in sg if p.name in gt])
        save(args.out, rows, t0)
    if "sglang_vllm" in sets:
        vidx = cached_index("vllm0.33.0", vfiles, vroot, "models")
        gt = sglang_declared_vllm(sg, vidx)
        rows["sglang_vllm"] = records(vidx, [(p, gt[p.name]) for p in sg if p.name in gt], folder_truth=False)
        save(args.out, rows, t0)
    if "independent" in sets:
        rows["independent"] = records(tidx, [(p, None) for p in corpora.independent_model_code()])
        save(args.out, rows, t0)
    if "keras_hub" in sets:
        rows["keras_hub"] = records(tidx, [(p, None) for p in corpora.keras_hub_model_code()])
        save(args.out, rows, t0)
    if "heldout" in sets:
        rows["heldout"] = records(tidx, [(p, None) for p in corpora.heldout_independent_code()])
        rows["hf_bridge"] = records(tidx, [(p, None) for p in corpora.heldout_independent_code(bridges=True)])
    if "fresh" in sets:
        fresh(rows, tidx, refs, models, folders, args.out, t0)
    if "fourth" in sets:
        rows["fourth_ports"] = records(tidx, [(p, {f}) for p, f in heldout.fourth_ports(folders)], named=True)
        rows["fourth_independent"] = records(tidx, [(p, None) for p in heldout.independent_code(heldout.FOURTH_INDEPENDENT, None)],
                                             named=True)
    if "fifth" in sets:
        named_set(rows, tidx, "fifth", heldout.fifth_ports(folders), heldout.FIFTH_INDEPENDENT)
    if "sixth" in sets:
        sixth(rows, tidx, refs, models, folders)
    if "seventh" in sets:
        named_set(rows, tidx, "seventh", heldout.seventh_ports(folders), heldout.SEVENTH_INDEPENDENT)
    if "eighth" in sets:
        named_set(rows, tidx, "eighth", heldout.eighth_ports(folders), heldout.EIGHTH_INDEPENDENT)
    if "ninth" in sets:
        dropped = heldout.ninth_vllm_models()
        gt = ground_truth(refs, models, dropped)
        rows["ninth_vllm"] = records(tidx, [(p, gt[p.name]) for p in dropped if p.name in gt], named=True)
    if "tenth" in sets:
        independent(rows, tidx, "tenth", heldout.TENTH_INDEPENDENT)
    if "eleventh" in sets:
        named_set(rows, tidx, "eleventh", heldout.eleventh_ports(folders), heldout.ELEVENTH_INDEPENDENT)
    save(args.out, rows, t0)


def sixth(rows: dict[str, list[dict]], tidx, refs: list[Path], models: Path, folders: set[str]) -> None:
    """The sixth held-out set (see the module docstring); every file counts as `report`."""
    rows["sixth_ports"] = records(tidx, [(p, {f}) for p, f in heldout.sixth_ports(folders)], named=True)
    engine = heldout.sixth_engine_models()
    gt = ground_truth(refs, models, engine)
    rows["sixth_engine"] = records(tidx, [(p, gt[p.name]) for p in engine if p.name in gt], named=True)
    independent(rows, tidx, "sixth", heldout.SIXTH_INDEPENDENT)


def named_set(rows: dict[str, list[dict]], tidx, tag: str, ports: list[tuple[Path, str]], spec) -> None:
    """`<tag>_ports` (each file with its folder as truth) and the set's independent code (`independent`)."""
    rows[f"{tag}_ports"] = records(tidx, [(p, {f}) for p, f in ports], named=True)
    independent(rows, tidx, tag, spec)


def independent(rows: dict[str, list[dict]], tidx, tag: str, spec) -> None:
    """`<tag>_independent` and `<tag>_bridge`: a held-out set's independent code and its Hugging Face bridges."""
    for name, bridges in ((f"{tag}_independent", False), (f"{tag}_bridge", True)):
        rows[name] = records(tidx, [(p, None) for p in heldout.independent_code(spec, bridges)], named=True)


def fresh(rows: dict[str, list[dict]], tidx, refs: list[Path], models: Path, folders: set[str], out: str,
          t0: float) -> None:
    """The third held-out set (see the module docstring); every file counts as `report`."""
    in_mlx_lm = {p.stem.lower() for p in corpora.mlx_models().glob("*.py")}
    rows["fresh_mlx"] = [r | {"in_mlx_lm": r["truth"][0] in in_mlx_lm}
                         for r in records(tidx, [(p, {f}) for p, f in heldout.fresh_mlx_ports(folders)], named=True)]
    save(out, rows, t0)
    new_vllm = heldout.fresh_vllm_models()
    gt = ground_truth(refs, models, new_vllm)
    rows["fresh_vllm"] = [r | {"half": "report"} for r in records(tidx, [(p, gt[p.name]) for p in new_vllm if p.name in gt])]
    save(out, rows, t0)
    jax, neuron = heldout.fresh_engine_models()
    gt = ground_truth(refs, models, jax)
    rows["fresh_engines"] = records(tidx, [(p, gt[p.name]) for p in jax if p.name in gt]
                                    + [(p, {p.parent.name}) for p in neuron if p.parent.name in folders], named=True)
    save(out, rows, t0)
    independent(rows, tidx, "fresh", heldout.FRESH_INDEPENDENT)
    save(out, rows, t0)


def save(out: str, rows: dict[str, list[dict]], t0: float) -> None:
    """Write what is done so far (each set is saved as soon as it is complete)."""
    report = {"seconds": time.perf_counter() - t0, "summary": {k: summary(v) for k, v in rows.items()}, "rows": rows}
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "flagged_files"} for k, v in report["summary"].items()}),
          flush=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())
