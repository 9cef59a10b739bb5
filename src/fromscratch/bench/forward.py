"""The llama-family forward pass that scores models in this process.

Written out from the architecture (RMSNorm, rotary positions, grouped-query
attention, SwiGLU MLP, optional per-head q/k norms as in Qwen3), so no model
code from a submission is ever run and transformers is not needed. Weights
arrive through `fromscratch.artifacts.open_model`, the one streaming reader
every stage uses, under its canonical component names; whatever the reader
finds that this architecture does not have is refused, never silently dropped.

This is the package's llama forward outside the fixture zoo (whose training
code keeps its own ``nn.Module`` so that its cached models stay reproducible).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.errors import InputError

LLAMA_TYPES = {"llama", "mistral", "qwen2", "qwen3", "smollm", "granite", "olmo"}

# canonical role inside a layer component -> Hugging Face LlamaForCausalLM module path
_LAYER_ROLES = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj",
                "o": "self_attn.o_proj", "q_norm": "self_attn.q_norm", "k_norm": "self_attn.k_norm",
                "gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj",
                "attn_norm": "input_layernorm", "mlp_norm": "post_attention_layernorm"}
_TOP = {"embed_tokens": "embed_tokens.weight", "lm_head": "lm_head.weight", "norm": "norm.weight"}


def text_config(cfg: dict[str, Any], where: str | Path = "config.json") -> dict[str, Any]:
    """The decoder's config, also when a multimodal wrapper nests it."""
    if "hidden_size" in cfg and "num_hidden_layers" in cfg:
        return cfg
    for key in ("text_config", "language_config", "llm_config"):
        sub = cfg.get(key)
        if isinstance(sub, dict) and "hidden_size" in sub:
            return sub
    raise InputError(where, "no llama-style text config (hidden_size, num_hidden_layers)")


