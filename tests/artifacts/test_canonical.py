"""Name mapping to canonical components, without any weights (pure function of names)."""

from __future__ import annotations

import pytest

from fromscratch.artifacts.base import TensorInfo
from fromscratch.artifacts.canonical import build_components


def mapping(names_shapes, *, scheme="hf", config=None, aliases=None):
    infos = [TensorInfo(n, tuple(s), "F32", 4) for n, s in names_shapes]
    comps = build_components(infos, scheme=scheme, config=config, aliases=aliases)
    out = {}
    for c in comps:
        for t in c.tensors:
            out.setdefault(t.source_name, []).append((c.name, c.kind, c.layer, t.role))
    return comps, out


def one(name, shape=(4, 4), **kw):
    _, out = mapping([(name, shape)], **kw)
    (entry,) = out[name]
    return entry


@pytest.mark.parametrize("name,expected", [
    # llama / qwen2 / mistral
    ("model.embed_tokens.weight", ("embed_tokens", "embedding", None, "weight")),
    ("model.layers.3.self_attn.q_proj.weight", ("layers.3.attention", "attention", 3, "q")),
    ("model.layers.3.self_attn.k_proj.bias", ("layers.3.attention", "attention", 3, "k.bias")),
    ("model.layers.3.self_attn.o_proj.weight", ("layers.3.attention", "attention", 3, "o")),
    ("model.layers.3.self_attn.q_norm.weight", ("layers.3.attention", "attention", 3, "q_norm")),
    ("model.layers.3.mlp.gate_proj.weight", ("layers.3.mlp", "mlp", 3, "gate")),
    ("model.layers.3.mlp.down_proj.weight", ("layers.3.mlp", "mlp", 3, "down")),
    ("model.layers.3.input_layernorm.weight", ("layers.3.norm", "norm", 3, "attn_norm")),
    ("model.layers.3.post_attention_layernorm.weight", ("layers.3.norm", "norm", 3, "mlp_norm")),
    ("model.norm.weight", ("norm", "norm", None, "weight")),
    ("lm_head.weight", ("lm_head", "lm_head", None, "weight")),
    # BERT
    ("bert.embeddings.word_embeddings.weight", ("embed_tokens", "embedding", None, "weight")),
    ("embeddings.position_embeddings.weight", ("embed_positions", "embedding", None, "weight")),
    ("embeddings.token_type_embeddings.weight", ("embed_token_types", "embedding", None, "weight")),
    ("embeddings.LayerNorm.bias", ("embed_norm", "norm", None, "bias")),
    ("encoder.layer.2.attention.self.query.weight", ("layers.2.attention", "attention", 2, "q")),
    ("encoder.layer.2.attention.self.value.bias", ("layers.2.attention", "attention", 2, "v.bias")),
    ("encoder.layer.2.attention.output.dense.weight", ("layers.2.attention", "attention", 2, "o")),
    ("encoder.layer.2.attention.output.LayerNorm.weight", ("layers.2.norm", "norm", 2, "attn_norm")),
    ("encoder.layer.2.intermediate.dense.weight", ("layers.2.mlp", "mlp", 2, "up")),
    ("encoder.layer.2.output.dense.weight", ("layers.2.mlp", "mlp", 2, "down")),
    ("encoder.layer.2.output.LayerNorm.bias", ("layers.2.norm", "norm", 2, "mlp_norm.bias")),
    ("pooler.dense.weight", ("pooler", "other", None, "weight")),
    # LLaVA-style multimodal
    ("model.vision_tower.vision_model.encoder.layers.1.self_attn.q_proj.weight",
     ("vision.layers.1.attention", "attention", 1, "q")),
    ("vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight", ("vision.layers.0.mlp", "mlp", 0, "up")),
    ("model.vision_tower.vision_model.encoder.layers.0.layer_norm2.weight", ("vision.layers.0.norm", "norm", 0, "mlp_norm")),
    ("model.vision_tower.vision_model.embeddings.patch_embedding.weight", ("vision.embed_patches", "embedding", None, "patch")),
    ("model.vision_tower.vision_model.post_layernorm.weight", ("vision.norm", "norm", None, "weight")),
    ("model.multi_modal_projector.linear_1.weight", ("projector", "projector", None, "weight")),
    ("model.language_model.layers.0.self_attn.v_proj.weight", ("layers.0.attention", "attention", 0, "v")),
    ("language_model.model.layers.0.mlp.up_proj.weight", ("layers.0.mlp", "mlp", 0, "up")),
    ("model.language_model.embed_tokens.weight", ("embed_tokens", "embedding", None, "weight")),
    # mixture of experts
    ("model.layers.1.block_sparse_moe.gate.weight", ("layers.1.router", "router", 1, "router")),
    ("model.layers.1.mlp.gate.weight", ("layers.1.router", "router", 1, "router")),
    ("model.layers.1.mlp.shared_experts.down_proj.weight", ("layers.1.mlp", "mlp", 1, "down")),
    # GLM-4, GPT-NeoX, Falcon, DeepSeek
    ("model.layers.1.post_self_attn_layernorm.weight", ("layers.1.norm", "norm", 1, "post_attn_norm")),
    ("model.layers.1.post_mlp_layernorm.weight", ("layers.1.norm", "norm", 1, "post_mlp_norm")),
    ("gpt_neox.embed_in.weight", ("embed_tokens", "embedding", None, "weight")),
    ("gpt_neox.layers.0.attention.query_key_value.weight", ("layers.0.attention", "attention", 0, "qkv")),
    ("transformer.h.0.mlp.dense_4h_to_h.weight", ("layers.0.mlp", "mlp", 0, "down")),
    ("model.layers.3.mlp.gate.e_score_correction_bias", ("layers.3.router", "router", 3, "score_bias")),
    ("model.layers.3.self_attn.kv_a_proj_with_mqa.weight", ("layers.3.attention", "attention", 3, "kv_a")),
    # unknown
    ("some.random.tensor", ("other", "other", None, "some.random.tensor")),
    ("model.layers.4.weird_thing.weight", ("layers.4.other", "other", 4, "weird_thing.weight")),
])
def test_hf_names(name, expected):
    assert one(name) == expected


