"""Tiny checkpoints written in every format from one set of HF-named tensors.

The writers mirror what the real converters do (llama.cpp's Q/K permutation,
exporters' transposed anonymous matmul weights, int8 with per-column scales),
so the readers are tested against the layouts they meet in the wild.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
}


def tiny_llama(seed: int = 0, *, d: int = 64, layers: int = 2, heads: int = 4, kv: int = 2, ff: int = 128,
               vocab: int = 96, tied: bool = False) -> tuple[dict[str, np.ndarray], dict]:
    rng = np.random.default_rng(seed)
    hd = d // heads
    t: dict[str, np.ndarray] = {"model.embed_tokens.weight": rng.standard_normal((vocab, d)).astype(np.float32) * 0.1}
    for i in range(layers):
        p = f"model.layers.{i}."
        t[p + "self_attn.q_proj.weight"] = rng.standard_normal((heads * hd, d)).astype(np.float32) * 0.1
        t[p + "self_attn.k_proj.weight"] = rng.standard_normal((kv * hd, d)).astype(np.float32) * 0.1
        t[p + "self_attn.v_proj.weight"] = rng.standard_normal((kv * hd, d)).astype(np.float32) * 0.1
        t[p + "self_attn.o_proj.weight"] = rng.standard_normal((d, heads * hd)).astype(np.float32) * 0.1
        t[p + "mlp.gate_proj.weight"] = rng.standard_normal((ff, d)).astype(np.float32) * 0.1
        t[p + "mlp.up_proj.weight"] = rng.standard_normal((ff, d)).astype(np.float32) * 0.1
        t[p + "mlp.down_proj.weight"] = rng.standard_normal((d, ff)).astype(np.float32) * 0.1
        t[p + "input_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(d)).astype(np.float32)
        t[p + "post_attention_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(d)).astype(np.float32)
    t["model.norm.weight"] = (1 + 0.1 * rng.standard_normal(d)).astype(np.float32)
    if not tied:
        t["lm_head.weight"] = rng.standard_normal((vocab, d)).astype(np.float32) * 0.1
    cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": d, "num_hidden_layers": layers,
           "num_attention_heads": heads, "num_key_value_heads": kv, "intermediate_size": ff, "vocab_size": vocab,
           "tie_word_embeddings": tied, "rope_theta": 10000.0, "rms_norm_eps": 1e-5}
    return t, cfg


def llama_cpp_permute(w: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """The row permutation llama.cpp's converter applies to llama Q/K (HF -> interleaved RoPE)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape))


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], config: dict | None = None,
                      metadata: dict[str, str] | None = None) -> Path:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path), metadata=metadata)
    if config is not None:
        (path.parent / "config.json").write_text(json.dumps(config))
    return path


def gguf_name(hf: str) -> str:
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")
    layer = parts[2]
    mod = ".".join(parts[3:-1])
    return f"blk.{layer}.{HF_TO_GGUF[mod]}.{parts[-1]}"


