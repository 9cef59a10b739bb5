"""Format-independent component names for every stored tensor.

Every checkpoint family names the same parts differently: ``model.layers.3.
self_attn.q_proj.weight`` (HF llama/qwen/mistral/gemma), ``encoder.layer.3.
attention.self.query.weight`` (BERT), ``blk.3.attn_q.weight`` (GGUF),
``encoder/layer_3/self_attention/linear_0/weight`` (CTranslate2). Lineage tests
must compare like with like, so each tensor is mapped to a canonical component
(``layers.3.attention``) and a role inside it (``q``), fused tensors (qkv,
gate_up) are split into row slices, and encoder towers get a ``vision.`` or
``audio.`` prefix. Names nobody recognises land in an ``other`` component:
mapping never fails.

The mapping is a pure function of the tensor names, shapes and config, so it is
deterministic and testable without any weights.
"""

from __future__ import annotations

import re
from typing import Any

from fromscratch.artifacts.base import CanonicalTensor, Component, TensorInfo
from fromscratch.artifacts.naming import Assign, naming_context, split_param
from fromscratch.artifacts.naming_ct2 import assign_ct2
from fromscratch.artifacts.naming_gguf import assign_gguf
from fromscratch.artifacts.naming_hf import assign_hf

__all__ = ["assign_ct2", "assign_gguf", "assign_hf", "build_components", "component_sort_key"]


# ---------------------------------------------------------------------------
# Fused tensors and ordering

