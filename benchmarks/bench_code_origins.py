"""Origins and attribution on disguised copies of real transformers files.

(a) 60 PyTorch modelling files of transformers 4.46.3 (the same name-hashed sample
    as bench_code_copies.py), each disguised (tests/code/obfuscate.py: renamed,
    reformatted, comment- and docstring-free, reordered) and released with five
    header variants: the original licence/copyright header kept on top, moved to
    the end of the file, stripped, replaced by another team's MIT header, and
    partial (the copyright lines kept, the licence text dropped). Each is analysed
    against all 367 modelling files (originals present). Reported: how often the
    true source is the first origin, how often the origins list has at most one
    other entry, and whether `attributed` is right (true for kept and moved,
    false for the other three).
(b) 20 merged files: the top-level definitions of two unrelated modelling files
    concatenated (both disguised); reported: how often both sources are among the
    origins, and the marginal share of the second.
(c) padded copies: the first --padded disguised files followed by unrelated code (torchtune's
    model files, which no reference holds) k times the copy's length, k in PAD_FACTORS, cut
    at a top-level `def`; reported per k: how often the true source is the first origin,
    and the rules of that origin (padding dilutes every share of the file, not the share of
    the reference it holds: rule `contains`).

Usage: python benchmarks/bench_code_origins.py [--n 60] [--merged 20] [--padded 20] [--out benchmarks/_work/code_origins.json]
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fromscratch.code import corpora
from fromscratch.code.api import analyse
from fromscratch.code.index import index_from_sources, load_index, save_index
from fromscratch.code.lang import PythonLanguage

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests" / "code"))
from obfuscate import disguise  # noqa: E402

_METHOD = ("lang.py", "lang_c.py", "pytokens.py", "fingerprint.py", "index.py", "score.py", "port.py")
VARIANTS = ("kept", "moved", "stripped", "replaced", "partial")
EXPECTED = {"kept": True, "moved": True, "stripped": False, "replaced": False, "partial": False}


def _h(s: str) -> bytes:
    return hashlib.blake2b(s.encode(), digest_size=8).digest()


def corpus_index(models: Path):
    """The transformers 4.46.3 modelling-file index with its nulls, cached by a hash of the method's sources."""
    h = hashlib.sha256()
    for name in _METHOD:
        h.update((Path(corpora.__file__).parent / name).read_bytes())
    path = corpora.cache_dir() / "code-corpora" / f"bench-tf{corpora.TRANSFORMERS_COPIES}-{h.hexdigest()[:16]}.npz"
    if path.exists():
        return load_index(path)
    lang = PythonLanguage()
    parsed = [(f"transformers/{p.relative_to(models).as_posix()}", lang.parse(p.name, p.read_text(encoding="utf-8")))
              for p in corpora.model_files(models)]
    idx = index_from_sources(parsed)
    save_index(idx, path)
    return idx


def header(text: str) -> str:
    """The leading comment block (licence and copyright header) of a file."""
    out = []
    for line in text.splitlines():
        if line.startswith("#") or (not line.strip() and out):
            out.append(line)
        else:
            break
    return "\n".join(out).strip() + "\n"


def variant(kind: str, head: str, body: str) -> str:
    if kind == "kept":
        return head + body
    if kind == "moved":
        return body + "\n\n" + head
    if kind == "stripped":
        return body
    if kind == "replaced":
        return "# Copyright 2025 Team K. All rights reserved.\n# SPDX-License-Identifier: MIT\n" + body
    lines = [ln for ln in head.splitlines() if "copyright" in ln.lower()]
    return "\n".join(lines) + "\n" + body


def _one(idx, text: str, tmp: Path, name: str) -> dict:
    p = tmp / name
    p.write_text(text)
    return analyse(p, [], indices=[idx])["files"][0]


def disguised_variants(idx, models: Path, names: list[str], tmp: Path) -> dict:
    stats = {v: {"n": 0, "first_origin_right": 0, "at_most_one_other": 0, "attribution_right": 0} for v in VARIANTS}
    wrong: list[dict] = []
    left: list[float] = []  # per file (stripped variant): the largest share a left-out reference would add
    for i, name in enumerate(names):
        text = (models / name.split("/", 1)[1]).read_text(encoding="utf-8")
        head, body = header(text), disguise(text, seed=i)
        for v in VARIANTS:
            f = _one(idx, variant(v, head, body), tmp, "cand.py")
            s = stats[v]
            s["n"] += 1
            first = bool(f["origins"]) and f["origins"][0] == name
            s["first_origin_right"] += first
            s["at_most_one_other"] += len(f["origins"]) <= 2
            ok = f["attribution"]["attributed"] is EXPECTED[v]
            if v == "stripped":
                left.append(max([a["share"] for a in f["also_matching"]] + [0.0]))
            s["attribution_right"] += ok
            if not (first and ok and len(f["origins"]) <= 2):
                wrong.append({"file": name, "variant": v, "origins": f["origins"][:4],
                              "attributed": f["attribution"]["attributed"]})
    for s in stats.values():
        for k in ("first_origin_right", "at_most_one_other", "attribution_right"):
            s[k + "_rate"] = s[k] / max(1, s["n"])
    q = np.quantile(left, [0.5, 0.9, 0.99, 1.0]).tolist() if left else []
    return {"variants": stats, "wrong": wrong[:40], "left_out_share_quantiles_50_90_99_max": q}


