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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fromscratch.artifacts.base import CanonicalTensor, Component, TensorInfo

# ---------------------------------------------------------------------------
# Assignments


@dataclass
class _Assign:
    component: str
    kind: str
    layer: int | None
    role: str
    expert: int | None = None
    learned: bool = True
    split: str | None = None  # "qkv" | "gate_up" | "kv" : fused tensor to slice


@dataclass
class _Ctx:
    """Facts about the whole checkpoint that change how single names map."""

    config: dict[str, Any]
    model_type: str = ""
    sandwich_norms: bool = False  # gemma2/3: post_attention_layernorm is a post-norm
    audio_encoder: bool = False  # whisper-style: "encoder." is the audio tower
    glm: bool = False
    enc_dec: bool = False  # a text encoder-decoder (T5, BART, Marian): encoder side gets "encoder."
    projector_modules: dict[str, int] = field(default_factory=dict)


def _bias_suffix(param: str) -> str:
    return ".bias" if param in {"bias", "beta"} else ""


# layer-internal module paths -> (sub-component, role); matched in order, full match
_LAYER_RULES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(p), sub, role)
    for p, sub, role in [
        # attention projections
        (r"(?:self_attn|attn|attention|self_attention|attention\.self|mixer)\.(?:q_proj|query|wq|q|q_lin)", "attention", "q"),
        (r"(?:self_attn|attn|attention|self_attention|attention\.self|mixer)\.(?:k_proj|key|wk|k|k_lin)", "attention", "k"),
        (r"(?:self_attn|attn|attention|self_attention|attention\.self|mixer)\.(?:v_proj|value|wv|v|v_lin)", "attention", "v"),
        (r"(?:self_attn\.(?:o_proj|out_proj|dense)|attention\.output\.dense|attention\.(?:wo|o_proj|out_proj|dense|out_lin)"
         r"|attn\.(?:o_proj|out_proj|proj|c_proj|dense)|self_attention\.(?:dense|o_proj|out_proj)|mixer\.out_proj)", "attention", "o"),
        (r"(?:self_attn|attn|attention|self_attention)\.(?:qkv_proj|qkv|Wqkv|W_pack)", "attention", "qkv:split"),
        (r"(?:self_attn|attn|attention|self_attention)\.(?:query_key_value|c_attn)", "attention", "qkv"),
        (r"(?:self_attn|attn|attention|self_attention)\.(?:q_norm|q_layernorm|query_layernorm)", "attention", "q_norm"),
        (r"(?:self_attn|attn|attention|self_attention)\.(?:k_norm|k_layernorm|key_layernorm)", "attention", "k_norm"),
        (r"self_attn\.q_a_proj", "attention", "q_a"),
        (r"self_attn\.q_a_layernorm", "attention", "q_a_norm"),
        (r"self_attn\.q_b_proj", "attention", "q_b"),
        (r"self_attn\.kv_a_proj_with_mqa", "attention", "kv_a"),
        (r"self_attn\.kv_a_layernorm", "attention", "kv_a_norm"),
        (r"self_attn\.kv_b_proj", "attention", "kv_b"),
        (r"(?:self_attn|attn|attention|self_attention)\.(?:rotary_emb|rotary)", "attention", "rotary:nonlearned"),
        # cross-attention (encoder-decoder)
        (r"(?:encoder_attn|cross_attn|crossattention\.self)\.(?:q_proj|query)", "cross_attention", "q"),
        (r"(?:encoder_attn|cross_attn|crossattention\.self)\.(?:k_proj|key)", "cross_attention", "k"),
        (r"(?:encoder_attn|cross_attn|crossattention\.self)\.(?:v_proj|value)", "cross_attention", "v"),
        (r"(?:encoder_attn\.out_proj|cross_attn\.o_proj|cross_attn\.out_proj|crossattention\.output\.dense)", "cross_attention", "o"),
        # mixture of experts
        (r"(?:block_sparse_moe|mlp|moe|feed_forward)\.(?:gate|router|router\.layer|gate\.wg)", "router", "router"),
        (r"(?:mlp|moe)\.shared_expert_gate", "router", "shared_gate"),
        (r"(?:mlp|moe|feed_forward)\.shared_experts?\.(?:gate_proj|w1)", "mlp", "gate"),
        (r"(?:mlp|moe|feed_forward)\.shared_experts?\.(?:up_proj|w3)", "mlp", "up"),
        (r"(?:mlp|moe|feed_forward)\.shared_experts?\.(?:down_proj|w2)", "mlp", "down"),
        # dense MLP
        (r"(?:mlp|feed_forward|ffn)\.(?:gate_proj|w1|wi_0)", "mlp", "gate"),
        (r"(?:mlp|feed_forward|ffn)\.(?:up_proj|w3|wi_1|fc1|c_fc|fc_in|lin1|wi)|intermediate\.dense|fc1", "mlp", "up"),
        (r"(?:mlp|feed_forward|ffn)\.(?:down_proj|w2|wo|fc2|c_proj|fc_out|lin2)|output\.dense|fc2", "mlp", "down"),
        (r"(?:mlp|feed_forward)\.gate_up_proj", "mlp", "gate_up:split"),
        (r"mlp\.dense_h_to_4h", "mlp", "h_to_4h"),
        (r"mlp\.dense_4h_to_h", "mlp", "down"),
        # norms
        (r"input_layernorm|ln_1|layer_norm1|norm1|attention_norm|self_attn_layer_norm|ln_attn|"
         r"pre_attention_layernorm|attention\.output\.LayerNorm|attention\.output\.layer_norm|"
         r"sa_layer_norm|layernorm_before|attn_norm", "norm", "attn_norm"),
        (r"post_attention_layernorm", "norm", "post_attention_layernorm"),
        (r"pre_feedforward_layernorm|ffn_norm|ln_2|layer_norm2|norm2|final_layer_norm|output\.LayerNorm|"
         r"output\.layer_norm|output_layer_norm|layernorm_after|mlp_norm", "norm", "mlp_norm"),
        (r"post_feedforward_layernorm|post_mlp_layernorm", "norm", "post_mlp_norm"),
        (r"post_self_attn_layernorm", "norm", "post_attn_norm"),
        (r"encoder_attn_layer_norm|cross_attn_layer_norm|crossattention\.output\.LayerNorm", "norm", "cross_attn_norm"),
    ]
]

