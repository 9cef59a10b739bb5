"""Real-size MoE: a disguised copy of a 106B-parameter, 128-expert checkpoint, at 2 layers.

    python benchmarks/bench_moe.py [--work /tmp/moebench] [--keep]

Writes two sharded FP8 (DeepSeek-V3 block-scaled, ``weight_scale_inv``)
safetensors checkpoints with the exact tensor shapes of GLM-4.5-Air (hidden
4096, vocabulary 151,552, GQA 96/8 heads with q/k/v biases, 128 routed experts
of width 1408 plus one shared expert, first layer dense with width 10,944) but
only 2 of its 46 layers (the dense layer 0 and MoE layer 1). B is A with the
residual stream permuted, the experts permuted within the layer and 20 %
Gaussian drift (relative RMS) on every tensor, re-quantised. Reports the
verdict, the expert mapping found against the true permutation, peak RSS of the
fingerprinting process, fingerprint time per dense / MoE layer and for the
embedding and head, the plain-read to fingerprint speed ratio and the
extrapolated full-depth (1 dense + 45 MoE layers) time. Then, unless
``--skip-dask``, ``bench_dask.run`` (one process against a 2-worker
LocalCluster on a 4-shard 1.1B checkpoint, same run: ratio and byte identity).
Files are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))  # for tests.generators
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "benchmarks")]

H, V, E, FF_E, FF_D, NQ, NKV, HD = 4096, 151552, 128, 1408, 10944, 96, 8, 128
FP8_MAX = 448.0


def glm_layer(i: int, moe: bool) -> list[tuple[str, tuple[int, ...], str]]:
    p = f"model.layers.{i}."
    t = [(p + "input_layernorm.weight", (H,), "BF16"), (p + "post_attention_layernorm.weight", (H,), "BF16")]
    for n, out in (("q", NQ * HD), ("k", NKV * HD), ("v", NKV * HD)):
        t += [(p + f"self_attn.{n}_proj.weight", (out, H), "F8"), (p + f"self_attn.{n}_proj.bias", (out,), "BF16")]
    t.append((p + "self_attn.o_proj.weight", (H, NQ * HD), "F8"))
    if not moe:
        return t + [(p + "mlp.gate_proj.weight", (FF_D, H), "F8"), (p + "mlp.up_proj.weight", (FF_D, H), "F8"),
                    (p + "mlp.down_proj.weight", (H, FF_D), "F8")]
    t += [(p + "mlp.gate.weight", (E, H), "BF16"), (p + "mlp.gate.e_score_correction_bias", (E,), "F32")]
    for e in range(E):
        q = p + f"mlp.experts.{e}."
        t += [(q + "gate_proj.weight", (FF_E, H), "F8"), (q + "up_proj.weight", (FF_E, H), "F8"),
              (q + "down_proj.weight", (H, FF_E), "F8")]
    q = p + "mlp.shared_experts."
    return t + [(q + "gate_proj.weight", (FF_E, H), "F8"), (q + "up_proj.weight", (FF_E, H), "F8"),
                (q + "down_proj.weight", (H, FF_E), "F8")]


def shards() -> list[list[tuple[str, tuple[int, ...], str]]]:
    return [[("model.embed_tokens.weight", (V, H), "BF16")], glm_layer(0, False), glm_layer(1, True),
            [("model.norm.weight", (H,), "BF16"), ("lm_head.weight", (V, H), "BF16")]]


def _quant(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FP8 E4M3 with one scale per 128 x 128 block (DeepSeek-V3)."""
    import ml_dtypes

    r, c = w.shape
    br, bc = -(-r // 128), -(-c // 128)
    pad = np.zeros((br * 128, bc * 128), np.float32)
    pad[:r, :c] = w
    blocks = pad.reshape(br, 128, bc, 128)
    scale = np.maximum(np.abs(blocks).max(axis=(1, 3)) / FP8_MAX, 1e-12).astype(np.float32)
    q = (blocks / scale[:, None, :, None]).reshape(br * 128, bc * 128)[:r, :c]
    return q.astype(ml_dtypes.float8_e4m3fn), scale


#: rows generated at a time for the embedding and head (the generator itself stays within ~1 GB)
GEN_ROWS = 8192


def _value_blocks(name: str, shape: tuple[int, ...], role_perm: dict, perm: np.ndarray | None, drift: float):
    """A's tensor ``name`` (seeded by name), or its disguised version in B, in row blocks.

    ``rng.random`` fills row-major, so consecutive row blocks drawn from one generator are
    the rows of the whole tensor; a tensor whose rows are permuted (shape[0] == H) is
    made whole (at most 4096 x 12288). The drift's RMS is taken over the whole tensor
    (a first pass over the same blocks).
    """
    import zlib

    src = role_perm.get(name, name)
    whole = len(shape) != 2 or shape[0] <= 4 * GEN_ROWS or (perm is not None and shape[0] == H)
    step = shape[0] if whole or not shape else GEN_ROWS

    def clean():
        rng = np.random.default_rng(zlib.crc32(src.encode()))
        for r0 in range(0, max(shape[0], 1) if shape else 1, max(step, 1)):
            rows = min(step, shape[0] - r0) if shape else None
            # uniform values (RMS 0.02): a third of the cost of Gaussian ones; the tests are distribution-free
            w = rng.random(shape if whole else (rows,) + tuple(shape[1:]), dtype=np.float32)
            w -= 0.5
            w *= 0.02 * np.sqrt(12.0)
            if len(shape) == 1 and "norm" in name:
                w += 1.0
            if perm is not None:
                if len(shape) == 1 and shape[0] == H and "bias" not in name:
                    w = w[perm]
                elif len(shape) == 2 and shape[1] == H:
                    w = np.ascontiguousarray(w[:, perm])
                elif len(shape) == 2 and shape[0] == H:
                    w = np.ascontiguousarray(w[perm, :])
            yield w

    if not drift:
        yield from clean()
        return
    ss = sum(float(np.dot(w.reshape(-1).astype(np.float64), w.reshape(-1))) for w in clean())
    rms = np.sqrt(ss / max(int(np.prod(shape)), 1))
    nrng = np.random.default_rng(zlib.crc32(("drift" + name).encode()))
    for w in clean():
        noise = nrng.random(w.shape, dtype=np.float32)
        noise -= 0.5
        noise *= drift * rms * np.sqrt(12.0)  # relative RMS = drift
        w += noise
        del noise
        yield w


def write_checkpoint(folder: Path, *, disguise: bool, seed: int = 7) -> dict:
    import ml_dtypes

    from tests.generators.lineage_synthetic import vocab_words

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(H) if disguise else None
    eperm = rng.permutation(E) if disguise else np.arange(E)
    if (folder / "tokenizer.json").exists():  # written completely by an earlier run (same seed, same bytes)
        return {"expert_perm": eperm.tolist(), "bytes": sum(p.stat().st_size for p in folder.iterdir()),
                "reused": True}
    role_perm = {}
    if disguise:  # B's expert e is A's expert eperm[e]
        for e in range(E):
            for r in ("gate_proj", "up_proj", "down_proj"):
                role_perm[f"model.layers.1.mlp.experts.{e}.{r}.weight"] = f"model.layers.1.mlp.experts.{eperm[e]}.{r}.weight"
    weight_map = {}
    for k, group in enumerate(shards()):
        fname = f"model-{k + 1:05d}-of-{len(shards()):05d}.safetensors"
        header, off, order = {}, 0, []
        for name, shape, kind in group:
            items = [(name, shape, "F8_E4M3" if kind == "F8" else kind)]
            if kind == "F8":
                items.append((name + "_scale_inv", (-(-shape[0] // 128), -(-shape[1] // 128)), "F32"))
            for n, s, d in items:
                nb = int(np.prod(s)) * {"F8_E4M3": 1, "BF16": 2, "F32": 4}[d]
                header[n] = {"dtype": d, "shape": list(s), "data_offsets": [off, off + nb]}
                off += nb
                order.append(n)
                weight_map[n] = fname
        h = json.dumps(header).encode()
        h += b" " * (-len(h) % 8)
        with open(folder / fname, "wb") as fh:
            fh.write(struct.pack("<Q", len(h)) + h)
            for name, shape, kind in group:
                for w in _value_blocks(name, shape, role_perm, perm, 0.2 if disguise else 0.0):
                    if kind == "F8":  # F8 tensors are at most 12,288 rows: one block
                        q, s = _quant(w)
                        fh.write(q.tobytes())
                        fh.write(s.tobytes())
                    elif kind == "BF16":
                        fh.write(w.astype(ml_dtypes.bfloat16).tobytes())
                    else:
                        fh.write(w.astype(np.float32).tobytes())
                    del w
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    cfg = {"architectures": ["Glm4MoeForCausalLM"], "model_type": "glm4_moe", "hidden_size": H, "vocab_size": V,
           "num_hidden_layers": 2, "num_attention_heads": NQ, "num_key_value_heads": NKV, "head_dim": HD,
           "intermediate_size": FF_D, "moe_intermediate_size": FF_E, "n_routed_experts": E, "n_shared_experts": 1,
           "first_k_dense_replace": 1, "attention_bias": True, "tie_word_embeddings": False,
           "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128]}}
    (folder / "config.json").write_text(json.dumps(cfg))
    words = vocab_words(V)
    tok = {"version": "1.0", "added_tokens": [], "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"},
           "model": {"type": "BPE", "vocab": {w: i for i, w in enumerate(words)}, "merges": []}}
    (folder / "tokenizer.json").write_text(json.dumps(tok))
    return {"expert_perm": eperm.tolist(), "bytes": sum(p.stat().st_size for p in folder.iterdir())}


CHILD = r"""
import json, os, sys, time, resource
sys.path.insert(0, os.environ["SRC"])
mode, path = sys.argv[1], sys.argv[2]
t = time.perf_counter()
if mode == "read":
    buf, n = bytearray(16 << 20), 0
    for f in sorted(os.listdir(path)):
        with open(os.path.join(path, f), "rb", buffering=0) as fh:
            while (k := fh.readinto(buf)):
                n += k
    out = {"bytes": n}
else:
    from pathlib import Path
    from fromscratch.artifacts import open_model
    from fromscratch.lineage.fingerprint import _fingerprint_model
    from fromscratch.progress import Bars
    from fromscratch.registry import fpfile

    class Clock:
        # the pass calls add_task once (after its anchor pass), then advance once per tensor
        def __init__(self):
            self.marks = []
        def add_task(self, label, total, completed=0):
            self.marks.append(time.perf_counter())
        def advance(self, task, n=1):
            self.marks.append(time.perf_counter())

    clock = Clock()
    t = time.perf_counter()
    with open_model(path) as m:
        fp = _fingerprint_model(m, progress=Bars(clock))
        anchors = {(c.name, tt.role, tt.expert) for c in m.components() for tt in c.tensors
                   if c.kind == "embedding" and c.name.endswith("embed_tokens") and tt.role == "weight"}
        todo = [(c.layer, c.name) for c in m.components() for tt in c.tensors
                if (c.name, tt.role, tt.expert) not in anchors]
    per = {}
    for (layer, name), t0, t1 in zip(todo, clock.marks, clock.marks[1:]):
        key = "other" if layer is None else str(layer)
        per[key] = per.get(key, 0.0) + (t1 - t0)
    fpfile.save(fp, Path(sys.argv[3]))
    out = {"arrays": len(fp.arrays), "anchor_pass_s": clock.marks[0] - t, "per_layer_s": per}
out["seconds"] = time.perf_counter() - t
# VmHWM, not ru_maxrss: on Linux a child's ru_maxrss can carry the high-water mark of the
# parent it was forked from (here the generator, which held several GB), VmHWM is this process's own
out["peak_mb"] = next(int(l.split()[1]) // 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps(out))
"""


def child(*args: str) -> dict:
    env = dict(os.environ, SRC=str(ROOT / "src"))
    res = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, env=env)
    if res.returncode:
        sys.exit(f"child {args[0]} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def expert_mapping(obj: dict, eperm: list[int]) -> dict:
    """Per tested candidate expert, the reference expert of its best unit test, against the truth."""
    best: dict[str, tuple[float, str]] = {}
    for c in obj["components"]:
        for t in (c.get("evidence") or {}).get("matrices") or []:
            if t.get("expert") in (None, "None") or t.get("reference_expert") in (None, "None"):
                continue
            key = str(t["expert"])
            if key not in best or t["p"] < best[key][0]:
                best[key] = (t["p"], str(t["reference_expert"]))
    pairs = {e: r for e, (_, r) in sorted(best.items(), key=lambda kv: int(kv[0]))}
    correct = sum(1 for e, r in pairs.items() if eperm[int(e)] == int(r))
    return {"tested": len(pairs), "correct": correct, "pairs": pairs}


def tinyllama_sharded(folder: Path, n_shards: int = 4) -> None:
    """TinyLlama-1.1B's layout in BF16, split over ``n_shards`` files (for the Dask measurement)."""
    import ml_dtypes
    from bench_lineage import tinyllama_shapes
    from bench_read import safetensors_bf16_header

    from tests.generators.lineage_synthetic import vocab_words

    folder.mkdir(parents=True, exist_ok=True)
    shapes = tinyllama_shapes()
    per = -(-len(shapes) // n_shards)
    for k in range(n_shards):
        part = shapes[k * per:(k + 1) * per]
        with open(folder / f"model-{k + 1:05d}-of-{n_shards:05d}.safetensors", "wb") as fh:
            fh.write(safetensors_bf16_header(part))
            for j, (_, shape) in enumerate(part):
                rng = np.random.default_rng(k * 1000 + j)
                fh.write((rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(ml_dtypes.bfloat16).tobytes())
    words = vocab_words(32000)
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                                                    "hidden_size": 2048, "num_hidden_layers": 22, "vocab_size": 32000}))
    tok = {"version": "1.0", "added_tokens": [], "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"},
           "model": {"type": "BPE", "vocab": {w: i for i, w in enumerate(words)}, "merges": []}}
    (folder / "tokenizer.json").write_text(json.dumps(tok))


def dask_moe(folder: Path, single_npz: Path, single_s: float) -> dict:
    """B fingerprinted on a 2-worker LocalCluster (1 thread each), against the single-process child above."""
    import distributed

    from fromscratch.registry import fpfile
    from fromscratch.registry.distributed import fingerprint_on

    load = os.getloadavg()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        client.run(lambda: __import__("fromscratch.lineage.fingerprint_pass"))
        child("read", str(folder))  # as before the single-process run (A's pass may have evicted B's pages)
        t = time.perf_counter()
        remote = fingerprint_on(client, folder)
        t_dask = time.perf_counter() - t
    return {"one_process_s": round(single_s, 1), "two_workers_s": round(t_dask, 1),
            "speedup": round(single_s / t_dask, 2),
            "byte_identical": fpfile.to_bytes(remote) == single_npz.read_bytes(),
            "load_before": [round(x, 1) for x in load], "load_after": [round(x, 1) for x in os.getloadavg()]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/moebench")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--skip-dask-1b", action="store_true", help="only the MoE checkpoint on Dask, not bench_dask's 1.1B")
    ap.add_argument("--smoke", action="store_true", help="tiny shapes, to check the script itself")
    args = ap.parse_args()
    if args.smoke:
        global H, V, E, FF_E, FF_D, NQ, NKV, HD
        H, V, E, FF_E, FF_D, NQ, NKV, HD = 512, 3000, 16, 256, 768, 8, 2, 64
    from fromscratch.lineage.api import compare_fingerprints
    from fromscratch.registry import fpfile

    work = Path(args.work)
    a, b = work / "glm-a", work / "glm-b"
    t = time.perf_counter()
    info_a = write_checkpoint(a, disguise=False)
    info_b = write_checkpoint(b, disguise=True)
    out = {"write_s": round(time.perf_counter() - t, 1), "bytes_each": info_a["bytes"]}
    print(json.dumps(out), flush=True)
    read = child("read", str(b))
    runs = {"fp": child("fp", str(b), str(work / "b.npz"))}
    print(json.dumps(runs["fp"]), flush=True)
    runs["fp-a"] = child("fp", str(a), str(work / "a.npz"))
    t = time.perf_counter()
    obj = compare_fingerprints(fpfile.from_bytes((work / "b.npz").read_bytes()),
                               fpfile.from_bytes((work / "a.npz").read_bytes()))
    t_cmp = time.perf_counter() - t
    full = runs["fp"]["seconds"]
    per_dense, per_moe = runs["fp"]["per_layer_s"]["0"], runs["fp"]["per_layer_s"]["1"]
    base = full - per_dense - per_moe  # anchor pass (embedding), lm_head, final norm
    out.update({
        "verdict": obj["verdict"], "p_value": obj["p_value"], "shared": obj["shared_parameter_fraction"],
        "expert_mapping": expert_mapping(obj, info_b["expert_perm"]),
        "experts_component": next((c["relation"] for c in obj["components"] if c["kind"] == "experts"), None),
        "peak_rss_mb": max(r["peak_mb"] for r in runs.values()),
        "fingerprint_s": round(full, 1), "embedding_and_head_s": round(base, 1),
        "dense_layer_s": round(per_dense, 1), "moe_layer_s": round(per_moe, 1), "compare_s": round(t_cmp, 1),
        "read_s": round(read["seconds"], 1), "read_to_fingerprint_ratio": round(read["seconds"] / full, 3),
        "extrapolated_46_layers_s": round(base + per_dense + 45 * per_moe, 0),
        "extrapolated_read_s": round(read["seconds"] / read["bytes"] * 110e9, 0),
    })
    print(json.dumps(out, indent=1), flush=True)
    if not args.skip_dask:
        out["dask_moe"] = dask_moe(b, work / "b.npz", full)
        print(json.dumps(out["dask_moe"]), flush=True)
    if not args.keep:
        shutil.rmtree(a, ignore_errors=True)
        shutil.rmtree(b, ignore_errors=True)
    if not (args.skip_dask or args.skip_dask_1b):
        from bench_dask import run as dask_ratio

        out["dask"] = dask_ratio(work)
        print(json.dumps(out["dask"]), flush=True)
    (work / "bench_moe.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
