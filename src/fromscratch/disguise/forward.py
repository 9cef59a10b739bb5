"""A numpy forward pass of a llama decoder, to check that a disguise kept the function.

Why numpy and not torch: the gauntlet must run on the core install, and a
check in float64 separates "the transform changed the function" from
"float32 storage rounded it" far more cleanly than a float32 framework would.
The computation follows Hugging Face ``LlamaForCausalLM`` exactly: RMSNorm
(gain times x / rms), rotary embeddings in the ``rotate_half`` convention
(dimension i pairs with i + head_dim/2), grouped-query attention with a causal
mask, SiLU-gated MLP, untied or tied output head.
"""

from __future__ import annotations

import numpy as np

from fromscratch.disguise.llama import (
    ATTN_NORM,
    EMBED,
    FINAL_NORM,
    MLP_NORM,
    Llama,
    block_key,
)


def _rms(x: np.ndarray, g: np.ndarray, eps: float) -> np.ndarray:
    return g * (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps))


def _rope(n: int, head_dim: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
    inv = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    freqs = np.outer(np.arange(n, dtype=np.float64), inv)
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb), np.sin(emb)


def _rotate_half(x: np.ndarray) -> np.ndarray:
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def _attention(m: Llama, i: int, x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    s, sd = m.spec, m.sd
    b, t = x.shape[:2]
    w = {r: sd[block_key(i, f"self_attn.{r}_proj.weight")].astype(np.float64) for r in "qkvo"}

    def heads(y: np.ndarray, n: int) -> np.ndarray:
        return y.reshape(b, t, n, s.head_dim).transpose(0, 2, 1, 3)

    q, k, v = heads(x @ w["q"].T, s.heads), heads(x @ w["k"].T, s.kv_heads), heads(x @ w["v"].T, s.kv_heads)
    q = q * cos + _rotate_half(q) * sin
    k = k * cos + _rotate_half(k) * sin
    k = np.repeat(k, s.group, axis=1)
    v = np.repeat(v, s.group, axis=1)
    att = q @ k.transpose(0, 1, 3, 2) / np.sqrt(s.head_dim)
    att = np.where(np.triu(np.ones((t, t), bool), 1), -np.inf, att)
    att = np.exp(att - att.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    y = (att @ v).transpose(0, 2, 1, 3).reshape(b, t, s.heads * s.head_dim)
    return y @ w["o"].T


def _mlp(m: Llama, i: int, x: np.ndarray) -> np.ndarray:
    sd = m.sd
    g = x @ sd[block_key(i, "mlp.gate_proj.weight")].astype(np.float64).T
    u = x @ sd[block_key(i, "mlp.up_proj.weight")].astype(np.float64).T
    return (g / (1.0 + np.exp(-g)) * u) @ sd[block_key(i, "mlp.down_proj.weight")].astype(np.float64).T


def logits(m: Llama, ids: np.ndarray) -> np.ndarray:
    """Logits (float64) of token sequences ``ids`` (shape (batch, length) or (length,))."""
    s, sd = m.spec, m.sd
    ids = np.asarray(ids, dtype=np.int64)
    one = ids.ndim == 1
    ids = ids[None] if one else ids
    cos, sin = _rope(ids.shape[1], s.head_dim, s.rope_theta)
    x = sd[EMBED][ids].astype(np.float64)
    eps = s.rms_norm_eps
    for i in range(s.layers):
        x = x + _attention(m, i, _rms(x, sd[block_key(i, ATTN_NORM)], eps), cos, sin)
        x = x + _mlp(m, i, _rms(x, sd[block_key(i, MLP_NORM)], eps))
    out = _rms(x, sd[FINAL_NORM], eps) @ m.head().astype(np.float64).T
    return out[0] if one else out


def probe_ids(vocab: int, seed: int, sequences: int = 3, length: int = 24) -> np.ndarray:
    """A few random token sequences, shape (sequences, length): equality must hold on any input."""
    return np.random.default_rng(seed).integers(0, vocab, size=(sequences, length))


def logit_check(a: Llama, b: Llama, ids: np.ndarray, ids_b: np.ndarray | None = None,
                reference: np.ndarray | None = None) -> tuple[float, float]:
    """(largest |logit difference|, largest |logit| of ``a``) on the probe sequences ``ids``.

    ``ids_b[i]`` is the id in ``b`` of ``a``'s token ``i`` (a re-ordered
    vocabulary); ``b``'s logits are then read back in ``a``'s order. Only the
    first ``a.spec.vocab`` logits are compared (an extended vocabulary adds
    columns). ``reference``: ``logits(a, ids)`` when the caller has it already.
    """
    la = logits(a, ids) if reference is None else reference
    lb = logits(b, ids if ids_b is None else ids_b[ids])
    lb = lb[..., : a.spec.vocab] if ids_b is None else lb[..., ids_b]
    return float(np.max(np.abs(la - lb))), float(np.max(np.abs(la)))
