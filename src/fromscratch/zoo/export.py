"""Writing zoo models to disk exactly as real checkpoints look: HF safetensors
directories, PyTorch zip ``pytorch_model.bin`` and llama.cpp-style GGUF files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fromscratch.errors import require

#: HF llama tensor suffix -> llama.cpp GGUF tensor name (per block).
_GGUF_BLOCK = {
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
}
_GGUF_TOP = {"model.embed_tokens.weight": "token_embd.weight",
             "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def _cpu_state(model) -> dict:
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}


def save_hf(model, out: Path, config: dict, tokenizer_dir: Path | None) -> None:
    """``model.safetensors`` + ``config.json`` (+ tokenizer files copied alongside)."""
    st = require("safetensors.torch", "demo")
    out.mkdir(parents=True, exist_ok=True)
    st.save_file(_cpu_state(model), str(out / "model.safetensors"), metadata={"format": "pt"})
    write_json(out / "config.json", config)
    copy_tokenizer(tokenizer_dir, out)


def save_pytorch(model, out: Path, config: dict, tokenizer_dir: Path | None) -> Path:
    """A PyTorch zip checkpoint of the plain state dict (tensors only, no custom classes)."""
    torch = require("torch", "demo")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "pytorch_model.bin"
    torch.save(_cpu_state(model), str(path))
    write_json(out / "config.json", config)
    copy_tokenizer(tokenizer_dir, out)
    return path


def copy_tokenizer(src: Path | None, out: Path) -> None:
    if src is None:
        return
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if (src / name).exists():
            (out / name).write_bytes((src / name).read_bytes())


def llamacpp_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's per-head Q/K row order (its converter's ``permute``).

    Hugging Face rotary pairs dimension i with i + head_dim/2 (``rotate_half``);
    llama.cpp pairs 2i with 2i + 1. Within each head the two halves of the rows
    are therefore interleaved. For K the head count is the KV head count.
    """
    rows = w.shape[0]
    return (w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def save_gguf(state: dict, config: dict, tokenizer_json: Path, path: Path, qtype_name: str,
              name: str, base_model: dict | None) -> None:
    """Write a llama-architecture GGUF the way llama.cpp's converter lays it out.

    2-D weights are quantised to ``qtype_name`` (``Q8_0``, ``Q4_0``, ...), norms
    stay F32. Shapes are written in ggml order (the writer reverses numpy's),
    tokenizer arrays and ``general.base_model.*`` lineage claims are embedded.
    """
    gguf = require("gguf", "demo")
    qtype = getattr(gguf.GGMLQuantizationType, qtype_name)
    ftype = {"Q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "Q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
             "F32": gguf.LlamaFileType.ALL_F32}[qtype_name]
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(name)
    w.add_quantized_by("fromscratch zoo")
    nh, nkv = config["num_attention_heads"], config["num_key_value_heads"]
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_block_count(config["num_hidden_layers"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(nh)
    w.add_head_count_kv(nkv)
    w.add_rope_dimension_count(config["hidden_size"] // nh)
    w.add_rope_freq_base(float(config["rope_theta"]))
    w.add_layer_norm_rms_eps(float(config["rms_norm_eps"]))
    w.add_vocab_size(config["vocab_size"])
    w.add_file_type(int(ftype))
    if base_model:
        w.add_base_model_count(1)
        w.add_base_model_name(0, base_model["name"])
        w.add_base_model_organization(0, base_model.get("organization", "fromscratch-zoo"))
        if "repo_url" in base_model:
            w.add_base_model_repo_url(0, base_model["repo_url"])
    _add_tokenizer(w, tokenizer_json, config["vocab_size"])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    for hf_name, t in state.items():
        arr = t.numpy().astype(np.float32) if hasattr(t, "numpy") else np.asarray(t, np.float32)
        if hf_name in _GGUF_TOP:
            gname = _GGUF_TOP[hf_name]
        else:
            parts = hf_name.split(".")
            if parts[:2] != ["model", "layers"]:
                raise ValueError(f"no GGUF name for {hf_name}")
            gname = f"blk.{parts[2]}." + _GGUF_BLOCK[".".join(parts[3:])]
            if gname.endswith("attn_q.weight"):
                arr = llamacpp_permute(arr, nh)
            elif gname.endswith("attn_k.weight"):
                arr = llamacpp_permute(arr, nkv)
        if arr.ndim >= 2 and qtype_name != "F32":
            w.add_tensor(gname, gguf.quants.quantize(arr, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(gname, np.ascontiguousarray(arr, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _add_tokenizer(w, tokenizer_json: Path, vocab_size: int) -> None:
    """tokenizer.ggml.* arrays for a byte-level BPE, as llama.cpp's gpt2 vocab expects."""
    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    vocab = dict(spec["model"]["vocab"])
    specials = {a["content"]: a["id"] for a in spec.get("added_tokens", [])}
    special_flag = {a["content"]: a.get("special", False) for a in spec.get("added_tokens", [])}
    vocab.update(specials)
    by_id = {i: s for s, i in vocab.items()}
    tokens, types = [], []
    for i in range(vocab_size):
        s = by_id.get(i, f"[PAD{i}]")
        tokens.append(s)
        if s in special_flag:
            types.append(3 if special_flag[s] else 4)  # control / user-defined
        elif i in by_id:
            types.append(1)  # normal
        else:
            types.append(5)  # unused
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"].get("merges", [])]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_pad_token_id(0)
    w.add_add_bos_token(True)
