#!/usr/bin/env python
"""Time and peak memory of ``verify_chain`` on a generated chain of ~1B checkpoints.

The chain: ``--checkpoints`` (default 20) TinyLlama-shaped BF16 safetensors
checkpoints (d=2048, ff=5632, 22 layers, 32k vocabulary, untied head; 1.10 B
parameters each). CKPT_0 is a fresh ``Normal(0, 0.02)`` draw with norms at one;
each later checkpoint adds a shifted copy of a per-tensor random direction to
the previous one (a derived step of a few per cent). All checkpoints are
written in one pass, tensor by tensor, so the generator holds three tensors.

Measured in fresh subprocesses: a plain sequential read of every file (the
baseline: the bytes must be read once anyway), then ``verify_chain`` with an
empty fingerprint cache; ratio = read time / chain time. Peak memory is the
child's VmHWM. The files are deleted afterwards unless ``--keep``.

    python benchmarks/bench_chain.py [--checkpoints N] [--work DIR] [--keep] [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))  # for tests.generators
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

CHILD = r"""
import json, os, sys, time, resource
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
mode, paths = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
out = {}
if mode == "read":
    buf = bytearray(16 << 20)
    n = 0
    for p in paths:
        with open(os.path.join(p, "model.safetensors"), "rb", buffering=0) as fh:
            while True:
                k = fh.readinto(buf)
                if not k:
                    break
                n += k
    out["bytes"] = n
elif mode == "init":
    from fromscratch.chain.init import check_init
    o = check_init(paths[0])
    out.update(fresh=o["fresh"], p_value=o["p_value"], tests=o["tests"])
else:
    from fromscratch.chain.api import verify_chain
    o = verify_chain(paths, model=paths[-1])
    out.update(verdict=o["verdict"], steps=len(o["steps"]), fresh=o["init"]["fresh"],
               changes=[s["change"] for s in o["steps"]])