_EXPERT_RE = re.compile(r"(?:block_sparse_moe|mlp|moe|feed_forward)\.experts\.(\d+)\.(\w+)")
_EXPERT_ROLE = {"w1": "gate", "gate_proj": "gate", "w3": "up", "up_proj": "up", "w2": "down",
                "down_proj": "down", "fc1": "up", "fc2": "down"}
_LAYER_RE = re.compile(r"^(?:encoder\.|decoder\.)?(?:layers|layer|h|blocks|block)\.(\d+)\.(.+)$")

# non-layer module paths (after tower/prefix stripping) -> (component, kind, role)
_TOP_RULES: list[tuple[re.Pattern[str], str, str, str]] = [
    (re.compile(p), comp, kind, role)
    for p, comp, kind, role in [
        (r"(?:embeddings\.)?(?:embed_tokens|wte|word_embeddings|tok_embeddings|token_embedding|embedding\.word_embeddings|word_embedding|embed_in)",
         "embed_tokens", "embedding", "weight"),
        (r"(?:embeddings\.)?(?:embed_positions|wpe|position_embeddings|position_embedding)", "embed_positions", "embedding", "weight"),
        (r"(?:embeddings\.)?token_type_embeddings", "embed_token_types", "embedding", "weight"),
        (r"(?:embeddings\.)?(?:patch_embedding|patch_embeddings\.projection)|patch_embed\.proj|patch_embed", "embed_patches", "embedding", "patch"),
        (r"conv1", "embed_patches", "embedding", "conv1"),
        (r"conv2", "embed_patches", "embedding", "conv2"),
        (r"embeddings\.(?:LayerNorm|layer_norm|norm)|emb_ln|embed_layer_norm|pre_layrnorm|ln_pre|embedding_norm|layernorm_embedding",
         "embed_norm", "norm", "weight"),
        (r"(?:final_layernorm|ln_f|final_layer_norm|layer_norm|post_layernorm|norm_f|norm|final_norm|layernorm|ln_post)",
         "norm", "norm", "weight"),
        (r"lm_head|output|embed_out|output_layer|proj_out|lm_head\.decoder", "lm_head", "lm_head", "weight"),
        (r"pooler\.dense|pooler", "pooler", "other", "weight"),
        (r"visual_projection|text_projection|projection", "projection", "projector", "weight"),
        (r"rotary_emb|rotary_pos_emb|rope|rope_freqs", "rotary", "other", "rotary:nonlearned"),
    ]
]