def write_gguf(path: Path, tensors: dict[str, np.ndarray], config: dict, *, arch: str = "llama",
               qtype=None, permute: bool = True, base_model: str | None = None, vocab: list[str] | None = None) -> Path:
    """HF tensors -> GGUF the way convert_hf_to_gguf.py lays them out.

    ``qtype(name, array)`` picks each tensor's GGML type (default F32); 1-D
    tensors always stay F32 as in llama.cpp.
    """
    import gguf
    from gguf import quants

    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(config["num_hidden_layers"])
    w.add_embedding_length(config["hidden_size"])
    w.add_head_count(config["num_attention_heads"])
    w.add_head_count_kv(config["num_key_value_heads"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_context_length(256)
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    w.add_rope_freq_base(config["rope_theta"])
    w.add_name("tiny test llama")
    if base_model:
        w.add_base_model_count(1)
        w.add_base_model_name(0, base_model)
        w.add_base_model_organization(0, "Example Org")
    toks = vocab or [f"tok{i}" for i in range(config["vocab_size"])]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(toks)
    w.add_token_types([1] * len(toks))
    w.add_token_merges(["t o", "to k"])
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    for name, arr in tensors.items():
        a = arr.astype(np.float32)
        if permute and name.endswith("q_proj.weight"):
            a = llama_cpp_permute(a, heads, heads)
        elif permute and name.endswith("k_proj.weight"):
            a = llama_cpp_permute(a, heads, kv)
        q = qtype(name, a) if (qtype and a.ndim > 1) else gguf.GGMLQuantizationType.F32
        if q == gguf.GGMLQuantizationType.F32:
            w.add_tensor(gguf_name(name), a)
        elif q == gguf.GGMLQuantizationType.F16:
            w.add_tensor(gguf_name(name), a.astype(np.float16))
        else:
            w.add_tensor(gguf_name(name), quants.quantize(a, q), raw_dtype=q)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write_torch(path: Path, tensors: dict[str, np.ndarray], *, wrap: bool = False, bf16: bool = False) -> Path:
    import torch

    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()}
    if bf16:
        sd = {k: v.to(torch.bfloat16) for k, v in sd.items()}
    obj = {"state_dict": sd, "epoch": 7, "base_model": "example/base"} if wrap else sd
    torch.save(obj, str(path))
    return path


def write_onnx_llama(path: Path, tensors: dict[str, np.ndarray], *, int8: bool = False) -> Path:
    """An exporter-style ONNX of the llama tensors.

    Linear weights become anonymous, transposed ``onnx::MatMul_N`` initializers
    consumed by MatMul nodes whose names carry the module scope (as
    ``torch.onnx.export`` writes them); embeddings and norms keep their names.
    With ``int8`` the matmul weights are stored as int8 + per-column scales and
    dequantised explicitly (Cast -> Mul), as quantisation tools emit them.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes = [], []
    counter = 100
    for name, arr in tensors.items():
        if arr.ndim == 2 and "embed_tokens" not in name:
            counter += 1
            anon = f"onnx::MatMul_{counter}"
            wt = np.ascontiguousarray(arr.T)  # (in, out)
            scope = "/" + "/".join(name.split(".")[:-1]).replace("layers/", "layers.") + "/MatMul"
            if int8:
                scale = (np.abs(wt).max(axis=0, keepdims=True) / 127.0).astype(np.float32)
                q = np.clip(np.round(wt / scale), -127, 127).astype(np.int8)
                inits += [numpy_helper.from_array(q, anon + "_q"), numpy_helper.from_array(scale, anon + "_scale")]
                nodes += [helper.make_node("Cast", [anon + "_q"], [anon + "_f"], to=TensorProto.FLOAT),
                          helper.make_node("Mul", [anon + "_f", anon + "_scale"], [anon])]
            else:
                inits.append(numpy_helper.from_array(wt, anon))
            nodes.append(helper.make_node("MatMul", ["x", anon], [f"y{counter}"], name=scope))
        else:
            inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
            if "embed_tokens" in name:
                nodes.append(helper.make_node("Gather", [name, "ids"], ["emb"]))
    inits.append(numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "val_7"))  # a shape constant
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None]),
                                              helper.make_tensor_value_info("ids", TensorProto.INT64, [1, None])],
                              [helper.make_tensor_value_info("emb", TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, producer_name="fromscratch-tests", opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def write_zip(path: Path, members: dict[str, bytes], *, compress: bool = False) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
    return path


def write_ct2(path: Path, variables: list[tuple[str, np.ndarray]], *, spec: str = "WhisperSpec",
              aliases: dict[str, str] | None = None) -> Path:
    """A CTranslate2 ``model.bin`` (binary version 6) with the given variables in order."""
    import struct

    codes = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.int32): 3,
             np.dtype(np.float16): 4}

    def s(x: str) -> bytes:
        b = x.encode() + b"\0"
        return struct.pack("<H", len(b)) + b

    out = [struct.pack("<I", 6), s(spec), struct.pack("<I", 3), struct.pack("<I", len(variables))]
    for name, arr in variables:
        arr = np.array(arr, order="C")  # (ascontiguousarray would turn a scalar into shape (1,))
        out += [s(name), struct.pack("<B", arr.ndim), b"".join(struct.pack("<I", d) for d in arr.shape),
                struct.pack("<B", codes[arr.dtype]), struct.pack("<I", arr.nbytes), arr.tobytes()]
    aliases = aliases or {}
    out.append(struct.pack("<I", len(aliases)))
    for a, t in aliases.items():
        out += [s(a), s(t)]
    path.write_bytes(b"".join(out))
    return path
