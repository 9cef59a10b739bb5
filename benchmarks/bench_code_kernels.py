"""C++/CUDA kernels: disguised copies and independent kernels for the same operations.

Reference corpus: llama.cpp's ggml CUDA and CPU backends as vendored in the
llama-cpp-python sdist (corpora.ggml_kernels). Two sets of candidates, queried
against it with the tool's own verdicts (fromscratch.code.api.analyse):

(a) disguised copies: ggml files of at least 40 lines (a name-hashed sample),
    each with comments dropped, every declared identifier renamed, top-level
    functions reordered and the layout reflowed (tests/code/obfuscate_c.py).
    Reported: rank-1 rate of the original, first-origin rate, origins with at
    most one other entry, relation copied/adapted.
(b) independent kernels: xformers' csrc and flash-attention's csrc (shipped in
    the xformers sdist: attention, layer norm, SwiGLU, sparse kernels), written
    without ggml; ggml has its own kernels for the same operations (flash
    attention, norms, GLU, softmax). Reported: how many are called copied/adapted.

Usage: python benchmarks/bench_code_kernels.py [--disguised 40] [--out benchmarks/_work/code_kernels.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

from fromscratch.code import corpora
from fromscratch.code.api import analyse
from fromscratch.code.index import index_from_sources
from fromscratch.code.sources import Skipped, read_source

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests" / "code"))
from obfuscate_c import disguise_c  # noqa: E402


def _h(s: str) -> bytes:
    return hashlib.blake2b(s.encode(), digest_size=8).digest()


def build(files: list[Path], root: Path):
    parsed = []
    for p in files:
        rel = p.relative_to(root).as_posix()
        r = read_source(rel, p)
        if not isinstance(r, Skipped) and r.units:
            parsed.append((f"ggml/{rel}", r))
    return index_from_sources(parsed)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--disguised", type=int, default=40)
    ap.add_argument("--out", default=str(HERE / "_work" / "code_kernels.json"))
    args = ap.parse_args()
    refs = corpora.ggml_kernels()
    root = refs[0].parents[1]
    t0 = time.perf_counter()
    idx = build(refs, root)
    t_index = time.perf_counter() - t0
    big = [p for p in refs if p.read_text(encoding="utf-8", errors="replace").count("\n") >= 40]
    sample = sorted(big, key=lambda p: _h(p.relative_to(root).as_posix()))[: args.disguised]
    rows, indep = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, p in enumerate(sample):
            name = f"ggml/{p.relative_to(root).as_posix()}"
            cand = Path(tmp) / f"cand{p.suffix}"
            cand.write_text(disguise_c(p.name, p.read_text(encoding="utf-8"), seed=i))
            f = analyse(cand, [], indices=[idx])["files"][0]
            rows.append({"file": name, "rank1": bool(f["ranking"]) and f["ranking"][0]["reference_file"] == name,
                         "first_origin": bool(f["origins"]) and f["origins"][0] == name,
                         "n_origins": len(f["origins"]), "relation": f["relation"],
                         "top": f["ranking"][0]["reference_file"] if f["ranking"] else None})
        t1 = time.perf_counter()
        cands = corpora.independent_kernels()
        for p in cands:
            f = analyse(p, [], indices=[idx])["files"][0]
            indep.append({"file": p.as_posix().split("xformers-")[-1], "relation": f["relation"],
                          "origins": f["origins"][:3], "top": f["ranking"][0] if f["ranking"] else None,
                          "note": f.get("note")})
        t_query = time.perf_counter() - t1
    n = max(1, len(rows))
    flagged = [r for r in indep if r["relation"] != "independent"]
    report = {
        "references": len(idx.files), "units": int(len(idx.unit_file)), "index_seconds": t_index,
        "independent_query_seconds": t_query,
        "disguised": {"n": len(rows), "rank1": sum(r["rank1"] for r in rows) / n,
                      "first_origin": sum(r["first_origin"] for r in rows) / n,
                      "at_most_one_other": sum(r["n_origins"] <= 2 for r in rows) / n,
                      "copied_or_adapted": sum(r["relation"] != "independent" for r in rows) / n,
                      "misses": [r for r in rows if not (r["rank1"] and r["first_origin"])]},
        "independent": {"n": len(indep), "flagged": len(flagged), "flagged_files": flagged,
                        "skipped": [r for r in indep if r["note"]]},
    }
    print(json.dumps({k: v for k, v in report.items()}, indent=1)[:4000])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())