_TOWER_PREFIXES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?:model\.)?(?:vision_tower|vision_model|visual|vision_encoder|vision|vit|image_encoder)\.(?:vision_model\.|model\.)?"), "vision"),
    (re.compile(r"^(?:model\.)?(?:audio_tower|audio_encoder|audio_model|audio)\.(?:model\.)?"), "audio"),
]
_PROJECTOR_PREFIX = re.compile(
    r"^(?:model\.)?(?:multi_modal_projector|mm_projector|connector|vision_projection|"
    r"visual\.merger|merger|audio_projector|multimodal_projector)\.")
_TEXT_PREFIXES = re.compile(
    r"^(?:base_model\.model\.|module\.|inner\.|0\.auto_model\.|auto_model\.|_orig_mod\.)?(?:model\.language_model\.model\.|model\.language_model\.|language_model\.model\.|"
    r"language_model\.|model\.text_model\.|text_model\.|model\.decoder\.|model\.model\.|model\.|transformer\.encoder\.|"
    r"transformer\.|bert\.|roberta\.|deberta\.|distilbert\.transformer\.|distilbert\.|electra\.|gpt_neox\.|backbone\.)?")


def _split_param(rest: str) -> tuple[str, str]:
    if "." in rest:
        mod, param = rest.rsplit(".", 1)
        return mod, param
    return "", rest


def _match_layer(rest: str, ctx: _Ctx, prefix: str, layer: int) -> _Assign:
    mod, param = _split_param(rest)
    suffix = _bias_suffix(param)
    m = _EXPERT_RE.fullmatch(mod)
    if m:
        role = _EXPERT_ROLE.get(m.group(2), m.group(2))
        return _Assign(f"{prefix}layers.{layer}.experts", "experts", layer, role + suffix, expert=int(m.group(1)))
    if mod.endswith("experts") and param in {"gate_up_proj", "down_proj", "gate_proj", "up_proj"}:
        role = {"gate_up_proj": "gate_up", "down_proj": "down", "gate_proj": "gate", "up_proj": "up"}[param]
        return _Assign(f"{prefix}layers.{layer}.experts", "experts", layer, role)
    if param == "e_score_correction_bias":
        return _Assign(f"{prefix}layers.{layer}.router", "router", layer, "score_bias")
    if param == "inv_freq":
        return _Assign(f"{prefix}layers.{layer}.attention", "attention", layer, "inv_freq", learned=False)
    for pat, sub, role in _LAYER_RULES:
        if pat.fullmatch(mod):
            split = None
            learned = True
            if role.endswith(":split"):
                role = role[:-6]
                split = role
            elif role == "rotary:nonlearned":
                role, learned = "rotary", False
            if role == "post_attention_layernorm":
                role = "post_attn_norm" if ctx.sandwich_norms else "mlp_norm"
            if role == "h_to_4h":
                if ctx.glm:
                    role, split = "gate_up", "gate_up"
                else:
                    role = "up"
            if sub == "router" and param not in {"weight", "bias"}:
                role = param
                suffix = ""
            kind = {"cross_attention": "attention"}.get(sub, sub)
            return _Assign(f"{prefix}layers.{layer}.{sub}", kind, layer, role + suffix, learned=learned, split=split)
    return _Assign(f"{prefix}layers.{layer}.other", "other", layer, rest)


def _match_top(rest: str, ctx: _Ctx, prefix: str, tower: str) -> _Assign:
    mod, param = _split_param(rest)
    if param in {"position_ids", "token_type_ids"} or rest.endswith("position_ids"):
        return _Assign(f"{prefix}embed_positions", "embedding", None, param, learned=False)
    if param == "class_embedding" or rest == "embeddings.class_embedding":
        return _Assign(f"{prefix}embed_patches", "embedding", None, "class_embedding")
    if param == "inv_freq":
        return _Assign(f"{prefix}rotary", "other", None, "inv_freq", learned=False)
    if mod == "" and param in {"positional_embedding", "position_embedding"}:
        return _Assign(f"{prefix}embed_positions", "embedding", None, "weight")
    for pat, comp, kind, role in _TOP_RULES:
        if pat.fullmatch(mod):
            learned = True
            if role == "rotary:nonlearned":
                role, learned = param, False
            elif role in {"weight", "patch", "conv1", "conv2"}:
                if param in {"bias", "beta"}:
                    role = "bias" if role == "weight" else role + ".bias"
                elif param not in {"weight", "gamma", "scale"}:
                    role = param if role == "weight" else f"{role}.{param}"
            if comp == "embed_positions" and tower == "audio":
                learned = False  # whisper's encoder position table is sinusoidal
            if comp == "projection" and mod.startswith("visual_projection"):
                return _Assign("vision.projection", kind, None, role, learned=learned)
            return _Assign(prefix + comp, kind, None, role, learned=learned)
    return _Assign(f"{prefix}other" if prefix else "other", "other", None, rest)


