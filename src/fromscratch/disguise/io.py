"""Reading any llama checkpoint into a ``Llama`` and writing a disguised copy to disk.

Reading goes through the project's one reader (``fromscratch.artifacts``), so
a safetensors directory, a PyTorch zip or a GGUF file (Q/K rows un-permuted,
dequantised) all arrive as the same float32 HF-named state dict. Nothing is
executed and a checkpoint that is not a plain llama decoder is refused with
``InputError``.

Writing produces what a team would submit: ``model.safetensors`` (F32, F16)
plus ``config.json`` and the tokenizer -- the original ``tokenizer.json`` when
there was one, otherwise one built from a GGUF's embedded vocabulary, in both
cases with ids rewritten if the vocabulary was re-ordered -- or a llama.cpp
GGUF quantised to Q8_0 / Q4_0 with the tokenizer embedded.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.disguise.llama import (
    EMBED,
    FINAL_NORM,
    LM_HEAD,
    Llama,
    block_key,
    spec_from_config,
)
from fromscratch.errors import InputError

#: (canonical component suffix, role) -> HF llama tensor suffix
_BLOCK_ROLES = {
    ("attention", "q"): "self_attn.q_proj.weight", ("attention", "k"): "self_attn.k_proj.weight",
    ("attention", "v"): "self_attn.v_proj.weight", ("attention", "o"): "self_attn.o_proj.weight",
    ("mlp", "gate"): "mlp.gate_proj.weight", ("mlp", "up"): "mlp.up_proj.weight",
    ("mlp", "down"): "mlp.down_proj.weight",
    ("norm", "attn_norm"): "input_layernorm.weight", ("norm", "mlp_norm"): "post_attention_layernorm.weight",
}
_TOP = {("embed_tokens", "weight"): EMBED, ("lm_head", "weight"): LM_HEAD, ("norm", "weight"): FINAL_NORM}
#: side files copied verbatim into a disguised copy (unless its vocabulary changed)
COPIED_FILES = ("tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.json",
                "merges.txt", "vocab.txt")


def _hf_name(t: Any, where: str) -> str:
    if t.component.startswith("layers.") and t.layer is not None:
        suffix = _BLOCK_ROLES.get((t.component.split(".")[-1], t.role))
        if suffix is not None and t.expert is None:
            return block_key(int(t.layer), suffix)
    elif (t.component, t.role) in _TOP:
        return _TOP[(t.component, t.role)]
    raise InputError(where, f"tensor {t.source_name!r} ({t.component} / {t.role}) has no place in a plain "
                            "llama decoder; the disguises support LlamaForCausalLM-style checkpoints only")


def _gguf_tokenizer(emb: dict[str, Any]) -> dict[str, Any] | None:
    """A tokenizer.json object built from a GGUF's embedded vocabulary (strings and merges only)."""
    tokens = emb.get("tokens")
    if not isinstance(tokens, list) or not tokens:
        return None
    types = emb.get("token_type") or [1] * len(tokens)
    added, vocab = [], {}
    for i, t in enumerate(tokens):
        special = i < len(types) and types[i] in (3, 4)
        if special or t in vocab:
            added.append({"id": i, "content": str(t), "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": bool(i < len(types) and types[i] == 3)})
        else:
            vocab[str(t)] = i
    if emb.get("model") == "gpt2":
        model = {"type": "BPE", "vocab": vocab, "merges": [str(m) for m in emb.get("merges") or []]}
        pre = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        return {"version": "1.0", "added_tokens": added, "pre_tokenizer": pre,
                "decoder": {"type": "ByteLevel"}, "model": model}
    scores = emb.get("scores") or [0.0] * len(tokens)
    model = {"type": "Unigram", "vocab": [[str(t), float(scores[i]) if i < len(scores) else 0.0]
                                          for i, t in enumerate(tokens)]}
    meta = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}
    return {"version": "1.0", "added_tokens": [], "pre_tokenizer": meta, "decoder": meta, "model": model}