def _fused_rows(a: Assign, info: TensorInfo, cfg: dict[str, Any]) -> list[tuple[str, int, int]] | None:
    """Row slices (role, start, stop) of a fused tensor, or None if it cannot be split safely."""
    if not info.shape:
        return None
    rows = int(info.shape[0])
    base_suffix = ".bias" if a.role.endswith(".bias") else ""
    if a.split == "gate_up":
        if rows % 2:
            return None
        h = rows // 2
        return [("gate" + base_suffix, 0, h), ("up" + base_suffix, h, rows)]
    if a.split == "kv":
        if rows % 2:
            return None
        h = rows // 2
        return [("k" + base_suffix, 0, h), ("v" + base_suffix, h, rows)]
    if a.split == "qkv":
        key = ("vision_config" if a.component.startswith("vision.") else
               "audio_config" if a.component.startswith("audio.") else "text_config")
        c = cfg.get(key) if isinstance(cfg.get(key), dict) else cfg
        heads = c.get("num_attention_heads") or c.get("n_head") or c.get("num_heads")
        kv = c.get("num_key_value_heads") or c.get("multi_query_group_num") or heads
        hidden = c.get("hidden_size") or c.get("d_model") or c.get("n_embd")
        head_dim = c.get("head_dim") or c.get("kv_channels") or (hidden // heads if hidden and heads else None)
        if heads and kv and head_dim and rows == (heads + 2 * kv) * head_dim:
            q, k = heads * head_dim, kv * head_dim
            return [("q" + base_suffix, 0, q), ("k" + base_suffix, q, q + k), ("v" + base_suffix, q + k, rows)]
        if rows % 3 == 0:
            t = rows // 3
            return [("q" + base_suffix, 0, t), ("k" + base_suffix, t, 2 * t), ("v" + base_suffix, 2 * t, rows)]
    return None


_TOP_ORDER = {"embed_tokens": 0, "embed_positions": 1, "embed_token_types": 2, "embed_patches": 3,
              "embed_norm": 4, "norm": 20, "lm_head": 21, "pooler": 22, "projection": 23, "rotary": 24}
_SUB_ORDER = {"attention": 0, "cross_attention": 1, "mlp": 2, "experts": 3, "router": 4, "norm": 5, "other": 6}
_TOWER_ORDER = {"": 0, "encoder.": 1, "vision.": 2, "audio.": 3}


_ROLE_ORDER = {r: i for i, r in enumerate([
    "weight", "patch", "conv1", "conv2", "class_embedding", "q", "k", "v", "qkv", "kv", "o", "q_norm", "k_norm",
    "q_a", "q_a_norm", "q_b", "kv_a", "kv_a_norm", "kv_b", "gate", "up", "gate_up", "down", "router",
    "shared_gate", "score_bias", "attn_norm", "attn_norm_2", "post_attn_norm", "cross_attn_norm", "mlp_norm",
    "post_mlp_norm", "norm"])}


def _tensor_sort_key(t: CanonicalTensor) -> tuple:
    """Format-independent order inside a component: by expert, role, weight before bias."""
    role = t.role
    bias = role.endswith(".bias") or role == "bias" or role.startswith("bias.")
    base = role[:-5] if role.endswith(".bias") else ("weight" + role[4:] if role.startswith("bias") else role)
    head, _, idx = base.partition(".")
    index = int(idx) if idx.isdigit() else 0
    return (-1 if t.expert is None else t.expert, index, _ROLE_ORDER.get(head, 100), base, bias,
            t.rows or (0, 0), t.source_name)


def component_sort_key(name: str, layer: int | None) -> tuple:
    if name == "projector":
        return (8, 0, 0, 0, name)
    if name == "other":
        return (9, 0, 0, 0, name)
    tower = ""
    rest = name
    for t in ("vision.", "audio.", "encoder."):
        if name.startswith(t):
            tower, rest = t, name[len(t):]
    t_rank = _TOWER_ORDER[tower]
    if layer is not None:
        sub = rest.rsplit(".", 1)[-1]
        return (t_rank, 10, layer, _SUB_ORDER.get(sub, 7), name)
    return (t_rank, _TOP_ORDER.get(rest, 30), 0, 0, name)


def _projector_roles(tensors: list[CanonicalTensor]) -> list[CanonicalTensor]:
    """Name the projector's stacked linears ``weight``, ``weight.1`` ... in module order."""
    def natural(s: str) -> list:
        return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", s)]

    mods: dict[str, None] = {}
    for t in tensors:
        mod, _ = split_param(t.role)
        mods.setdefault(mod, None)
    linear = [m for m in sorted(mods, key=natural) if not re.search(r"norm|ln", m)]
    norms = [m for m in sorted(mods, key=natural) if re.search(r"norm|ln", m)]
    out = []
    for t in tensors:
        mod, param = split_param(t.role)
        if mod == "" and param not in {"bias", "beta"}:
            param = "weight"
        if mod in linear:
            i = linear.index(mod)
            base, bias = ("weight", "bias")
        else:
            i = norms.index(mod)
            base, bias = ("norm", "norm.bias")
        role = bias if param in {"bias", "beta"} else base
        if param not in {"bias", "beta", "weight", "gamma", "scale"}:
            role = f"{base}.{param}"
        if i:
            role = f"{role}.{i}"
        out.append(_replace(t, role=role))
    return out


def _replace(t: CanonicalTensor, **kw: Any) -> CanonicalTensor:
    from dataclasses import replace

    return replace(t, **kw)


def build_components(infos: list[TensorInfo], *, scheme: str = "hf", config: dict[str, Any] | None = None,
                     aliases: dict[str, str] | None = None, audio_encoder: bool | None = None) -> list[Component]:
    """Group tensors into canonical components, in a stable, format-independent order
    (towers, then embeddings, layers in order, final norm, head; see `component_sort_key`).

    ``scheme`` picks the naming family (``hf``, ``gguf``, ``ct2``); ``aliases``
    maps a stored name to the HF-style name to interpret it as (ONNX
    initializers recovered from the graph). Every tensor appears in exactly one
    component; a fused tensor appears once per slice.
    """
    aliases = aliases or {}
    names = [aliases.get(i.name, i.name) for i in infos]
    ctx = naming_context(names, config)
    if audio_encoder is not None:
        ctx.audio_encoder = audio_encoder
    assign = {"hf": assign_hf, "gguf": assign_gguf, "ct2": assign_ct2}[scheme]
    comps: dict[str, Component] = {}
    for info, name in zip(infos, names):
        a = assign(name, ctx)
        parts: list[tuple[str, tuple[int, int] | None, tuple[int, ...]]]
        slices = _fused_rows(a, info, ctx.config) if a.split else None
        if slices:
            parts = [(role, (s, e), (e - s, *info.shape[1:])) for role, s, e in slices]
        else:
            parts = [(a.role, None, tuple(info.shape))]
        comp = comps.get(a.component)
        if comp is None:
            comp = comps[a.component] = Component(a.component, a.kind, a.layer)
        for role, rows, shape in parts:
            comp.tensors.append(CanonicalTensor(
                source_name=info.name, component=a.component, kind=a.kind, layer=a.layer, role=role,
                shape=shape, dtype=info.dtype, expert=a.expert, rows=rows, learned=a.learned))
    if "projector" in comps:
        comps["projector"].tensors = _projector_roles(comps["projector"].tensors)
    for comp in comps.values():
        comp.tensors.sort(key=_tensor_sort_key)
    return sorted(comps.values(), key=lambda c: component_sort_key(c.name, c.layer))