def _context(names: Iterable[str], config: dict[str, Any] | None) -> _Ctx:
    names = list(names)
    cfg = dict(config or {})
    text_cfg = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else None
    mt = str(cfg.get("model_type", "") or (text_cfg or {}).get("model_type", "")).lower()
    ctx = _Ctx(config=cfg, model_type=mt)
    for n in names:
        if "pre_feedforward_layernorm" in n or ".post_feedforward_layernorm" in n:
            ctx.sandwich_norms = True
        if re.search(r"(^|[./])encoder[./]conv1[./]", n):
            ctx.audio_encoder = True
    ctx.glm = mt in {"chatglm", "glm"}
    name_list = list(names)
    has_enc = any(re.search(r"(^|\.)encoder\.(layers|layer|block)\.\d", n) for n in name_list)
    has_dec = any(re.search(r"(^|\.)decoder\.(layers|layer|block)\.\d", n) for n in name_list)
    ctx.enc_dec = has_enc and has_dec and not ctx.audio_encoder and not ctx.glm
    if mt.startswith("gemma2") or mt.startswith("gemma3"):
        ctx.sandwich_norms = True
    return ctx


_T5_RE = re.compile(r"^block\.(\d+)\.layer\.(\d)\.(SelfAttention|EncDecAttention|DenseReluDense|layer_norm)"
                    r"(?:\.(\w+))?\.(weight|bias)$")
_T5_PROJ = {"q": "q", "k": "k", "v": "v", "o": "o", "wi": "up", "wi_0": "gate", "wi_1": "up", "wo": "down"}


def _t5_layer(rest: str, prefix: str, *, decoder: bool) -> _Assign | None:
    """T5 blocks: ``block.N.layer.I.{SelfAttention,EncDecAttention,DenseReluDense,layer_norm}``."""
    m = _T5_RE.match(rest)
    if m is None:
        return None
    layer, sub_i, part, proj, param = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4), m.group(5)
    suffix = _bias_suffix(param)
    base = f"{prefix}layers.{layer}"
    if part == "SelfAttention" and proj in _T5_PROJ:
        return _Assign(f"{base}.attention", "attention", layer, _T5_PROJ[proj] + suffix)
    if part == "EncDecAttention" and proj in _T5_PROJ:
        return _Assign(f"{base}.cross_attention", "attention", layer, _T5_PROJ[proj] + suffix)
    if part == "DenseReluDense" and proj in _T5_PROJ:
        return _Assign(f"{base}.mlp", "mlp", layer, _T5_PROJ[proj] + suffix)
    if part == "layer_norm":
        roles = ["attn_norm", "cross_attn_norm", "mlp_norm"] if decoder else ["attn_norm", "mlp_norm"]
        if sub_i < len(roles):
            return _Assign(f"{base}.norm", "norm", layer, roles[sub_i] + suffix)
    return _Assign(f"{base}.other", "other", layer, rest)


def assign_hf(name: str, ctx: _Ctx) -> _Assign:
    """Map one Hugging Face (transformers) tensor name."""
    if _PROJECTOR_PREFIX.match(name):
        return _Assign("projector", "projector", None, name[_PROJECTOR_PREFIX.match(name).end():])
    tower = "text"
    rest = name
    for pat, tw in _TOWER_PREFIXES:
        m = pat.match(name)
        if m:
            tower, rest = tw, name[m.end():]
            break
    if tower == "text" and ctx.audio_encoder:
        m = re.match(r"^(?:model\.)?encoder\.", name)
        if m:
            tower, rest = "audio", name[m.end():]
    enc_side = False
    if tower == "text":
        if name.startswith("model.mm_") or name.startswith("mm_"):
            return _Assign("projector", "projector", None, name.split("mm_", 1)[1])
        rest = _TEXT_PREFIXES.sub("", name, count=1)
        if ctx.glm:
            rest = re.sub(r"^encoder\.", "", rest)
        elif ctx.enc_dec:
            # a text encoder-decoder (T5, BART): the decoder is the text side, the encoder gets "encoder."
            if rest.startswith("encoder."):
                enc_side, rest = True, rest[len("encoder."):]
            elif rest.startswith("decoder."):
                rest = rest[len("decoder."):]
            if rest in ("shared.weight",):
                rest = "embed_tokens.weight"
    prefix = "" if tower == "text" else tower + "."
    if enc_side:
        prefix = "encoder."
    if ctx.enc_dec:
        t5 = _t5_layer(rest, prefix, decoder=not enc_side)
        if t5 is not None:
            return t5
    # vision encoders nest their blocks under encoder.
    rest = re.sub(r"^(?:encoder|transformer)\.(?=(?:layers|layer|blocks|resblocks)\.\d+\.)", "", rest)
    rest = re.sub(r"^resblocks\.", "layers.", rest)
    m = _LAYER_RE.match(rest)
    if m:
        return _match_layer(m.group(2), ctx, prefix, int(m.group(1)))
    return _match_top(rest, ctx, prefix, tower)


# ---------------------------------------------------------------------------
# GGUF (llama.cpp) names

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


def assign_gguf(name: str, ctx: _Ctx) -> _Assign:
    """Map one llama.cpp tensor name (``blk.N.attn_q.weight``; ``v.blk.N.*``/``a.blk.N.*`` and
    ``mm.*`` in multimodal projector files)."""
    mod, param = _split_param(name)
    suffix = _bias_suffix(param)
    if mod.startswith("mm.") or name.startswith("mm."):
        return _Assign("projector", "projector", None, name[3:])
    prefix = ""
    if mod.startswith(("v.", "a.")):
        prefix = "vision." if mod[0] == "v" else "audio."
        mod = mod[2:]
        top = _GGUF_TOWER_TOP.get(mod)
        if top is not None:
            comp, kind, role = top
            if suffix:
                role = "bias" if role == "weight" else role + ".bias"
            return _Assign(prefix + comp, kind, None, role, learned=not (prefix == "audio." and comp == "embed_positions"))
    m = re.fullmatch(r"blk\.(\d+)\.(\w+)", mod)
    if m and prefix and m.group(2) in _GGUF_TOWER_LAYER:
        layer = int(m.group(1))
        sub, role = _GGUF_TOWER_LAYER[m.group(2)]
        return _Assign(f"{prefix}layers.{layer}.{sub}", sub, layer, role + suffix)
    if m:
        layer, key = int(m.group(1)), m.group(2)
        if key in _GGUF_LAYER:
            sub, role = _GGUF_LAYER[key]
            split = None
            learned = True
            if role.endswith(":split"):
                role = role[:-6]
                split = role
            if role == "rotary:nonlearned":
                role, learned = "rotary", False
            kind = {"cross_attention": "attention"}.get(sub, sub)
            return _Assign(f"{prefix}layers.{layer}.{sub}", kind, layer, role + suffix, learned=learned, split=split)
        return _Assign(f"{prefix}layers.{layer}.other", "other", layer, f"{key}.{param}")
    if prefix:
        return _Assign(prefix + "other", "other", None, name)
    if mod in _GGUF_TOP:
        comp, kind, role = _GGUF_TOP[mod]
        learned = mod != "rope_freqs"
        if suffix:
            role = "bias"
        return _Assign(comp, kind, None, role, learned=learned)
    if name == "rope_freqs.weight" or mod == "rope_freqs":
        return _Assign("rotary", "other", None, "rope_freqs", learned=False)
    return _Assign("other", "other", None, name)


# ---------------------------------------------------------------------------
# CTranslate2 names (WhisperSpec and Transformer specs)