def _tokenizer(model: Any) -> tuple[dict[str, Any] | None, dict[str, bytes]]:
    from fromscratch.artifacts.hfdir import load_json

    side = model.side_files
    files = {n: Path(side[n]).read_bytes() for n in COPIED_FILES if n in side}
    if "tokenizer.json" in side:
        tok = load_json(Path(side["tokenizer.json"]))
        if not isinstance(tok, dict):
            raise InputError(side["tokenizer.json"], "tokenizer.json is not a JSON object")
        return tok, files
    emb = model.embedded_tokenizer
    return (_gguf_tokenizer(emb) if isinstance(emb, dict) else None), files


def load(location: str | Path) -> Llama:
    """Any llama checkpoint the project can read, as a ``Llama`` (float32, HF names)."""
    from fromscratch.artifacts.model import open_model

    where = str(location)
    with open_model(location) as model:
        sd: dict[str, np.ndarray] = {}
        for comp in model.components():
            for t in comp.tensors:
                if not t.learned:
                    continue
                name = _hf_name(t, where)
                sd[name] = np.ascontiguousarray(model.load(t), dtype=np.float32)
        cfg = dict(model.config or {})
        tok, files = _tokenizer(model)
    spec = spec_from_config(cfg, sd, where)
    return Llama(spec=spec, sd=sd, tokenizer=tok, tokenizer_files=files)


def _write_side(m: Llama, out: Path) -> None:
    (out / "config.json").write_text(json.dumps(m.spec.hf_config(), indent=2, sort_keys=True) + "\n")
    if m.tokenizer is not None:
        (out / "tokenizer.json").write_text(json.dumps(m.tokenizer, ensure_ascii=False), encoding="utf-8")
    for name, data in sorted(m.tokenizer_files.items()):
        (out / name).write_bytes(data)


def save(m: Llama, out: str | Path, dtype: str = "F32") -> Path:
    """Write ``m`` as an HF directory: model.safetensors (``F32`` or ``F16``), config.json, tokenizer."""
    from safetensors.numpy import save_file

    if dtype not in ("F32", "F16"):
        raise ValueError(f"unsupported dtype {dtype}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np_dtype = np.float32 if dtype == "F32" else np.float16
    save_file({k: np.ascontiguousarray(v, dtype=np_dtype) for k, v in sorted(m.sd.items())},
              str(out / "model.safetensors"), metadata={"format": "pt"})
    _write_side(m, out)
    return out


def gguf_supported(m: Llama) -> str | None:
    """None when ``m`` can be written as a llama.cpp GGUF here, else the reason it cannot."""
    if m.tokenizer is None:
        return "no tokenizer to embed"
    if not isinstance((m.tokenizer.get("model") or {}).get("vocab"), dict):
        return "only BPE (byte-level) vocabularies are embedded in the GGUF writer"
    return None


def save_gguf(m: Llama, path: str | Path, qtype: str = "Q8_0") -> Path:
    """Write ``m`` as a llama.cpp GGUF (2-D weights quantised to ``qtype``; norms F32)."""
    from fromscratch.zoo.export import save_gguf as write

    why = gguf_supported(m)
    if why:
        raise ValueError(why)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tj = Path(tmp) / "tokenizer.json"
        tj.write_text(json.dumps(m.tokenizer, ensure_ascii=False), encoding="utf-8")
        write(dict(sorted(m.sd.items())), m.spec.hf_config(), tj, path, qtype, path.stem, None)
    return path


def quantise_roundtrip(m: Llama, qtype: str = "Q4_0") -> Llama:
    """Every matrix quantised to ``qtype`` and decoded back to float32 (re-quantisation, then
    stored in full precision so that no quantised dtype gives it away)."""
    import gguf

    q = getattr(gguf.GGMLQuantizationType, qtype)
    block = gguf.GGML_QUANT_SIZES[q][0]
    sd = {}
    for k, v in sorted(m.sd.items()):
        if v.ndim == 2 and v.shape[1] % block == 0:
            sd[k] = gguf.quants.dequantize(gguf.quants.quantize(v, q), q).reshape(v.shape).astype(np.float32)
        else:
            sd[k] = v
    return m.with_(sd)
