"""The fixture zoo: complete, really trained, function-preserving where promised,
readable in every format it claims, and reproducible to the byte."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fromscratch.zoo.build import REQUIRED_VARIANTS

pytestmark = pytest.mark.torch

LLAMA_LAYERS = 4


def _st(zoo, name):
    from safetensors.numpy import load_file

    return load_file(str(zoo.path(name) / "model.safetensors"))


def test_catalogue_covers_every_required_variant(zoo):
    names = set(zoo.names)
    for what, needed in REQUIRED_VARIANTS.items():
        for n in needed:
            assert n in names, f"{what}: {n} missing"
    on_disk = json.loads((zoo.root / "catalogue.json").read_text())
    assert [e["name"] for e in on_disk["entries"]] == zoo.names
    for e in zoo.entries:
        assert zoo.path(e.name).exists(), e.name
        assert e.relation in ("independent", "derived", "identical")
        if e.relation == "independent":
            assert e.parent is None and e.reused_components == []
        else:
            assert e.parent in names and e.reused_components, e.name


def test_ground_truth_helpers(zoo):
    assert zoo.root_of("llama-s0-q40") == "llama-s0"
    pos = {c: p for c, p, _ in zoo.positive_pairs()}
    assert pos["llava-transplant"] == "bert-s0"
    indep = set(zoo.independent_pairs())
    assert ("llama-s0", "llama-s1") in indep
    assert ("llama-norm-a", "llama-norm-b") in indep
    assert ("llama-s0", "llama-s0-ft") not in indep
    moe = zoo.entry("llama-s0-moe")
    assert moe.reuses("layers.1.experts") and not moe.reuses("layers.1.router")
    assert zoo.entry("llava-transplant").reuses("vision.layers.2.attention")
    assert not zoo.entry("llava-transplant").reuses("projector")


def test_models_actually_learned(zoo):
    trained = [e for e in zoo.entries if "eval_loss" in e.metrics]
    assert len(trained) >= 15
    for e in trained:
        m = e.metrics
        if e.family == "encoder":
            # masked-LM in this budget: token statistics (about 1 nat below a uniform guess),
            # with the blocks moved far from their initialisation
            assert m["eval_loss"] < m["ln_vocab"] - 0.8, (e.name, m)
            assert m["drift_from_init"] > 0.5, (e.name, m)
            continue
        # a uniform guess costs ln(vocab); a model that learned is far below it
        assert m["eval_loss"] < 0.6 * m["ln_vocab"], (e.name, m)
        if e.relation == "independent":
            assert m["train_loss_last"] < m["train_loss_first"] - 2.0, (e.name, m)


def test_two_tower_uses_the_image(zoo):
    for name in ("llava-transplant", "llava-clean"):
        m = zoo.entry(name).metrics
        assert m["eval_loss_wrong_image"] > m["eval_loss"] + 0.2, (name, m)


def test_permuted_variant_is_function_preserving(zoo):
    torch = pytest.importorskip("torch")
    from fromscratch.zoo.recipes import load_llama

    work = zoo.root
    base, perm = load_llama(work, "llama-s0"), load_llama(work, "llama-s0-perm")
    ids = torch.from_numpy(np.load(work / "data" / "eval.npy")[:512].astype(np.int64)).view(8, 64)
    with torch.no_grad():
        assert float((base(ids) - perm(ids)).abs().max()) < 1e-4
    a, b = _st(zoo, "llama-s0"), _st(zoo, "llama-s0-perm")
    for i in range(LLAMA_LAYERS):
        for t in ("mlp.up_proj", "self_attn.q_proj", "self_attn.k_proj"):
            k = f"model.layers.{i}.{t}.weight"
            assert not np.array_equal(a[k], b[k]), k  # really permuted
            assert np.allclose(np.sort(a[k].ravel()), np.sort(b[k].ravel()))  # same values


def _unpermute(w, n_head):
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


@pytest.mark.parametrize("name,qtype,tol", [("llama-s0-q80", "Q8_0", 0.01), ("llama-s0-q40", "Q4_0", 0.2)])
def test_gguf_copies_load_and_match_the_source(zoo, name, qtype, tol):
    gguf = pytest.importorskip("gguf")
    r = gguf.GGUFReader(str(zoo.path(name)))
    tensors = {t.name: t for t in r.tensors}
    expected = {"token_embd.weight", "output_norm.weight", "output.weight"}
    for i in range(LLAMA_LAYERS):
        expected |= {f"blk.{i}.{s}.weight" for s in ("attn_q", "attn_k", "attn_v", "attn_output",
                                                     "ffn_gate", "ffn_up", "ffn_down",
                                                     "attn_norm", "ffn_norm")}
    assert set(tensors) == expected
    assert tensors["blk.0.ffn_up.weight"].tensor_type.name == qtype
    assert tensors["blk.0.attn_norm.weight"].tensor_type.name == "F32"
    # ggml order: innermost dimension first
    assert list(tensors["blk.0.ffn_down.weight"].shape) == [704, 256]

    def field(key):
        f = r.fields[key]
        return f.contents()

    assert field("general.architecture") == "llama"
    assert field("general.base_model.0.name") == "llama-s0"
    assert len(field("tokenizer.ggml.tokens")) == field("llama.vocab_size") == 1024
    src = _st(zoo, "llama-s0")
    cfg = json.loads((zoo.path("llama-s0") / "config.json").read_text())
    for i in range(LLAMA_LAYERS):
        for g, hf, heads in (("attn_q", "self_attn.q_proj", cfg["num_attention_heads"]),
                             ("attn_k", "self_attn.k_proj", cfg["num_key_value_heads"]),
                             ("ffn_down", "mlp.down_proj", None)):
            t = tensors[f"blk.{i}.{g}.weight"]
            w = gguf.quants.dequantize(t.data, t.tensor_type)
            if heads:
                raw_err = np.abs(w - src[f"model.layers.{i}.{hf}.weight"]).max()
                w = _unpermute(w, heads)
            ref = src[f"model.layers.{i}.{hf}.weight"]
            rel = np.linalg.norm(w - ref) / np.linalg.norm(ref)
            assert rel < tol, (g, i, rel)
            if heads:  # the rows really were re-ordered in the file
                assert raw_err > 10 * np.abs(w - ref).max()


def test_false_base_model_claim_is_recorded_as_such(zoo):
    gguf = pytest.importorskip("gguf")
    r = gguf.GGUFReader(str(zoo.path("llama-s1-q80")))
    assert r.fields["general.base_model.0.name"].contents() == "llama-s0"
    e = zoo.entry("llama-s1-q80")
    assert e.parent == "llama-s1" and "FALSE" in e.description


def test_pytorch_copy_equals_safetensors(zoo):
    torch = pytest.importorskip("torch")
    sd = torch.load(str(zoo.path("llama-s0-pt")), map_location="cpu", weights_only=True)
    src = _st(zoo, "llama-s0")
    assert set(sd) == set(src)
    for k, v in sd.items():
        assert np.array_equal(v.numpy(), src[k]), k


def test_hf_tensor_names(zoo):
    s0 = _st(zoo, "llama-s0")
    assert {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
            "model.layers.3.self_attn.q_proj.weight", "model.layers.0.mlp.gate_proj.weight",
            "model.layers.2.post_attention_layernorm.weight"} <= set(s0)
    assert s0["model.layers.0.self_attn.k_proj.weight"].shape == (128, 256)  # GQA 4/2
    moe = _st(zoo, "llama-s0-moe")
    assert "model.layers.1.block_sparse_moe.experts.3.w2.weight" in moe
    assert moe["model.layers.1.block_sparse_moe.gate.weight"].shape == (4, 256)
    assert json.loads((zoo.path("llama-s0-moe") / "config.json").read_text())["model_type"] == "mixtral"
    bert = _st(zoo, "bert-s0")
    assert {"embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
            "encoder.layer.3.attention.self.query.bias",
            "encoder.layer.0.attention.output.LayerNorm.bias"} <= set(bert)
    llava = _st(zoo, "llava-transplant")
    assert {"model.vision_tower.vision_model.embeddings.patch_embedding.weight",
            "model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight",
            "model.multi_modal_projector.linear_1.weight",
            "model.language_model.layers.1.mlp.up_proj.weight", "lm_head.weight"} <= set(llava)
    for name in ("llama-s0", "llama-tokb", "llama-s0-vocab", "bert-s0", "llava-clean"):
        assert (zoo.path(name) / "tokenizer.json").exists()
        assert (zoo.path(name) / "config.json").exists()


def _corr(a, b):
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def test_transplanted_tower_really_comes_from_the_donor(zoo):
    bert = _st(zoo, "bert-s0")
    tr, clean = _st(zoo, "llava-transplant"), _st(zoo, "llava-clean")
    for i in range(4):
        donor = bert[f"encoder.layer.{i}.intermediate.dense.weight"]
        key = f"model.vision_tower.vision_model.encoder.layers.{i}.mlp.fc1.weight"
        assert _corr(tr[key], donor) > 0.5
        assert abs(_corr(clean[key], donor)) < 0.05
    # the language model was trained from scratch: not the llama seed's weights
    assert tr["model.language_model.embed_tokens.weight"].shape == (1024, 192)


def test_derived_variants_moved_away_from_the_parent(zoo):
    ft, cpt = zoo.entry("llama-s0-ft").metrics, zoo.entry("llama-s0-cpt").metrics
    assert 0 < ft["drift"] < cpt["drift"]
    assert cpt["drift"] > 0.3  # long, high-LR continued pre-training: far from the parent
    a, b = _st(zoo, "llama-s0"), _st(zoo, "llama-s0-cpt")
    k = "model.layers.1.mlp.up_proj.weight"
    assert 0.2 < _corr(a[k], b[k]) < 0.99


def test_near_identical_norm_pair(zoo):
    a, b = _st(zoo, "llama-norm-a"), _st(zoo, "llama-norm-b")
    na = np.concatenate([v for k, v in sorted(a.items()) if "norm" in k])
    nb = np.concatenate([v for k, v in sorted(b.items()) if "norm" in k])
    cos = float(na @ nb / (np.linalg.norm(na) * np.linalg.norm(nb)))
    assert cos >= 0.99
    assert na.std() > 2e-3 and nb.std() > 2e-3  # learned, not still at their initial ones
    assert zoo.entry("llama-norm-a").metrics["norm_cosine_with_pair"] == pytest.approx(cos, abs=1e-5)
    k = "model.layers.0.mlp.up_proj.weight"
    assert abs(_corr(a[k], b[k])) < 0.05


def test_vocab_extension_appends_rows(zoo):
    base, ext = _st(zoo, "llama-s0"), _st(zoo, "llama-s0-vocab")
    n = base["model.embed_tokens.weight"].shape[0]
    added = zoo.entry("llama-s0-vocab").metrics["new_tokens"]
    assert ext["model.embed_tokens.weight"].shape[0] == n + added
    tj = json.loads((zoo.path("llama-s0-vocab") / "tokenizer.json").read_text())
    assert len(tj["added_tokens"]) >= added


def test_layer_and_width_pruning_shapes(zoo):
    cfg = lambda n: json.loads((zoo.path(n) / "config.json").read_text())  # noqa: E731
    assert cfg("llama-s0-prune")["num_hidden_layers"] == 3
    assert cfg("llama-s0-dus")["num_hidden_layers"] == 6
    assert cfg("llama-s0-width")["intermediate_size"] == 528
