"""Synthetic llama-style checkpoints for calibrating and testing lineage.

Real independent pairs are scarce, so the false-positive bank adds models whose
weights are drawn like trained ones (heavy tails, a shared low-rank component,
a few outlier residual coordinates, non-constant norm weights) from a seed,
and derived copies made by the disguises the tests must survive (unit and head
permutation, residual permutation with sign flips, noise as a stand-in for
fine-tuning, layer pruning/duplication, width pruning, MoE upcycling). They
are written as ordinary Hugging Face directories (safetensors, config.json,
tokenizer.json) so they go through the same reader as any submission.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Shape:
    d: int = 128
    ff: int = 352
    layers: int = 3
    heads: int = 4
    kv_heads: int = 2
    vocab: int = 1200

    @property
    def hd(self) -> int:
        return self.d // self.heads


def _words(n: int, seed: int = 12345) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    out, seen = [], set()
    while len(out) < n:
        w = "".join(rng.choice(letters, size=int(rng.integers(2, 8))))
        if rng.random() < 0.5:
            w = "Ġ" + w
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def _mat(rng: np.random.Generator, rows: int, cols: int, outl: np.ndarray | None = None,
         axis: int = 1) -> np.ndarray:
    w = rng.standard_t(5, size=(rows, cols)) * 0.02
    w += (rng.standard_normal((rows, 6)) @ rng.standard_normal((6, cols))) * 0.004
    if outl is not None:
        if axis == 1:
            w[:, outl] *= 4.0
        else:
            w[outl, :] *= 4.0
    return w.astype(np.float32)


def random_llama(seed: int, shape: Shape = Shape()) -> dict[str, np.ndarray]:
    """A llama-shaped state dict whose statistics resemble a trained model's."""
    rng = np.random.default_rng(seed)
    s = shape
    outl = rng.choice(s.d, size=3, replace=False)
    sd: dict[str, np.ndarray] = {}
    emb = _mat(rng, s.vocab, s.d, outl)
    sd["model.embed_tokens.weight"] = emb
    for i in range(s.layers):
        p = f"model.layers.{i}."
        sd[p + "self_attn.q_proj.weight"] = _mat(rng, s.heads * s.hd, s.d, outl)
        sd[p + "self_attn.k_proj.weight"] = _mat(rng, s.kv_heads * s.hd, s.d, outl)
        sd[p + "self_attn.v_proj.weight"] = _mat(rng, s.kv_heads * s.hd, s.d, outl)
        sd[p + "self_attn.o_proj.weight"] = _mat(rng, s.d, s.heads * s.hd, outl, axis=0)
        sd[p + "mlp.gate_proj.weight"] = _mat(rng, s.ff, s.d, outl)
        sd[p + "mlp.up_proj.weight"] = _mat(rng, s.ff, s.d, outl)
        sd[p + "mlp.down_proj.weight"] = _mat(rng, s.d, s.ff, outl, axis=0)
        sd[p + "input_layernorm.weight"] = rng.normal(0.4, 0.05, s.d).astype(np.float32)
        sd[p + "post_attention_layernorm.weight"] = rng.normal(0.9, 0.1, s.d).astype(np.float32)
    sd["model.norm.weight"] = rng.normal(1.0, 0.1, s.d).astype(np.float32)
    sd["lm_head.weight"] = _mat(rng, s.vocab, s.d, outl)
    return sd