def assign_ct2(name: str, ctx: _Ctx) -> _Assign:
    """Map ``encoder/layer_3/self_attention/linear_0/weight`` style names.

    CTranslate2 fuses self-attention q/k/v into ``linear_0`` (split by rows),
    uses ``linear_0`` (q) and ``linear_1`` (fused k/v) for cross-attention, and
    stores norms as ``gamma``/``beta``.
    """
    parts = name.split("/")
    param = parts[-1]
    suffix = _bias_suffix(param)
    side = parts[0]
    audio = ctx.audio_encoder and side == "encoder"
    prefix = "audio." if audio else ("encoder." if side == "encoder" else "")
    if len(parts) >= 3 and parts[1].startswith("layer_") and parts[1][6:].isdigit():
        layer = int(parts[1][6:])
        block = parts[2]
        sub_name = parts[3] if len(parts) > 4 else ""
        if block == "self_attention":
            if sub_name == "layer_norm":
                return _Assign(f"{prefix}layers.{layer}.norm", "norm", layer, "attn_norm" + suffix)
            if sub_name == "linear_0":
                return _Assign(f"{prefix}layers.{layer}.attention", "attention", layer, "qkv" + suffix, split="qkv")
            if sub_name == "linear_1":
                return _Assign(f"{prefix}layers.{layer}.attention", "attention", layer, "o" + suffix)
        if block == "attention":
            if sub_name == "layer_norm":
                return _Assign(f"{prefix}layers.{layer}.norm", "norm", layer, "cross_attn_norm" + suffix)
            if sub_name == "linear_0":
                return _Assign(f"{prefix}layers.{layer}.cross_attention", "attention", layer, "q" + suffix)
            if sub_name == "linear_1":
                return _Assign(f"{prefix}layers.{layer}.cross_attention", "attention", layer, "kv" + suffix, split="kv")
            if sub_name == "linear_2":
                return _Assign(f"{prefix}layers.{layer}.cross_attention", "attention", layer, "o" + suffix)
        if block == "ffn":
            if sub_name == "layer_norm":
                return _Assign(f"{prefix}layers.{layer}.norm", "norm", layer, "mlp_norm" + suffix)
            if sub_name == "linear_0":
                return _Assign(f"{prefix}layers.{layer}.mlp", "mlp", layer, "up" + suffix)
            if sub_name == "linear_0_noact":
                return _Assign(f"{prefix}layers.{layer}.mlp", "mlp", layer, "gate" + suffix)
            if sub_name == "linear_1":
                return _Assign(f"{prefix}layers.{layer}.mlp", "mlp", layer, "down" + suffix)
        return _Assign(f"{prefix}layers.{layer}.other", "other", layer, "/".join(parts[2:]))
    rest = "/".join(parts[1:])
    if rest in {"conv1/weight", "conv1/bias", "conv2/weight", "conv2/bias"}:
        role = parts[1] + (".bias" if suffix else "")
        return _Assign(f"{prefix}embed_patches", "embedding", None, role)
    if rest == "position_encodings/encodings" or rest == "position_encodings":
        return _Assign(f"{prefix}embed_positions", "embedding", None, "weight", learned=not audio)
    if rest.startswith("embeddings") and param in {"weight", "bias"}:
        return _Assign(f"{prefix}embed_tokens", "embedding", None, "weight")
    if rest.startswith("layer_norm/"):
        return _Assign(f"{prefix}norm", "norm", None, "bias" if suffix else "weight")
    if rest.startswith("projection/"):
        return _Assign(f"{prefix}lm_head", "lm_head", None, "bias" if suffix else "weight")
    if parts[-1] == "scale_embeddings" or "scale_" in parts[-1]:
        return _Assign("other", "other", None, name, learned=False)
    return _Assign("other", "other", None, name)


# ---------------------------------------------------------------------------
# Fused tensors and ordering

def _fused_rows(a: _Assign, info: TensorInfo, cfg: dict[str, Any]) -> list[tuple[str, int, int]] | None:
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
        mod, _ = _split_param(t.role)
        mods.setdefault(mod, None)
    linear = [m for m in sorted(mods, key=natural) if not re.search(r"norm|ln", m)]
    norms = [m for m in sorted(mods, key=natural) if re.search(r"norm|ln", m)]
    out = []
    for t in tensors:
        mod, param = _split_param(t.role)
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
    """Group tensors into canonical components, in the contract's stable order.

    ``scheme`` picks the naming family (``hf``, ``gguf``, ``ct2``); ``aliases``
    maps a stored name to the HF-style name to interpret it as (ONNX
    initializers recovered from the graph). Every tensor appears in exactly one
    component; a fused tensor appears once per slice.
    """
    aliases = aliases or {}
    names = [aliases.get(i.name, i.name) for i in infos]
    ctx = _context(names, config)
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