out["seconds"] = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
out["cpu_s"] = ru.ru_utime + ru.ru_stime
out["peak_mb"] = hwm()
out["load"] = os.getloadavg()[0]
print(json.dumps(out))
"""


def child(mode: str, paths: list[Path], cache: Path) -> dict:
    env = dict(os.environ, FROMSCRATCH_LINEAGE_CACHE=str(cache), PYTHONPATH=str(ROOT / "src"))
    res = subprocess.run([sys.executable, "-c", CHILD, mode, *map(str, paths)], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _side_files(folder: Path, words: list[str], shape: dict) -> None:
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": shape["d"],
           "intermediate_size": shape["ff"], "num_hidden_layers": shape["layers"], "num_attention_heads": 32,
           "num_key_value_heads": 4, "vocab_size": 32000, "tie_word_embeddings": False,
           "initializer_range": 0.02}
    (folder / "config.json").write_text(json.dumps(cfg))
    tok = {"version": "1.0", "added_tokens": [], "pre_tokenizer": {"type": "ByteLevel"},
           "decoder": {"type": "ByteLevel"},
           "model": {"type": "BPE", "vocab": {w: i for i, w in enumerate(words)}, "merges": []}}
    (folder / "tokenizer.json").write_text(json.dumps(tok))


def _bf16(w: np.ndarray) -> bytes:
    """float32 -> BF16 bytes by truncation (a plain shift: generation must not dominate the benchmark)."""
    return (w.view(np.uint32) >> 16).astype(np.uint16).tobytes()


SHAPES = {"1b": dict(d=2048, ff=5632, layers=22), "150m": dict(d=1024, ff=2816, layers=8)}


def checkpoint_bytes(shape: str) -> int:
    """Bytes of one BF16 checkpoint of ``shape`` (tensor data; the header and side files are small)."""
    from bench_read import llama_shapes

    cfg = SHAPES[shape]
    return 2 * sum(int(np.prod(s)) for _, s in llama_shapes(cfg["d"], cfg["ff"], 32000, cfg["layers"], kv=256,
                                                            lm_head=True))


def write_chain(work: Path, n: int, step: float = 0.03, shape: str = "1b") -> list[Path]:
    """All ``n`` checkpoints in one pass over the tensors (three tensors in memory).

    One random draw per tensor: the step direction is the initial draw shifted
    along both axes (unrelated values for an i.i.d. draw), shifted again at each step.
    """
    from bench_read import llama_shapes, safetensors_bf16_header

    from tests.generators.lineage_synthetic import vocab_words

    cfg = SHAPES[shape]
    shapes = llama_shapes(cfg["d"], cfg["ff"], 32000, cfg["layers"], kv=256, lm_head=True)
    folders = [work / f"step-{k:03d}" for k in range(n)]
    words = vocab_words(32000)
    handles = []
    for f in folders:
        f.mkdir(parents=True, exist_ok=True)
        _side_files(f, words, cfg)
        fh = open(f / "model.safetensors", "wb")
        fh.write(safetensors_bf16_header(shapes))
        handles.append(fh)
    try:
        for t, (name, shape) in enumerate(shapes):
            rng = np.random.default_rng(t)
            if len(shape) == 1:
                w = np.ones(shape, dtype=np.float32)
                d = rng.standard_normal(shape, dtype=np.float32) * 0.01
            else:
                w = rng.standard_normal(shape, dtype=np.float32) * 0.02
                d = np.roll(w, (shape[0] // 3, shape[1] // 5), axis=(0, 1)) * step
            for k, fh in enumerate(handles):
                if k:
                    w += np.roll(d, 7 * k, axis=0)
                fh.write(_bf16(w))
            del w, d
    finally:
        for fh in handles:
            fh.close()
    return folders


def _init_cell(row: dict) -> str:
    if row["init_s"] is None:
        return "not timed alone"
    return f"{row['init_s']:.0f} s / {row['init_cpu_s']:.0f} s CPU"


def render(row: dict) -> str:
    gb = row["bytes"] / 1e9
    return "\n".join([
        "| chain | bytes | plain read | init test (CKPT_0) | verify_chain, cold cache (wall / CPU) | ratio (read / chain) | peak memory | verdict |",
        "|---|---|---|---|---|---|---|---|",
        f"| {row['checkpoints']} x {row['shape']} BF16 | {gb:.1f} GB | {row['read_s']:.0f} s "
        f"({gb / row['read_s']:.2f} GB/s) | {_init_cell(row)} | "
        f"{row['chain_s']:.0f} s / {row['chain_cpu_s']:.0f} s | {row['read_s'] / row['chain_s']:.2f} | "
        f"{row['peak_mb']} MB | {row['verdict']} |"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", type=int, default=20)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="1b",
                    help="1b: TinyLlama (1.10 B); 150m: d=1024, 8 layers (0.16 B), for a loaded machine")
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--no-init-alone", action="store_true",
                    help="skip timing the init test on its own (verify_chain runs it anyway); saves its CPU time")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-chain-"))
    work.mkdir(parents=True, exist_ok=True)
    need = args.checkpoints * checkpoint_bytes(args.shape)
    if shutil.disk_usage(work).free < need + 5e9:
        print(f"not enough free disk under {work} ({need / 1e9:.1f} GB + 5 GB margin needed)", file=sys.stderr)
        return 2
    try:
        paths = write_chain(work, args.checkpoints, shape=args.shape)
        cache = work / "fp-cache"
        read = child("read", paths, cache)
        init = {"seconds": None, "cpu_s": None, "peak_mb": None} if args.no_init_alone else \
            child("init", paths[:1], cache)
        shutil.rmtree(cache, ignore_errors=True)
        chain = child("chain", paths, cache)
        row = {"checkpoints": args.checkpoints, "shape": args.shape, "bytes": read["bytes"], "read_s": read["seconds"],
               "init_s": init["seconds"], "init_cpu_s": init["cpu_s"], "init_peak_mb": init["peak_mb"],
               "chain_s": chain["seconds"], "chain_cpu_s": chain["cpu_s"], "peak_mb": chain["peak_mb"],
               "verdict": chain["verdict"], "fresh": chain["fresh"], "load_average": round(chain["load"], 1)}
        print(json.dumps(row), flush=True)
        print(render(row))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
