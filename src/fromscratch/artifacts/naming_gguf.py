"""llama.cpp (GGUF) tensor names -> canonical components."""

from __future__ import annotations

import re

from fromscratch.artifacts.naming import Assign, NamingContext, bias_suffix, layer_role, split_param

_GGUF_LAYER: dict[str, tuple[str, str]] = {
    "attn_q": ("attention", "q"), "attn_k": ("attention", "k"), "attn_v": ("attention", "v"),
    "attn_output": ("attention", "o"), "attn_out": ("attention", "o"), "attn_qkv": ("attention", "qkv:split"),
    "attn_q_norm": ("attention", "q_norm"), "attn_k_norm": ("attention", "k_norm"),
    "attn_q_a": ("attention", "q_a"), "attn_q_b": ("attention", "q_b"), "attn_q_a_norm": ("attention", "q_a_norm"),
    "attn_kv_a_mqa": ("attention", "kv_a"), "attn_kv_b": ("attention", "kv_b"), "attn_kv_a_norm": ("attention", "kv_a_norm"),
    "attn_rot_embd": ("attention", "rotary:nonlearned"),
    "attn_norm": ("norm", "attn_norm"), "attn_norm_2": ("norm", "attn_norm_2"),
    "ffn_norm": ("norm", "mlp_norm"), "post_attention_norm": ("norm", "post_attn_norm"),
    "post_ffw_norm": ("norm", "post_mlp_norm"), "attn_output_norm": ("norm", "attn_norm"),
    "layer_output_norm": ("norm", "mlp_norm"),
    "ffn_gate": ("mlp", "gate"), "ffn_up": ("mlp", "up"), "ffn_down": ("mlp", "down"),
    "ffn_gate_shexp": ("mlp", "gate"), "ffn_up_shexp": ("mlp", "up"), "ffn_down_shexp": ("mlp", "down"),
    "ffn_gate_inp": ("router", "router"), "ffn_gate_inp_shexp": ("router", "shared_gate"),
    "exp_probs_b": ("router", "score_bias"),
    "ffn_gate_exps": ("experts", "gate"), "ffn_up_exps": ("experts", "up"), "ffn_down_exps": ("experts", "down"),
    "ffn_gate_up_exps": ("experts", "gate_up"),
    "cross_attn_q": ("cross_attention", "q"), "cross_attn_k": ("cross_attention", "k"),
    "cross_attn_v": ("cross_attention", "v"), "cross_attn_o": ("cross_attention", "o"),
}
_GGUF_TOP: dict[str, tuple[str, str, str]] = {
    "token_embd": ("embed_tokens", "embedding", "weight"),
    "position_embd": ("embed_positions", "embedding", "weight"),
    "token_types": ("embed_token_types", "embedding", "weight"),
    "token_embd_norm": ("embed_norm", "norm", "weight"),
    "output_norm": ("norm", "norm", "weight"),
    "output": ("lm_head", "lm_head", "weight"),
    "rope_freqs": ("rotary", "other", "rope_freqs"),
}


_GGUF_TOWER_LAYER = {"ln1": ("norm", "attn_norm"), "ln2": ("norm", "mlp_norm")}
_GGUF_TOWER_TOP = {
    "patch_embd": ("embed_patches", "embedding", "patch"), "position_embd": ("embed_positions", "embedding", "weight"),
    "class_embd": ("embed_patches", "embedding", "class_embedding"), "pre_ln": ("embed_norm", "norm", "weight"),
    "post_ln": ("norm", "norm", "weight"),
}


def assign_gguf(name: str, ctx: NamingContext) -> Assign:
    """Map one llama.cpp tensor name (``blk.N.attn_q.weight``; ``v.blk.N.*``/``a.blk.N.*`` and
    ``mm.*`` in multimodal projector files)."""
    mod, param = split_param(name)
    suffix = bias_suffix(param)
    if mod.startswith("mm.") or name.startswith("mm."):
        return Assign("projector", "projector", None, name[3:])
    prefix = ""
    if mod.startswith(("v.", "a.")):
        prefix = "vision." if mod[0] == "v" else "audio."
        mod = mod[2:]
        top = _GGUF_TOWER_TOP.get(mod)
        if top is not None:
            comp, kind, role = top
            if suffix:
                role = "bias" if role == "weight" else role + ".bias"
            return Assign(prefix + comp, kind, None, role, learned=not (prefix == "audio." and comp == "embed_positions"))
    m = re.fullmatch(r"blk\.(\d+)\.(\w+)", mod)
    if m and prefix and m.group(2) in _GGUF_TOWER_LAYER:
        layer = int(m.group(1))
        sub, role = _GGUF_TOWER_LAYER[m.group(2)]
        return Assign(f"{prefix}layers.{layer}.{sub}", sub, layer, role + suffix)
    if m:
        layer, key = int(m.group(1)), m.group(2)
        if key in _GGUF_LAYER:
            sub, rule_role = _GGUF_LAYER[key]
            role, split, learned = layer_role(rule_role)
            kind = {"cross_attention": "attention"}.get(sub, sub)
            return Assign(f"{prefix}layers.{layer}.{sub}", kind, layer, role + suffix, learned=learned, split=split)
        return Assign(f"{prefix}layers.{layer}.other", "other", layer, f"{key}.{param}")
    if prefix:
        return Assign(prefix + "other", "other", None, name)
    if mod in _GGUF_TOP:
        comp, kind, role = _GGUF_TOP[mod]
        learned = mod != "rope_freqs"
        if suffix:
            role = "bias"
        return Assign(comp, kind, None, role, learned=learned)
    if name == "rope_freqs.weight" or mod == "rope_freqs":
        return Assign("rotary", "other", None, "rope_freqs", learned=False)
    return Assign("other", "other", None, name)