def merged(idx, models: Path, names: list[str], tmp: Path, n: int) -> dict:
    both = 0
    rows = []
    for i in range(n):
        a, b = names[2 * i], names[2 * i + 1]
        ta = disguise((models / a.split("/", 1)[1]).read_text(encoding="utf-8"), seed=100 + i, reorder=False)
        tb = disguise((models / b.split("/", 1)[1]).read_text(encoding="utf-8"), seed=200 + i, reorder=False)
        try:
            ast.parse(ta + "\n" + tb)
        except SyntaxError:
            continue
        f = _one(idx, ta + "\n\n" + tb, tmp, "merged.py")
        ok = a in f["origins"] and b in f["origins"]
        both += ok
        gain = {d["reference_file"]: d["share"] for d in f["origin_details"][1:]}
        gain.update({x["reference_file"]: x["share"] for x in f["also_matching"]})
        second = [g for r, g in gain.items() if r in (a, b)]
        rows.append({"a": a, "b": b, "origins": f["origins"], "shares": [d["share"] for d in f["origin_details"]],
                     "second_source_share": max(second + [0.0])})
    seconds = sorted(r["second_source_share"] for r in rows)
    return {"n": len(rows), "both_sources_listed": both, "rate": both / max(1, len(rows)),
            "second_source_share_sorted": seconds, "rows": rows}


PAD_FACTORS = (2, 4, 8, 16)


def _padding(pool: str, length: int, seed: int) -> str:
    """About `length` characters of `pool` from a seeded offset, from one top-level `def` to another."""
    start = (seed * 7919) % max(1, len(pool) - length - 1)
    chunk = pool[start:start + length]
    first, last = chunk.find("\ndef "), chunk.rfind("\ndef ")
    return chunk[first + 1:last] if 0 <= first < last else ""


def padded(idx, models: Path, names: list[str], tmp: Path) -> dict:
    pool = "\n\n".join(p.read_text(encoding="utf-8") for p in corpora.independent_model_code()
                        if "torchtune" in p.as_posix() and p.stat().st_size > 3000)
    out: dict = {}
    for k in PAD_FACTORS:
        row: dict = {"n": 0, "first_origin_right": 0, "rules": {}, "padding_ratio_min_max": []}
        ratios = []
        for i, name in enumerate(names):
            body = disguise((models / name.split("/", 1)[1]).read_text(encoding="utf-8"), seed=i)
            pad = _padding(pool, k * len(body), i)
            try:
                ast.parse(body + "\n\n" + pad)
            except SyntaxError:
                continue
            f = _one(idx, body + "\n\n" + pad, tmp, "padded.py")
            row["n"] += 1
            ratios.append(len(pad) / len(body))
            row["first_origin_right"] += bool(f["origins"]) and f["origins"][0] == name
            key = "+".join(f["origin_details"][0]["rules"]) if f["origin_details"] else "none"
            row["rules"][key] = row["rules"].get(key, 0) + 1
        row["padding_ratio_min_max"] = [round(min(ratios), 2), round(max(ratios), 2)] if ratios else []
        out[str(k)] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--merged", type=int, default=20)
    ap.add_argument("--padded", type=int, default=20)
    ap.add_argument("--out", default=str(HERE / "_work" / "code_origins.json"))
    args = ap.parse_args()
    models = corpora.transformers_models(corpora.TRANSFORMERS_COPIES)
    t0 = time.perf_counter()
    idx = corpus_index(models)
    t_index = time.perf_counter() - t0
    pt = sorted((f for f in idx.files if "/modeling_tf_" not in f and "/modeling_flax_" not in f), key=_h)
    report: dict = {"references": len(idx.files), "index_seconds": t_index}
    with tempfile.TemporaryDirectory() as tmp:
        report["disguised"] = disguised_variants(idx, models, pt[: args.n], Path(tmp))
        print(json.dumps(report["disguised"]["variants"], indent=1), flush=True)
        rest = pt[args.n: args.n + 2 * args.merged]
        report["merged"] = merged(idx, models, rest, Path(tmp), args.merged)
        print({k: v for k, v in report["merged"].items() if k != "rows"}, flush=True)
        report["padded"] = padded(idx, models, pt[: args.padded], Path(tmp))
        print(json.dumps(report["padded"], indent=1), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())
