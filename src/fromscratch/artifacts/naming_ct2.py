"""CTranslate2 tensor names (WhisperSpec and Transformer specs) -> canonical components."""

from __future__ import annotations

from fromscratch.artifacts.naming import Assign, NamingContext, bias_suffix

# (block, sub-module) inside a layer -> (module, kind, role, split)
_CT2_LAYER: dict[tuple[str, str], tuple[str, str, str, str | None]] = {
    ("self_attention", "layer_norm"): ("norm", "norm", "attn_norm", None),
    ("self_attention", "linear_0"): ("attention", "attention", "qkv", "qkv"),
    ("self_attention", "linear_1"): ("attention", "attention", "o", None),
    ("attention", "layer_norm"): ("norm", "norm", "cross_attn_norm", None),
    ("attention", "linear_0"): ("cross_attention", "attention", "q", None),
    ("attention", "linear_1"): ("cross_attention", "attention", "kv", "kv"),
    ("attention", "linear_2"): ("cross_attention", "attention", "o", None),
    ("ffn", "layer_norm"): ("norm", "norm", "mlp_norm", None),
    ("ffn", "linear_0"): ("mlp", "mlp", "up", None),
    ("ffn", "linear_0_noact"): ("mlp", "mlp", "gate", None),
    ("ffn", "linear_1"): ("mlp", "mlp", "down", None),
}


def assign_ct2(name: str, ctx: NamingContext) -> Assign:
    """Map ``encoder/layer_3/self_attention/linear_0/weight`` style names.

    CTranslate2 fuses self-attention q/k/v into ``linear_0`` (split by rows),
    uses ``linear_0`` (q) and ``linear_1`` (fused k/v) for cross-attention, and
    stores norms as ``gamma``/``beta``.
    """
    parts = name.split("/")
    param = parts[-1]
    suffix = bias_suffix(param)
    side = parts[0]
    audio = ctx.audio_encoder and side == "encoder"
    prefix = "audio." if audio else ("encoder." if side == "encoder" else "")
    if len(parts) >= 3 and parts[1].startswith("layer_") and parts[1][6:].isdigit():
        layer = int(parts[1][6:])
        block = parts[2]
        sub_name = parts[3] if len(parts) > 4 else ""
        hit = _CT2_LAYER.get((block, sub_name))
        if hit is not None:
            module, kind, role, split = hit
            return Assign(f"{prefix}layers.{layer}.{module}", kind, layer, role + suffix, split=split)
        return Assign(f"{prefix}layers.{layer}.other", "other", layer, "/".join(parts[2:]))
    rest = "/".join(parts[1:])
    if rest in {"conv1/weight", "conv1/bias", "conv2/weight", "conv2/bias"}:
        role = parts[1] + (".bias" if suffix else "")
        return Assign(f"{prefix}embed_patches", "embedding", None, role)
    if rest == "position_encodings/encodings" or rest == "position_encodings":
        return Assign(f"{prefix}embed_positions", "embedding", None, "weight", learned=not audio)
    if rest.startswith("embeddings") and param in {"weight", "bias"}:
        return Assign(f"{prefix}embed_tokens", "embedding", None, "weight")
    if rest.startswith("layer_norm/"):
        return Assign(f"{prefix}norm", "norm", None, "bias" if suffix else "weight")
    if rest.startswith("projection/"):
        return Assign(f"{prefix}lm_head", "lm_head", None, "bias" if suffix else "weight")
    if parts[-1] == "scale_embeddings" or "scale_" in parts[-1]:
        return Assign("other", "other", None, name, learned=False)
    return Assign("other", "other", None, name)