def test_experts_carry_their_index():
    comps, out = mapping([("model.layers.0.block_sparse_moe.experts.5.w1.weight", (8, 4)),
                          ("model.layers.0.mlp.experts.2.down_proj.weight", (4, 8))])
    (c,) = comps
    assert c.name == "layers.0.experts" and c.kind == "experts"
    assert [(t.expert, t.role) for t in c.tensors] == [(2, "down"), (5, "gate")]


def test_gemma_sandwich_norms():
    _, out = mapping([("model.layers.0.input_layernorm.weight", (4,)),
                      ("model.layers.0.post_attention_layernorm.weight", (4,)),
                      ("model.layers.0.pre_feedforward_layernorm.weight", (4,)),
                      ("model.layers.0.post_feedforward_layernorm.weight", (4,))])
    roles = [v[0][3] for v in out.values()]
    assert roles == ["attn_norm", "post_attn_norm", "mlp_norm", "post_mlp_norm"]


def test_gguf_gemma_norms_use_the_same_roles():
    _, out = mapping([("blk.0.attn_norm.weight", (4,)), ("blk.0.post_attention_norm.weight", (4,)),
                      ("blk.0.ffn_norm.weight", (4,)), ("blk.0.post_ffw_norm.weight", (4,))], scheme="gguf")
    assert [v[0][3] for v in out.values()] == ["attn_norm", "post_attn_norm", "mlp_norm", "post_mlp_norm"]