@dataclass(frozen=True)
class LlamaShape:
    n_layers: int
    n_heads: int
    n_kv: int
    hidden: int
    head_dim: int
    eps: float
    theta: float
    max_len: int

    @classmethod
    def from_config(cls, cfg: dict[str, Any], where: str | Path) -> "LlamaShape":
        mtype = str(cfg.get("model_type", "llama"))
        if mtype not in LLAMA_TYPES:
            raise InputError(where, f"model_type {mtype!r}: the in-process backend runs llama-family decoders only")
        rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
        kind = rope.get("rope_type", rope.get("type", "default")) if isinstance(rope, dict) else "default"
        if kind not in (None, "default"):
            raise InputError(where, f"rope scaling {kind!r} is not implemented in-process; serve the model "
                                    "(vLLM, llama.cpp) and use the HTTP backend")
        theta = cfg.get("rope_theta") or (rope.get("rope_theta") if isinstance(rope, dict) else None) or 10000.0
        try:
            hidden, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
            return cls(n_layers=int(cfg["num_hidden_layers"]), n_heads=heads,
                       n_kv=int(cfg.get("num_key_value_heads") or heads), hidden=hidden,
                       head_dim=int(cfg.get("head_dim") or hidden // heads),
                       eps=float(cfg.get("rms_norm_eps", 1e-6)), theta=float(theta),
                       max_len=int(cfg.get("max_position_embeddings", 2048)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(where, f"config lacks or mangles a llama field: {exc}") from None


def read_weights(location: str | Path, torch: Any) -> dict[str, Any]:
    """Decoder weights as float32 tensors under Hugging Face llama names (without ``model.``)."""
    from fromscratch.artifacts import open_model

    out: dict[str, Any] = {}
    with open_model(location) as model:
        for comp in model.components():
            if comp.name.startswith(("vision.", "audio.")) or comp.kind == "projector":
                continue  # other towers of a multimodal checkpoint: not part of the text decoder
            for ct in comp.tensors:
                if not ct.learned:
                    continue  # rotary tables and position ids are recomputed
                name = _hf_name(comp, ct.role)
                if name is None:
                    raise InputError(model.path, f"tensor {ct.source_name!r} ({comp.name}, {ct.role}) is not part "
                                                 "of the llama architecture the in-process backend runs")
                arr = np.asarray(model.load(ct), dtype=np.float32)
                out[name] = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    for need in ("embed_tokens.weight", "norm.weight"):
        if need not in out:
            raise InputError(location, f"missing tensor {need}: not a llama-style decoder")
    out.setdefault("lm_head.weight", out["embed_tokens.weight"])  # tied embeddings
    return out


def _hf_name(comp: Any, role: str) -> str | None:
    if comp.layer is None:
        top = _TOP.get(comp.name)
        return top if top and role == "weight" else None
    base, _, bias = role.partition(".")
    path = _LAYER_ROLES.get(base)
    if path is None or bias not in ("", "bias"):
        return None
    return f"layers.{comp.layer}.{path}.{'bias' if bias else 'weight'}"


class LlamaForward:
    """The forward pass over a weight dict; differentiable (tests train tiny models through it)."""

    def __init__(self, shape: LlamaShape, weights: dict[str, Any], torch: Any, device: str = "cpu") -> None:
        self.torch, self.s, self.device = torch, shape, device
        self.w = {k: v.to(device) for k, v in weights.items()}
        hd = shape.head_dim
        self.inv_freq = (1.0 / (shape.theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))).to(device)

    def _rms(self, x: Any, w: Any) -> Any:
        return x * self.torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.s.eps) * w

    def _lin(self, x: Any, name: str) -> Any:
        y = x @ self.w[name + ".weight"].T
        b = self.w.get(name + ".bias")
        return y if b is None else y + b

    @staticmethod
    def _rot(x: Any, torch: Any) -> Any:
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def logits(self, batch: list[list[int]]) -> Any:
        """Logits (B, T, V) for right-padded sequences (padding never affects
        earlier positions under causal attention)."""
        torch = self.torch
        T = max(len(s) for s in batch)
        ids = torch.zeros((len(batch), T), dtype=torch.long, device=self.device)
        for i, s in enumerate(batch):
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        with torch.no_grad():
            return self.forward(ids)

    def forward(self, ids: Any) -> Any:
        torch, s = self.torch, self.s
        F = torch.nn.functional
        B, T = ids.shape
        x = F.embedding(ids, self.w["embed_tokens.weight"])
        freqs = torch.outer(torch.arange(T, device=self.device, dtype=torch.float32), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        for li in range(s.n_layers):
            p = f"layers.{li}."
            h = self._rms(x, self.w[p + "input_layernorm.weight"])
            q = self._lin(h, p + "self_attn.q_proj").view(B, T, s.n_heads, s.head_dim).transpose(1, 2)
            k = self._lin(h, p + "self_attn.k_proj").view(B, T, s.n_kv, s.head_dim).transpose(1, 2)
            v = self._lin(h, p + "self_attn.v_proj").view(B, T, s.n_kv, s.head_dim).transpose(1, 2)
            if p + "self_attn.q_norm.weight" in self.w:  # qwen3-style per-head norms
                q = self._rms(q, self.w[p + "self_attn.q_norm.weight"])
                k = self._rms(k, self.w[p + "self_attn.k_norm.weight"])
            q = q * cos + self._rot(q, torch) * sin
            k = k * cos + self._rot(k, torch) * sin
            if s.n_kv != s.n_heads:
                k = k.repeat_interleave(s.n_heads // s.n_kv, dim=1)
                v = v.repeat_interleave(s.n_heads // s.n_kv, dim=1)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self._lin(a.transpose(1, 2).reshape(B, T, s.n_heads * s.head_dim), p + "self_attn.o_proj")
            h = self._rms(x, self.w[p + "post_attention_layernorm.weight"])
            x = x + self._lin(F.silu(self._lin(h, p + "mlp.gate_proj")) * self._lin(h, p + "mlp.up_proj"),
                              p + "mlp.down_proj")
        return self._rms(x, self.w["norm.weight"]) @ self.w["lm_head.weight"].T
