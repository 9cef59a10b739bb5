"""The object every disguise works on: a llama-family checkpoint as numpy arrays.

A ``Llama`` is a state dict in Hugging Face ``LlamaForCausalLM`` naming
(``model.layers.{i}.self_attn.q_proj.weight`` ...), float32, plus the few
architecture facts a function-preserving transform needs (head counts, tied
embeddings, RoPE base) and the tokenizer, kept as a ``tokenizer.json`` object
so vocabulary re-ordering can move token strings with their rows. It is
immutable by convention: every transform returns a new ``Llama`` and never
writes into the arrays of its input.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fromscratch.errors import InputError

EMBED = "model.embed_tokens.weight"
LM_HEAD = "lm_head.weight"
FINAL_NORM = "model.norm.weight"

#: matrices of one block that read the (normalised) residual stream, and the norm in front of them
ATTN_READERS = ("self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight")
MLP_READERS = ("mlp.gate_proj.weight", "mlp.up_proj.weight")
#: matrices of one block that write into the residual stream
WRITERS = ("self_attn.o_proj.weight", "mlp.down_proj.weight")
ATTN_NORM = "input_layernorm.weight"
MLP_NORM = "post_attention_layernorm.weight"
BLOCK_KEYS = ATTN_READERS + MLP_READERS + WRITERS + (ATTN_NORM, MLP_NORM)


def block_key(i: int, suffix: str) -> str:
    return f"model.layers.{i}.{suffix}"


@dataclass(frozen=True)
class Spec:
    """Architecture facts of a llama-family decoder (no biases, RMSNorm, SiLU-gated MLP, RoPE)."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool = False
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_positions: int = 2048

    @property
    def group(self) -> int:
        """Query heads per KV head."""
        return self.heads // self.kv_heads

    def hf_config(self) -> dict[str, Any]:
        return {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                "hidden_size": self.hidden, "intermediate_size": self.intermediate,
                "num_hidden_layers": self.layers, "num_attention_heads": self.heads,
                "num_key_value_heads": self.kv_heads, "head_dim": self.head_dim,
                "vocab_size": self.vocab, "tie_word_embeddings": self.tied,
                "rms_norm_eps": self.rms_norm_eps, "rope_theta": self.rope_theta,
                "max_position_embeddings": self.max_positions, "hidden_act": "silu",
                "attention_bias": False, "mlp_bias": False, "torch_dtype": "float32"}


@dataclass(frozen=True)
class Llama:
    """A llama checkpoint: ``spec``, ``sd`` (HF names -> float32 arrays) and its tokenizer.

    ``tokenizer`` is a ``tokenizer.json`` object (or None when the checkpoint has
    none); ``tokenizer_files`` are other side files (name -> bytes) copied verbatim
    when the model is written. ``lm_head.weight`` is absent when ``spec.tied``.
    """

    spec: Spec
    sd: dict[str, np.ndarray]
    tokenizer: dict[str, Any] | None = None
    tokenizer_files: dict[str, bytes] = field(default_factory=dict)

    def with_(self, sd: dict[str, np.ndarray] | None = None, **spec_changes: Any) -> Llama:
        """A copy with a new state dict and/or changed spec fields (tokenizer kept)."""
        spec = replace(self.spec, **spec_changes) if spec_changes else self.spec
        return replace(self, spec=spec, sd=self.sd if sd is None else sd)

    def head(self) -> np.ndarray:
        """The output projection (the embedding matrix when tied)."""
        return self.sd[EMBED] if self.spec.tied else self.sd[LM_HEAD]

    def parameters(self) -> int:
        return int(sum(v.size for v in self.sd.values()))


def expected_keys(spec: Spec) -> set[str]:
    keys = {EMBED, FINAL_NORM} | ({LM_HEAD} if not spec.tied else set())
    for i in range(spec.layers):
        keys |= {block_key(i, s) for s in BLOCK_KEYS}
    return keys


def spec_from_config(cfg: dict[str, Any], sd: dict[str, np.ndarray], where: str) -> Spec:
    """Check a state dict against its config and return the ``Spec`` (InputError when they disagree)."""
    if EMBED not in sd or sd[EMBED].ndim != 2:
        raise InputError(where, "no token embedding matrix: not a llama-family decoder")
    vocab, hidden = sd[EMBED].shape
    layers = len({k.split(".")[2] for k in sd if k.startswith("model.layers.")})
    heads = int(cfg.get("num_attention_heads") or 0)
    if heads <= 0 or hidden % heads:
        raise InputError(where, "the configuration gives no usable attention head count")
    kv = int(cfg.get("num_key_value_heads") or heads)
    head_dim = int(cfg.get("head_dim") or hidden // heads)
    q = sd.get(block_key(0, "self_attn.q_proj.weight"))
    if q is None or q.shape != (heads * head_dim, hidden) or kv <= 0 or heads % kv:
        raise InputError(where, "attention shapes do not match the configured head counts")
    up = sd.get(block_key(0, "mlp.up_proj.weight"))
    if up is None:
        raise InputError(where, "block 0 has no gated MLP (up_proj): not a llama-family decoder")
    spec = Spec(hidden=hidden, intermediate=int(up.shape[0]), layers=layers, heads=heads, kv_heads=kv,
                head_dim=head_dim, vocab=vocab, tied=LM_HEAD not in sd,
                rms_norm_eps=float(cfg.get("rms_norm_eps") or 1e-5),
                rope_theta=float(cfg.get("rope_theta") or 10000.0),
                max_positions=int(cfg.get("max_position_embeddings") or 2048))
    missing = sorted(expected_keys(spec) - set(sd))
    extra = sorted(set(sd) - expected_keys(spec))
    if missing or extra:
        what = f"missing {missing[:3]}" if missing else f"unsupported tensors {extra[:3]}"
        raise InputError(where, f"not a plain llama decoder ({what}); the disguises handle "
                                "LlamaForCausalLM-style checkpoints without biases, q/k norms or experts")
    return spec


def float32(sd: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}
