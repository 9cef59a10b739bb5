"""Derived copies of a real llama-architecture GGUF file, for tests and benchmarks.

``requantise`` dequantises every tensor and writes it back as Q8_0 (a
re-quantised copy: hashes change, values stay within quantisation error).
``permute`` additionally applies function-preserving disguises: a random
permutation with sign flips of the residual stream, of every MLP's hidden
units, and of the attention heads (KV groups and the query heads inside them).
Metadata, including the tokenizer, is copied field by field; nothing is executed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from fromscratch.errors import require

_BLK = re.compile(r"^blk\.(\d+)\.(.+)\.weight$")


def _copy_fields(reader, writer, gguf) -> None:
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub)


def write_variant(src: Path, dst: Path, *, permute: bool, seed: int = 0) -> Path:
    """Write a Q8_0 copy of ``src`` (optionally permuted) to ``dst``."""
    gguf = require("gguf", "gguf")
    from gguf.quants import dequantize, quantize

    reader = gguf.GGUFReader(str(src))
    arch = reader.fields["general.architecture"].contents()
    n_head = int(reader.fields[f"{arch}.attention.head_count"].contents())
    n_kv = int(reader.fields[f"{arch}.attention.head_count_kv"].contents())
    d = int(reader.fields[f"{arch}.embedding_length"].contents())
    rng = np.random.default_rng(seed)
    pr = rng.permutation(d) if permute else np.arange(d)
    sg = rng.choice([-1.0, 1.0], size=d).astype(np.float32) if permute else np.ones(d, np.float32)
    hd = d // n_head
    kv_hd = hd
    per_layer: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    per_mlp: dict[int, np.ndarray] = {}

    def head_perms(i: int):
        if i not in per_layer:
            g = n_head // n_kv
            pg = rng.permutation(n_kv) if permute else np.arange(n_kv)
            qh = np.concatenate([[int(pg[j]) * g + int(x) for x in (rng.permutation(g) if permute else range(g))]
                                 for j in range(n_kv)])
            qrows = np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in qh])
            kvrows = np.concatenate([np.arange(h * kv_hd, (h + 1) * kv_hd) for h in pg])
            per_layer[i] = (qrows, kvrows)
        return per_layer[i]

    def unit_perm(i: int, ff: int) -> np.ndarray:
        # one permutation per layer's MLP, made when its first MLP tensor is met (the width is known then)
        if i not in per_mlp:
            per_mlp[i] = rng.permutation(ff) if permute else np.arange(ff)
        return per_mlp[i]

    writer = gguf.GGUFWriter(str(dst), arch)
    _copy_fields(reader, writer, gguf)
    for t in reader.tensors:
        arr = dequantize(t.data, t.tensor_type).astype(np.float32)
        arr = arr.reshape([int(x) for x in reversed(t.shape)]) if arr.ndim != len(t.shape) else arr
        name = t.name
        m = _BLK.match(name)
        if permute:
            if name in ("token_embd.weight", "output.weight"):
                arr = arr[:, pr] * sg
            elif name == "output_norm.weight":
                arr = arr[pr]
            elif m:
                i, kind = int(m.group(1)), m.group(2)
                qrows, kvrows = head_perms(i)
                if kind in ("attn_norm", "ffn_norm"):
                    arr = arr[pr]
                elif kind in ("ffn_up", "ffn_gate"):
                    arr = arr[unit_perm(i, arr.shape[0])][:, pr] * sg
                elif kind == "ffn_down":
                    arr = arr[pr][:, unit_perm(i, arr.shape[1])] * sg[:, None]
                elif kind == "attn_q":
                    arr = arr[qrows][:, pr] * sg
                elif kind in ("attn_k", "attn_v"):
                    arr = arr[kvrows][:, pr] * sg
                elif kind == "attn_output":
                    arr = arr[pr][:, qrows] * sg[:, None]
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if arr.ndim == 2 and arr.shape[1] % 32 == 0:
            q = quantize(arr, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(name, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(name, arr)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst
