"""Disguise transforms: the function-preserving ones keep the logits, the others do what they say.

Checked on a small random llama (numpy, fast) and, with torch, against the zoo's
own torch implementation on a trained zoo model (so the numpy forward pass is
itself checked against an independent one).
"""

from __future__ import annotations

import numpy as np
import pytest

import fromscratch.disguise as D
from fromscratch.disguise.llama import Llama, spec_from_config
from tests.generators.lineage_synthetic import Shape, random_llama, vocab_words

SHAPE = Shape(d=64, ff=96, layers=2, heads=4, kv_heads=2, vocab=200)


def _model(tied: bool = False) -> Llama:
    sd = random_llama(7, SHAPE)
    if tied:
        sd.pop("lm_head.weight")
    cfg = {"num_attention_heads": SHAPE.heads, "num_key_value_heads": SHAPE.kv_heads, "rms_norm_eps": 1e-5}
    tok = {"model": {"type": "BPE", "vocab": {w: i for i, w in enumerate(vocab_words(SHAPE.vocab))}, "merges": []},
           "added_tokens": [], "pre_tokenizer": {"type": "ByteLevel"}}
    return Llama(spec=spec_from_config(cfg, sd, "test"), sd=sd, tokenizer=tok)


EXACT = {
    "fold_norms": D.fold_norms,
    "rotate": lambda m: D.rotate(m, 1),
    "permute_residual": lambda m: D.permute_residual(m, 2),
    "permute_units": lambda m: D.permute_units(m, 3),
    "rescale_mlp": lambda m: D.rescale_mlp(m, 4),
    "rescale_heads": lambda m: D.rescale_heads(m, 5),
    "rescale_norms": lambda m: D.rescale_norms(m, 6),
    "flip_signs": lambda m: D.flip_signs(m, 7),
    "rotate+permute": lambda m: D.permute_units(D.rotate(m, 8), 9),
}


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("name", sorted(EXACT))
def test_function_preserving(name, tied):
    m = _model(tied)
    ids = D.probe_ids(m.spec.vocab, 0)
    out = EXACT[name](m)
    diff, scale = D.logit_check(m, out, ids)
    assert diff <= 1e-5 * scale, (name, diff, scale)
    # and it really is a disguise: some matrix changed
    changed = [k for k in m.sd if k in out.sd and m.sd[k].shape == out.sd[k].shape
               and not np.array_equal(m.sd[k], out.sd[k])]
    assert changed
    # the input was not modified in place
    assert all(np.array_equal(v, _model(tied).sd[k]) for k, v in m.sd.items())


def test_rotation_is_not_a_signed_permutation():
    m = _model()
    out = D.rotate(m, 1)
    w0 = m.sd["model.layers.0.mlp.up_proj.weight"] * m.sd["model.layers.0.post_attention_layernorm.weight"]
    w1 = out.sd["model.layers.0.mlp.up_proj.weight"]
    # the column correspondence is dense: no column of the copy matches one original column
    c = np.abs(np.corrcoef(w0.T, w1.T)[: SHAPE.d, SHAPE.d:])
    assert c.max() < 0.9
    assert np.allclose(out.sd["model.norm.weight"], 1.0)


def test_fold_unties_and_permute_keeps_tie():
    m = _model(tied=True)
    assert D.fold_norms(m).spec.tied is False and "lm_head.weight" in D.fold_norms(m).sd
    p = D.permute_residual(m, 3)
    assert p.spec.tied and "lm_head.weight" not in p.sd


def test_gate_is_untouched_by_rescaling():
    m = _model()
    out = D.rescale_mlp(m, 4)
    assert np.array_equal(out.sd["model.layers.0.mlp.gate_proj.weight"], m.sd["model.layers.0.mlp.gate_proj.weight"])
    # rescaling the gate row the same way does change the function (SiLU is not homogeneous)
    sd = dict(out.sd)
    c = out.sd["model.layers.0.mlp.up_proj.weight"][:, 0] / m.sd["model.layers.0.mlp.up_proj.weight"][:, 0]
    sd["model.layers.0.mlp.gate_proj.weight"] = m.sd["model.layers.0.mlp.gate_proj.weight"] * c[:, None]
    diff, scale = D.logit_check(m, out.with_(sd), D.probe_ids(m.spec.vocab, 0))
    assert diff > 1e-3 * scale


def test_reorder_vocab_moves_rows_and_strings():
    m = _model()
    out, new_id = D.reorder_vocab(m, 11)
    diff, _ = D.logit_check(m, out, D.probe_ids(m.spec.vocab, 0), ids_b=new_id)
    assert diff < 1e-9
    voc, voc2 = m.tokenizer["model"]["vocab"], out.tokenizer["model"]["vocab"]
    for w in list(voc)[:50]:
        assert np.array_equal(out.sd["model.embed_tokens.weight"][voc2[w]], m.sd["model.embed_tokens.weight"][voc[w]])
    assert sorted(voc2.values()) == list(range(m.spec.vocab)) and voc2 != voc