def perturb(sd: dict[str, np.ndarray], seed: int, noise: float) -> dict[str, np.ndarray]:
    """Add Gaussian noise of ``noise`` times each tensor's RMS (a crude fine-tune)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, v in sd.items():
        rms = float(np.sqrt(np.mean(v.astype(np.float64) ** 2))) or 1.0
        out[k] = (v + noise * rms * rng.standard_normal(v.shape)).astype(np.float32)
    return out


def permute(sd: dict[str, np.ndarray], seed: int, shape: Shape = Shape(), residual: bool = True) -> dict[str, np.ndarray]:
    """Permute MLP units, attention heads and (optionally) the residual stream, with sign flips.

    The function computed is unchanged (norm weights follow the residual
    permutation; sign flips are applied to residual coordinates only where the
    RMSNorm is odd in them, i.e. everywhere).
    """
    rng = np.random.default_rng(seed)
    s = shape
    out = dict(sd)
    if residual:
        pr = rng.permutation(s.d)
        sg = rng.choice([-1.0, 1.0], size=s.d).astype(np.float32)
    else:
        pr = np.arange(s.d)
        sg = np.ones(s.d, np.float32)
    for k, v in sd.items():
        if k.endswith(("embed_tokens.weight", "lm_head.weight")):
            out[k] = v[:, pr] * sg
        elif k.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight", "gate_proj.weight", "up_proj.weight")):
            out[k] = v[:, pr] * sg
        elif k.endswith(("o_proj.weight", "down_proj.weight")):
            out[k] = v[pr, :] * sg[:, None]
        elif k.endswith("norm.weight"):
            out[k] = v[pr]
    for i in range(s.layers):
        p = f"model.layers.{i}."
        pu = rng.permutation(s.ff)
        for r in ("gate_proj", "up_proj"):
            out[p + f"mlp.{r}.weight"] = out[p + f"mlp.{r}.weight"][pu]
        out[p + "mlp.down_proj.weight"] = out[p + "mlp.down_proj.weight"][:, pu]
        # permute kv groups and q heads within them consistently
        g = s.heads // s.kv_heads
        pg = rng.permutation(s.kv_heads)
        qh = np.concatenate([[int(pg[j]) * g + int(x) for x in rng.permutation(g)] for j in range(s.kv_heads)])
        qrows = np.concatenate([np.arange(h * s.hd, (h + 1) * s.hd) for h in qh])
        kvrows = np.concatenate([np.arange(h * s.hd, (h + 1) * s.hd) for h in pg])
        out[p + "self_attn.q_proj.weight"] = out[p + "self_attn.q_proj.weight"][qrows]
        out[p + "self_attn.o_proj.weight"] = out[p + "self_attn.o_proj.weight"][:, qrows]
        out[p + "self_attn.k_proj.weight"] = out[p + "self_attn.k_proj.weight"][kvrows]
        out[p + "self_attn.v_proj.weight"] = out[p + "self_attn.v_proj.weight"][kvrows]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def write_model(sd: dict[str, np.ndarray], out: Path, shape: Shape = Shape(), *,
                vocab: list[str] | None = None, dtype: str = "F32") -> Path:
    """Write an HF-layout directory: model.safetensors, config.json, tokenizer.json."""
    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    layers = len({k.split(".")[2] for k in sd if k.startswith("model.layers.")})
    d = sd["model.embed_tokens.weight"].shape[1]
    nvocab = sd["model.embed_tokens.weight"].shape[0]
    ff = sd["model.layers.0.mlp.up_proj.weight"].shape[0] if "model.layers.0.mlp.up_proj.weight" in sd else shape.ff
    tensors = sd
    if dtype == "F16":
        tensors = {k: v.astype(np.float16) for k, v in sd.items()}
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(out / "model.safetensors"))
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": d,
           "intermediate_size": ff, "num_hidden_layers": layers, "num_attention_heads": shape.heads,
           "num_key_value_heads": shape.kv_heads, "vocab_size": nvocab, "rms_norm_eps": 1e-5,
           "tie_word_embeddings": False}
    (out / "config.json").write_text(json.dumps(cfg, indent=1))
    words = vocab if vocab is not None else _words(nvocab)
    tok = {"version": "1.0", "added_tokens": [], "pre_tokenizer": {"type": "ByteLevel"},
           "decoder": {"type": "ByteLevel"},
           "model": {"type": "BPE", "vocab": {w: i for i, w in enumerate(words[:nvocab])}, "merges": []}}
    (out / "tokenizer.json").write_text(json.dumps(tok))
    return out


def relayer(sd: dict[str, np.ndarray], order: list[int]) -> dict[str, np.ndarray]:
    """New layer i is old layer ``order[i]`` (pruning drops indices, up-scaling repeats them)."""
    out = {k: v for k, v in sd.items() if not k.startswith("model.layers.")}
    for new, old in enumerate(order):
        pre = f"model.layers.{old}."
        for k, v in sd.items():
            if k.startswith(pre):
                out[f"model.layers.{new}." + k[len(pre):]] = v.copy()
    return out


def prune_units(sd: dict[str, np.ndarray], keep: float, seed: int) -> dict[str, np.ndarray]:
    """Width pruning: keep a random ``keep`` share of every MLP's hidden units."""
    rng = np.random.default_rng(seed)
    out = dict(sd)
    for k in sd:
        if k.endswith("mlp.up_proj.weight"):
            pre = k[: -len("up_proj.weight")]
            ff = sd[k].shape[0]
            idx = np.sort(rng.choice(ff, size=int(ff * keep), replace=False))
            out[pre + "up_proj.weight"] = sd[pre + "up_proj.weight"][idx]
            out[pre + "gate_proj.weight"] = sd[pre + "gate_proj.weight"][idx]
            out[pre + "down_proj.weight"] = np.ascontiguousarray(sd[pre + "down_proj.weight"][:, idx])
    return out


def reorder_vocab(sd: dict[str, np.ndarray], words: list[str], seed: int, extra: int = 0) -> tuple[dict[str, np.ndarray], list[str]]:
    """Shuffle token ids (rows and strings together) and append ``extra`` new tokens."""
    rng = np.random.default_rng(seed)
    n = sd["model.embed_tokens.weight"].shape[0]
    perm = rng.permutation(n)
    out = dict(sd)
    new_words = [words[i] for i in perm]
    for k in ("model.embed_tokens.weight", "lm_head.weight"):
        m = sd[k][perm]
        if extra:
            m = np.concatenate([m, (rng.standard_normal((extra, m.shape[1])) * 0.02).astype(np.float32)])
        out[k] = np.ascontiguousarray(m)
    new_words += [f"Ġnewtok{i}" for i in range(extra)]
    return out, new_words


def vocab_words(n: int) -> list[str]:
    return _words(n)