def test_fused_qkv_split_by_heads():
    cfg = {"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2}
    comps, _ = mapping([("model.layers.0.self_attn.qkv_proj.weight", (64 + 2 * 32, 64)),
                        ("model.layers.0.mlp.gate_up_proj.weight", (256, 64))], config=cfg)
    attn = [c for c in comps if c.name == "layers.0.attention"][0]
    assert [(t.role, t.rows, t.shape) for t in attn.tensors] == [
        ("q", (0, 64), (64, 64)), ("k", (64, 96), (32, 64)), ("v", (96, 128), (32, 64))]
    mlp = [c for c in comps if c.name == "layers.0.mlp"][0]
    assert [(t.role, t.rows) for t in mlp.tensors] == [("gate", (0, 128)), ("up", (128, 256))]


def test_whisper_hf_encoder_is_audio_tower():
    comps, out = mapping([("model.encoder.conv1.weight", (8, 80, 3)),
                          ("model.encoder.embed_positions.weight", (1500, 8)),
                          ("model.encoder.layers.0.self_attn.q_proj.weight", (8, 8)),
                          ("model.encoder.layers.0.fc1.weight", (32, 8)),
                          ("model.decoder.embed_tokens.weight", (100, 8)),
                          ("model.decoder.embed_positions.weight", (448, 8)),
                          ("model.decoder.layers.0.encoder_attn.k_proj.weight", (8, 8)),
                          ("model.decoder.layers.0.encoder_attn_layer_norm.weight", (8,))])
    assert out["model.encoder.conv1.weight"][0][0] == "audio.embed_patches"
    assert out["model.encoder.layers.0.self_attn.q_proj.weight"][0][:2] == ("audio.layers.0.attention", "attention")
    assert out["model.encoder.layers.0.fc1.weight"][0][0] == "audio.layers.0.mlp"
    assert out["model.decoder.layers.0.encoder_attn.k_proj.weight"][0] == ("layers.0.cross_attention", "attention", 0, "k")
    assert out["model.decoder.layers.0.encoder_attn_layer_norm.weight"][0][3] == "cross_attn_norm"
    learned = {t.source_name: t.learned for c in comps for t in c.tensors}
    assert learned["model.encoder.embed_positions.weight"] is False  # sinusoidal
    assert learned["model.decoder.embed_positions.weight"] is True
    # text side first, then towers
    names = [c.name for c in comps]
    assert names.index("embed_tokens") < names.index("audio.embed_patches")


def test_non_learned_buffers():
    comps, _ = mapping([("embeddings.position_ids", (1, 512)),
                        ("model.layers.0.self_attn.rotary_emb.inv_freq", (32,)),
                        ("rope_freqs.weight", (32,))])
    flags = {t.source_name: t.learned for c in comps for t in c.tensors}
    assert not any(flags.values())
    _, out = mapping([("rope_freqs.weight", (32,))], scheme="gguf")
    assert out["rope_freqs.weight"][0][1] == "other"


def test_stable_order_layers_then_final_then_towers():
    names = ["lm_head.weight", "model.norm.weight", "model.multi_modal_projector.linear_2.weight",
             "model.layers.10.mlp.up_proj.weight", "model.layers.2.mlp.up_proj.weight",
             "model.layers.2.input_layernorm.weight", "model.layers.2.self_attn.q_proj.weight",
             "model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight",
             "model.embed_tokens.weight", "mystery"]
    comps, _ = mapping([(n, (4, 4)) for n in names])
    assert [c.name for c in comps] == [
        "embed_tokens", "layers.2.attention", "layers.2.mlp", "layers.2.norm", "layers.10.mlp", "norm", "lm_head",
        "vision.layers.0.attention", "projector", "other"]


def test_gguf_names():
    _, out = mapping([("token_embd.weight", (10, 4)), ("blk.0.attn_q.weight", (4, 4)),
                      ("blk.0.ffn_gate_exps.weight", (8, 16, 4)), ("blk.0.ffn_gate_inp.weight", (8, 4)),
                      ("output_norm.weight", (4,)), ("output.weight", (10, 4)), ("blk.0.new_thing.weight", (4,))],
                     scheme="gguf")
    assert out["token_embd.weight"][0][0] == "embed_tokens"
    assert out["blk.0.attn_q.weight"][0] == ("layers.0.attention", "attention", 0, "q")
    assert out["blk.0.ffn_gate_exps.weight"][0][:2] == ("layers.0.experts", "experts")
    assert out["blk.0.ffn_gate_inp.weight"][0][:2] == ("layers.0.router", "router")
    assert out["output.weight"][0][0] == "lm_head"
    assert out["blk.0.new_thing.weight"][0][1] == "other"


def test_ct2_whisper_names_split_fused():
    comps, out = mapping([("encoder/conv1/weight", (8, 80, 3)),
                          ("encoder/position_encodings/encodings", (1500, 8)),
                          ("encoder/layer_0/self_attention/linear_0/weight", (24, 8)),
                          ("decoder/layer_0/attention/linear_1/weight", (16, 8)),
                          ("decoder/layer_0/ffn/linear_0/weight", (32, 8)),
                          ("decoder/embeddings/weight", (100, 8))], scheme="ct2")
    assert [r[3] for r in out["encoder/layer_0/self_attention/linear_0/weight"]] == ["q", "k", "v"]
    assert out["encoder/layer_0/self_attention/linear_0/weight"][0][0] == "audio.layers.0.attention"
    assert [r[3] for r in out["decoder/layer_0/attention/linear_1/weight"]] == ["k", "v"]
    assert out["decoder/layer_0/ffn/linear_0/weight"][0][:2] == ("layers.0.mlp", "mlp")
    learned = {t.source_name: t.learned for c in comps for t in c.tensors}
    assert learned["encoder/position_encodings/encodings"] is False


def test_aliases_rename_anonymous_tensors():
    _, out = mapping([("val_49", (4, 4))], aliases={"val_49": "inner.encoder.layer.0.attention.self.query.weight"})
    assert out["val_49"][0] == ("layers.0.attention", "attention", 0, "q")


def test_every_tensor_in_exactly_one_component():
    names = [f"model.layers.{i}.{m}" for i in range(3) for m in
             ("self_attn.q_proj.weight", "mlp.up_proj.weight", "odd.weight", "input_layernorm.weight")]
    comps, out = mapping([(n, (4, 4)) for n in names])
    assert sorted(out) == sorted(names)
    assert sum(len(c.tensors) for c in comps) == len(names)


def test_gguf_multimodal_projector_files():
    comps, out = mapping([("v.patch_embd.weight", (8, 3, 2, 2)), ("v.blk.0.attn_q.weight", (8, 8)),
                          ("v.blk.0.ln1.weight", (8,)), ("v.blk.0.ffn_up.weight", (16, 8)),
                          ("v.post_ln.weight", (8,)), ("mm.0.weight", (8, 8)), ("mm.2.weight", (8, 8))],
                         scheme="gguf")
    assert out["v.blk.0.attn_q.weight"][0] == ("vision.layers.0.attention", "attention", 0, "q")
    assert out["v.blk.0.ln1.weight"][0] == ("vision.layers.0.norm", "norm", 0, "attn_norm")
    assert out["v.patch_embd.weight"][0][:2] == ("vision.embed_patches", "embedding")
    assert out["v.post_ln.weight"][0][0] == "vision.norm"
    assert [r[0][3] for k, r in out.items() if k.startswith("mm.")] == ["weight", "weight.1"]


def test_text_encoder_decoder_keeps_sides_apart():
    names = ["shared.weight", "encoder.block.0.layer.0.SelfAttention.q.weight",
             "encoder.block.0.layer.1.DenseReluDense.wi_0.weight", "encoder.block.0.layer.1.layer_norm.weight",
             "decoder.block.0.layer.0.SelfAttention.q.weight", "decoder.block.0.layer.1.EncDecAttention.k.weight",
             "decoder.block.0.layer.1.layer_norm.weight", "decoder.block.0.layer.2.DenseReluDense.wo.weight",
             "encoder.final_layer_norm.weight", "decoder.final_layer_norm.weight", "lm_head.weight"]
    comps, out = mapping([(n, (4, 4)) for n in names])
    assert out["shared.weight"][0][0] == "embed_tokens"
    assert out["encoder.block.0.layer.0.SelfAttention.q.weight"][0] == ("encoder.layers.0.attention", "attention", 0, "q")
    assert out["encoder.block.0.layer.1.DenseReluDense.wi_0.weight"][0][3] == "gate"
    assert out["encoder.block.0.layer.1.layer_norm.weight"][0][3] == "mlp_norm"
    assert out["decoder.block.0.layer.0.SelfAttention.q.weight"][0][0] == "layers.0.attention"
    assert out["decoder.block.0.layer.1.EncDecAttention.k.weight"][0][:2] == ("layers.0.cross_attention", "attention")
    assert out["decoder.block.0.layer.1.layer_norm.weight"][0][3] == "cross_attn_norm"
    assert out["encoder.final_layer_norm.weight"][0][0] == "encoder.norm"
    assert out["decoder.final_layer_norm.weight"][0][0] == "norm"
    bart = ["model.encoder.layers.0.self_attn.q_proj.weight", "model.decoder.layers.0.self_attn.q_proj.weight"]
    _, out = mapping([(n, (4, 4)) for n in bart])
    assert [out[n][0][0] for n in bart] == ["encoder.layers.0.attention", "layers.0.attention"]