def test_extend_vocab_keeps_old_logits():
    m = _model()
    out = D.extend_vocab(m, 3, 12)
    assert out.spec.vocab == m.spec.vocab + 12 and len(out.tokenizer["added_tokens"]) == 12
    diff, _ = D.logit_check(m, out, D.probe_ids(m.spec.vocab, 0))
    assert diff < 1e-9


def test_lossy_transforms():
    m = _model()
    w = m.sd["model.layers.0.mlp.up_proj.weight"]
    for frac in (0.05, 0.2, 0.5):
        dw = D.drift(m, 1, frac).sd["model.layers.0.mlp.up_proj.weight"] - w
        assert np.linalg.norm(dw) / np.linalg.norm(w) == pytest.approx(frac, rel=0.1)
    p = D.prune_layers(m, [0])
    assert p.spec.layers == 1 and np.array_equal(p.sd["model.layers.0.mlp.up_proj.weight"],
                                                 m.sd["model.layers.1.mlp.up_proj.weight"])
    d = D.duplicate_layers(m, [1])
    assert d.spec.layers == 3 and np.array_equal(d.sd["model.layers.2.mlp.up_proj.weight"],
                                                 d.sd["model.layers.1.mlp.up_proj.weight"])
    r = D.reinit_layers(m, [1], 5)
    assert np.array_equal(r.sd["model.layers.0.mlp.up_proj.weight"], w)
    fresh = r.sd["model.layers.1.mlp.up_proj.weight"]
    assert abs(np.corrcoef(fresh.ravel(), m.sd["model.layers.1.mlp.up_proj.weight"].ravel())[0, 1]) < 0.05
    assert fresh.std() == pytest.approx(m.sd["model.layers.1.mlp.up_proj.weight"].std(), rel=0.05)


def test_deterministic():
    m = _model()
    a, b = D.rotate(D.drift(m, 3, 0.2), 4), D.rotate(D.drift(m, 3, 0.2), 4)
    assert all(np.array_equal(a.sd[k], b.sd[k]) for k in a.sd)


def test_save_load_roundtrip(tmp_path):
    m = D.permute_units(_model(tied=True), 1)
    D.save(m, tmp_path / "m")
    back = D.load(tmp_path / "m")
    assert back.spec == m.spec and back.tokenizer == m.tokenizer
    assert all(np.array_equal(back.sd[k], m.sd[k]) for k in m.sd)
    D.save(m, tmp_path / "h", dtype="F16")
    diff, scale = D.logit_check(m, D.load(tmp_path / "h"), D.probe_ids(m.spec.vocab, 0))
    assert 0 < diff < 0.05 * scale


def test_gguf_roundtrip(tmp_path):
    m = _model()
    path = D.save_gguf(m, tmp_path / "m.gguf", "Q8_0")
    back = D.load(path)
    assert back.spec.layers == m.spec.layers and back.spec.vocab == m.spec.vocab
    diff, scale = D.logit_check(m, back, D.probe_ids(m.spec.vocab, 0))
    assert diff < 0.05 * scale
    q = D.quantise_roundtrip(m, "Q4_0")
    err = np.linalg.norm(q.sd["model.layers.0.mlp.up_proj.weight"] - m.sd["model.layers.0.mlp.up_proj.weight"])
    assert 0 < err / np.linalg.norm(m.sd["model.layers.0.mlp.up_proj.weight"]) < 0.3


def test_not_a_llama_is_refused(tmp_path):
    from safetensors.numpy import save_file

    from fromscratch.errors import InputError

    d = tmp_path / "bert"
    d.mkdir()
    save_file({"encoder.layer.0.attention.self.query.weight": np.zeros((8, 8), np.float32),
               "embeddings.word_embeddings.weight": np.zeros((10, 8), np.float32)}, str(d / "model.safetensors"))
    (d / "config.json").write_text('{"model_type": "bert", "num_attention_heads": 2}')
    with pytest.raises(InputError):
        D.load(d)


@pytest.mark.torch
def test_numpy_forward_matches_the_zoo_torch_llama():
    torch = pytest.importorskip("torch")
    from fromscratch.zoo.models import LlamaCfg, LlamaForCausalLM

    cfg = LlamaCfg(vocab_size=200, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, intermediate_size=96, max_position_embeddings=64)
    torch.manual_seed(0)
    tm = LlamaForCausalLM(cfg)
    with torch.no_grad():
        for p in tm.parameters():
            p.add_(0.05 * torch.randn(p.shape))
    sd = {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}
    m = Llama(spec=spec_from_config({"num_attention_heads": 4, "num_key_value_heads": 2}, sd, "zoo"), sd=sd)
    ids = D.probe_ids(200, 1)
    with torch.no_grad():
        ref = tm(torch.from_numpy(ids)).double().numpy()
    assert np.max(np.abs(D.logits(m, ids) - ref)) < 1e-4 * np.max(np.abs(ref))
    for name, fn in EXACT.items():
        out = fn(m)
        t2 = LlamaForCausalLM(cfg)
        if out.spec.tied:
            continue
        t2.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.sd.items()})
        with torch.no_grad():
            got = t2(torch.from_numpy(ids)).double().numpy()
        assert np.max(np.abs(got - ref)) < 1e-4 * np.max(np.abs(ref)), name
