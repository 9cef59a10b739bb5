"""Hugging Face (transformers) tensor names -> canonical components.

Covers decoder-only families (llama, qwen, mistral, gemma, ...), BERT-style encoders,
T5/BART encoder-decoders, vision and audio towers (``vision.``/``audio.`` prefixes) and
multimodal projectors. Layer-internal module paths are matched against `_LAYER_RULES`,
everything else against `_TOP_RULES`; a name nobody recognises lands in ``other``.
"""

from __future__ import annotations

import re

from fromscratch.artifacts.naming import Assign, NamingContext, bias_suffix, layer_role, split_param

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


def _match_layer(rest: str, ctx: NamingContext, prefix: str, layer: int) -> Assign:
    mod, param = split_param(rest)
    suffix = bias_suffix(param)
    m = _EXPERT_RE.fullmatch(mod)
    if m:
        role = _EXPERT_ROLE.get(m.group(2), m.group(2))
        return Assign(f"{prefix}layers.{layer}.experts", "experts", layer, role + suffix, expert=int(m.group(1)))
    if mod.endswith("experts") and param in {"gate_up_proj", "down_proj", "gate_proj", "up_proj"}:
        role = {"gate_up_proj": "gate_up", "down_proj": "down", "gate_proj": "gate", "up_proj": "up"}[param]
        return Assign(f"{prefix}layers.{layer}.experts", "experts", layer, role)
    if param == "e_score_correction_bias":
        return Assign(f"{prefix}layers.{layer}.router", "router", layer, "score_bias")
    if param == "inv_freq":
        return Assign(f"{prefix}layers.{layer}.attention", "attention", layer, "inv_freq", learned=False)
    for pat, sub, rule_role in _LAYER_RULES:
        if pat.fullmatch(mod):
            role, split, learned = layer_role(rule_role)
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
            return Assign(f"{prefix}layers.{layer}.{sub}", kind, layer, role + suffix, learned=learned, split=split)
    return Assign(f"{prefix}layers.{layer}.other", "other", layer, rest)


def _match_top(rest: str, ctx: NamingContext, prefix: str, tower: str) -> Assign:
    mod, param = split_param(rest)
    if param in {"position_ids", "token_type_ids"} or rest.endswith("position_ids"):
        return Assign(f"{prefix}embed_positions", "embedding", None, param, learned=False)
    if param == "class_embedding" or rest == "embeddings.class_embedding":
        return Assign(f"{prefix}embed_patches", "embedding", None, "class_embedding")
    if param == "inv_freq":
        return Assign(f"{prefix}rotary", "other", None, "inv_freq", learned=False)
    if mod == "" and param in {"positional_embedding", "position_embedding"}:
        return Assign(f"{prefix}embed_positions", "embedding", None, "weight")
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
                return Assign("vision.projection", kind, None, role, learned=learned)
            return Assign(prefix + comp, kind, None, role, learned=learned)
    return Assign(f"{prefix}other" if prefix else "other", "other", None, rest)


_T5_RE = re.compile(r"^block\.(\d+)\.layer\.(\d)\.(SelfAttention|EncDecAttention|DenseReluDense|layer_norm)"
                    r"(?:\.(\w+))?\.(weight|bias)$")
_T5_PROJ = {"q": "q", "k": "k", "v": "v", "o": "o", "wi": "up", "wi_0": "gate", "wi_1": "up", "wo": "down"}


def _t5_layer(rest: str, prefix: str, *, decoder: bool) -> Assign | None:
    """T5 blocks: ``block.N.layer.I.{SelfAttention,EncDecAttention,DenseReluDense,layer_norm}``."""
    m = _T5_RE.match(rest)
    if m is None:
        return None
    layer, sub_i, part, proj, param = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4), m.group(5)
    suffix = bias_suffix(param)
    base = f"{prefix}layers.{layer}"
    if part == "SelfAttention" and proj in _T5_PROJ:
        return Assign(f"{base}.attention", "attention", layer, _T5_PROJ[proj] + suffix)
    if part == "EncDecAttention" and proj in _T5_PROJ:
        return Assign(f"{base}.cross_attention", "attention", layer, _T5_PROJ[proj] + suffix)
    if part == "DenseReluDense" and proj in _T5_PROJ:
        return Assign(f"{base}.mlp", "mlp", layer, _T5_PROJ[proj] + suffix)
    if part == "layer_norm":
        roles = ["attn_norm", "cross_attn_norm", "mlp_norm"] if decoder else ["attn_norm", "mlp_norm"]
        if sub_i < len(roles):
            return Assign(f"{base}.norm", "norm", layer, roles[sub_i] + suffix)
    return Assign(f"{base}.other", "other", layer, rest)


def assign_hf(name: str, ctx: NamingContext) -> Assign:
    """Map one Hugging Face (transformers) tensor name."""
    if _PROJECTOR_PREFIX.match(name):
        return Assign("projector", "projector", None, name[_PROJECTOR_PREFIX.match(name).end():])
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
            return Assign("projector", "projector", None, name.split("mm_", 1)[1])
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
