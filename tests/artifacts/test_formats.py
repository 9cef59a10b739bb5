"""The same weights read from safetensors, GGUF, PyTorch zip and ONNX agree
under the same canonical names."""

from __future__ import annotations

import json

import gguf
import ml_dtypes
import numpy as np
import pytest

from fromscratch.artifacts import open_model
from tests.artifacts.writers import (tiny_llama, write_gguf, write_onnx_llama, write_safetensors, write_torch)

Q = gguf.GGMLQuantizationType


def canon(model) -> dict[tuple[str, str], np.ndarray]:
    return {(c.name, t.role): model.load(t) for c in model.components() for t in c.tensors}


@pytest.fixture(scope="module")
def llama():
    return tiny_llama(seed=3)


@pytest.fixture(scope="module")
def reference(llama, tmp_path_factory):
    tensors, cfg = llama
    d = tmp_path_factory.mktemp("st")
    write_safetensors(d / "model.safetensors", tensors, cfg)
    with open_model(d) as m:
        return canon(m)


def test_safetensors_components_follow_contract(llama, tmp_path):
    tensors, cfg = llama
    write_safetensors(tmp_path / "model.safetensors", tensors, cfg)
    with open_model(tmp_path) as m:
        names = [c.name for c in m.components()]
        assert names == ["embed_tokens", "layers.0.attention", "layers.0.mlp", "layers.0.norm",
                         "layers.1.attention", "layers.1.mlp", "layers.1.norm", "norm", "lm_head"]
        roles = {c.name: [t.role for t in c.tensors] for c in m.components()}
        assert roles["layers.0.attention"] == ["q", "k", "v", "o"]
        assert roles["layers.0.mlp"] == ["gate", "up", "down"]
        assert roles["layers.0.norm"] == ["attn_norm", "mlp_norm"]
        assert m.parameters == sum(v.size for v in tensors.values())
        assert m.config["num_key_value_heads"] == 2 and "config.json" in m.side_files
        for c in m.components():
            for t in c.tensors:
                np.testing.assert_array_equal(m.load(t), tensors[t.source_name])


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn])
def test_safetensors_low_precision(llama, tmp_path, dtype):
    tensors, cfg = llama
    low = {k: v.astype(dtype) for k, v in tensors.items()}
    write_safetensors(tmp_path / "model.safetensors", low, cfg)
    with open_model(tmp_path) as m:
        for info in m.tensor_infos():
            got = m.read(info.name)
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, low[info.name].astype(np.float32))


def test_sharded_safetensors_and_bad_index(llama, tmp_path):
    tensors, cfg = llama
    names = list(tensors)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    for shard, keys in shards.items():
        write_safetensors(tmp_path / shard, {k: tensors[k] for k in keys}, cfg)
    wm = {k: s for s, keys in shards.items() for k in keys}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wm}))
    with open_model(tmp_path) as m:
        assert len(m.tensor_infos()) == len(tensors) and "warnings" not in m.metadata
        assert m.components()[0].name == "embed_tokens"
    # an index that lies (wrong shard for a tensor, a missing shard) falls back to the shard headers
    wm[names[0]] = "model-00002-of-00002.safetensors"
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": wm}))
    with open_model(tmp_path) as m:
        assert len(m.tensor_infos()) == len(tensors)
        assert any("disagrees" in w for w in m.metadata["warnings"])
    (tmp_path / "model.safetensors.index.json").write_text("{not json")
    with open_model(tmp_path) as m:
        assert len(m.tensor_infos()) == len(tensors)


def test_gguf_f32_roundtrip_undoes_qk_permutation(llama, reference, tmp_path):
    tensors, cfg = llama
    p = write_gguf(tmp_path / "m.gguf", tensors, cfg)
    with open_model(p) as m:
        got = canon(m)
        assert got.keys() == reference.keys()
        for k, v in reference.items():
            np.testing.assert_array_equal(got[k], v, err_msg=str(k))
        assert m.config["num_key_value_heads"] == 2 and m.config["tie_word_embeddings"] is False


def test_gguf_without_unpermute_would_differ(llama, tmp_path):
    """Guard against a no-op: the permutation really changes Q and K."""
    tensors, cfg = llama
    p = write_gguf(tmp_path / "m.gguf", tensors, cfg, arch="qwen2")  # qwen2 is never unpermuted
    with open_model(p) as m:
        q = [t for c in m.components() if c.name == "layers.0.attention" for t in c.tensors if t.role == "q"][0]
        assert not np.array_equal(m.load(q), tensors["model.layers.0.self_attn.q_proj.weight"])


@pytest.mark.parametrize("qtype,tol", [(Q.Q8_0, 0.01), (Q.Q4_0, 0.2), (Q.Q5_1, 0.06), (Q.F16, 1e-3)])
def test_gguf_quantised_close_to_reference(llama, reference, tmp_path, qtype, tol):
    tensors, cfg = llama
    p = write_gguf(tmp_path / "m.gguf", tensors, cfg, qtype=lambda n, a: qtype)
    with open_model(p) as m:
        got = canon(m)
        dtypes = {i.dtype for i in m.tensor_infos()}
        assert qtype.name in dtypes
        for k, v in reference.items():
            rel = np.linalg.norm(got[k] - v) / np.linalg.norm(v)
            assert rel < tol, (k, rel)


def test_gguf_tokenizer_and_claims(llama, tmp_path):
    tensors, cfg = llama
    p = write_gguf(tmp_path / "m.gguf", tensors, cfg, base_model="Parent Model 7B")
    with open_model(p) as m:
        tok = m.embedded_tokenizer
        assert tok["model"] == "gpt2" and tok["tokens"][:2] == ["tok0", "tok1"] and tok["merges"] == ["t o", "to k"]
        assert tok["bos_token_id"] == 0 and len(tok["token_type"]) == cfg["vocab_size"]
        assert m.claims["general.base_model.0.name"] == "Parent Model 7B"
        assert m.claims["general.base_model.count"] == 1
        assert "tokenizer.ggml.tokens" in m.metadata  # summarised, not expanded


@pytest.mark.parametrize("wrap", [False, True])
def test_torch_zip_matches(llama, reference, tmp_path, wrap):
    tensors, _ = llama
    p = write_torch(tmp_path / "pytorch_model.bin", tensors, wrap=wrap)
    with open_model(p) as m:
        assert m.format == "pytorch"
        got = canon(m)
        assert got.keys() == reference.keys()
        for k, v in reference.items():
            np.testing.assert_array_equal(got[k], v)
        if wrap:
            assert m.claims["checkpoint.base_model"] == "example/base"


def test_torch_bf16_and_strided_views(tmp_path):
    import torch

    base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
    sd = {"a.weight": base.t(), "b.weight": base[::2, 1:5], "c.weight": base.to(torch.bfloat16)}
    torch.save(sd, tmp_path / "x.pt")
    with open_model(tmp_path / "x.pt") as m:
        for k, v in sd.items():
            np.testing.assert_array_equal(m.read(k), v.float().numpy())


@pytest.mark.parametrize("int8", [False, True])
def test_onnx_recovers_anonymous_transposed_weights(llama, reference, tmp_path, int8):
    tensors, _ = llama
    p = write_onnx_llama(tmp_path / "model.onnx", tensors, int8=int8)
    with open_model(p) as m:
        assert m.format == "onnx"
        got = canon(m)
        assert got.keys() == reference.keys()
        assert all(c.kind != "other" for c in m.components())
        for k, v in reference.items():
            assert got[k].shape == v.shape
            if int8:
                assert np.linalg.norm(got[k] - v) / np.linalg.norm(v) < 0.02
            else:
                np.testing.assert_array_equal(got[k], v)
        assert m.metadata["recovered_names"] == sum(1 for k, v in tensors.items() if v.ndim == 2) - 1


def test_same_canonical_inventory_across_formats(llama, tmp_path):
    tensors, cfg = llama
    paths = [write_safetensors(tmp_path / "st" / "model.safetensors", tensors, cfg),
             write_gguf(tmp_path / "m.gguf", tensors, cfg, qtype=lambda n, a: Q.Q8_0),
             write_torch(tmp_path / "m.pt", tensors), write_onnx_llama(tmp_path / "m.onnx", tensors)]
    inventories = []
    for p in paths:
        with open_model(p) as m:
            inventories.append([(c.name, c.kind, c.layer, [(t.role, t.shape) for t in c.tensors])
                                for c in m.components()])
    assert all(inv == inventories[0] for inv in inventories)


def test_tied_embeddings_have_no_lm_head(tmp_path):
    tensors, cfg = tiny_llama(seed=1, tied=True)
    write_safetensors(tmp_path / "model.safetensors", tensors, cfg)
    with open_model(tmp_path) as m:
        assert "lm_head" not in [c.name for c in m.components()]
    p = write_gguf(tmp_path / "t.gguf", tensors, cfg)
    with open_model(p) as m:
        assert "lm_head" not in [c.name for c in m.components()] and m.config["tie_word_embeddings"]


def test_hub_id_from_local_cache_only(llama, tmp_path, monkeypatch):
    tensors, cfg = llama
    snap = tmp_path / "hub" / "models--acme--tiny" / "snapshots" / "abc123def"
    write_safetensors(snap / "model.safetensors", tensors, cfg)
    (tmp_path / "hub" / "models--acme--tiny" / "refs").mkdir(parents=True)
    (tmp_path / "hub" / "models--acme--tiny" / "refs" / "main").write_text("abc123def")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.chdir(tmp_path)
    with open_model("acme/tiny") as m:
        assert m.metadata["resolved"]["commit"] == "abc123def"
        assert len(m.tensor_infos()) == len(tensors)
    from fromscratch.errors import InputError

    with pytest.raises(InputError, match="local Hugging Face cache"):
        open_model("acme/absent")


def test_peak_memory_is_about_one_tensor(tmp_path):
    """Reading a tensor maps only its range: earlier tensors' pages are released."""
    import psutil

    big = {f"model.layers.{i}.mlp.up_proj.weight": np.full((2048, 2048), i, np.float32) for i in range(6)}
    write_safetensors(tmp_path / "model.safetensors", big)  # 96 MB
    proc = psutil.Process()
    with open_model(tmp_path) as m:
        before = proc.memory_info().rss
        peak = before
        for c in m.components():
            for t in c.tensors:
                a = m.load(t)
                assert a[0, 0] == float(t.layer)
                peak = max(peak, proc.memory_info().rss)
                del a
    assert peak - before < 60 * 1024 * 1024


def test_chunked_decoding_matches_whole_tensor_decoding(llama, tmp_path, monkeypatch):
    """Large tensors are decoded a block of rows at a time; the result must not depend on it."""
    from fromscratch.artifacts import _io, ct2_reader, gguf_reader, safetensors_reader, torch_reader

    tensors, cfg = llama
    paths = [write_safetensors(tmp_path / "st" / "model.safetensors", {k: v.astype(ml_dtypes.bfloat16) for k, v in tensors.items()}, cfg),
             write_gguf(tmp_path / "m.gguf", tensors, cfg, qtype=lambda n, a: Q.Q8_0),
             write_gguf(tmp_path / "f.gguf", tensors, cfg, qtype=lambda n, a: Q.F16),
             write_torch(tmp_path / "m.pt", tensors, bf16=True)]
    whole = []
    for p in paths:
        with open_model(p) as m:
            whole.append(canon(m))
    for mod in (_io, safetensors_reader, gguf_reader, torch_reader, ct2_reader):
        monkeypatch.setattr(mod, "CHUNK_BYTES", 1000)
    for p, ref in zip(paths, whole):
        with open_model(p) as m:
            got = canon(m)
            for k, v in ref.items():
                np.testing.assert_array_equal(got[k], v, err_msg=f"{p.name} {k}")


@pytest.mark.parametrize("chunk", [None, 1000])
def test_read_into_a_reused_buffer_equals_read(llama, tmp_path, monkeypatch, chunk):
    """``load(t, out=buf)`` decodes into the caller's buffer with exactly ``load(t)``'s values, every dtype."""
    from fromscratch.artifacts import _io, safetensors_reader

    tensors, cfg = llama
    rng = np.random.default_rng(7)
    extra = {"x.f64": rng.standard_normal((9, 5)), "x.i32": rng.integers(-9, 9, (4, 3)).astype(np.int32),
             "x.scalar": np.array(2.5, np.float32)}
    paths = [write_safetensors(tmp_path / label / "model.safetensors",
                               {**{k: v.astype(dt) for k, v in tensors.items()}, **extra}, cfg)
             for label, dt in (("bf16", ml_dtypes.bfloat16), ("f16", np.float16), ("f32", np.float32))]
    if chunk:
        for mod in (_io, safetensors_reader):
            monkeypatch.setattr(mod, "CHUNK_BYTES", chunk)
    for p in paths:
        with open_model(p) as m:
            assert m.reader.reads_into
            ts = [t for c in m.components() for t in c.tensors]
            big = np.full(max(int(np.prod(t.shape)) for t in ts), np.nan, dtype=np.float32)
            for t in ts:
                want = m.load(t)
                out = big[:int(np.prod(t.shape))].reshape(t.shape)
                got = m.load(t, out=out)
                assert got.dtype == np.float32 and got.shape == want.shape
                np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=f"{p} {t.source_name}")
                if t.rows is None:
                    assert np.shares_memory(got, big)  # decoded in place, no fresh array
            with pytest.raises(ValueError):
                t = next(t for t in ts if t.rows is None and len(t.shape) == 2)
                m.reader.read_into(t.source_name, np.empty(t.shape[::-1] if t.shape[0] != t.shape[1] else (1, 1), np.float32))


@pytest.mark.parametrize("qtype", [Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1])
def test_fast_dequantisers_equal_gguf_reference(qtype):
    from gguf import quants

    from fromscratch.artifacts.gguf_reader import dequantize_rows

    x = np.random.default_rng(5).standard_normal((7, 256)).astype(np.float32) * 3
    q = quants.quantize(x, qtype)
    np.testing.assert_array_equal(dequantize_rows(q, qtype), quants.dequantize(q, qtype))


def test_onnx_dynamic_int8_matmulinteger_and_dequantizelinear(tmp_path):
    """onnxruntime's quantize_dynamic (MatMulInteger) and QDQ (DequantizeLinear) layouts."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(4)
    wq = rng.standard_normal((16, 8)).astype(np.float32)  # HF (out, in)
    wk = rng.standard_normal((16, 8)).astype(np.float32)
    # dynamic: uint8 with per-column scale and zero point, stored (in, out)
    t = wq.T
    scale = ((t.max(0) - t.min(0)) / 255).astype(np.float32)
    zp = np.round(-t.min(0) / scale).clip(0, 255).astype(np.uint8)
    q = np.clip(np.round(t / scale) + zp, 0, 255).astype(np.uint8)
    # QDQ: int8 per-output-channel along axis 1 of the (in, out) matrix
    t2 = wk.T
    s2 = (np.abs(t2).max(0) / 127).astype(np.float32)
    q2 = np.round(t2 / s2).astype(np.int8)
    inits = [numpy_helper.from_array(q, "onnx::MatMul_9_quantized"), numpy_helper.from_array(scale, "onnx::MatMul_9_scale"),
             numpy_helper.from_array(zp, "onnx::MatMul_9_zero_point"),
             numpy_helper.from_array(np.zeros(16, np.float32), "encoder.layer.0.attention.self.query.bias"),
             numpy_helper.from_array(q2, "val_3_q"), numpy_helper.from_array(s2, "val_3_s"),
             numpy_helper.from_array(np.zeros(16, np.float32), "encoder.layer.0.attention.self.key.bias")]
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             helper.make_node("MatMulInteger", ["xq", "onnx::MatMul_9_quantized", "xz", "onnx::MatMul_9_zero_point"], ["mi"]),
             helper.make_node("Cast", ["mi"], ["mf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["mf", "xs"], ["mm"]),
             helper.make_node("Add", ["mm", "encoder.layer.0.attention.self.query.bias"], ["yq"]),
             helper.make_node("DequantizeLinear", ["val_3_q", "val_3_s"], ["val_3"], axis=1),
             helper.make_node("MatMul", ["x", "val_3"], ["mk"]),
             helper.make_node("Add", ["mk", "encoder.layer.0.attention.self.key.bias"], ["yk"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                          [helper.make_tensor_value_info("yq", TensorProto.FLOAT, None)], initializer=inits)
    onnx.save(helper.make_model(g), str(tmp_path / "q.onnx"))
    with open_model(tmp_path / "q.onnx") as m:
        got = canon(m)
        assert set(got) == {("layers.0.attention", r) for r in ("q", "q.bias", "k", "k.bias")}
        assert np.abs(got[("layers.0.attention", "q")] - wq).max() <= scale.max()
        assert np.abs(got[("layers.0.attention", "k")] - wk).max() <= s2.max()
        assert {i.dtype for i in m.tensor_infos() if i.name in ("onnx::MatMul_9_quantized", "val_3")} == {"U8", "I8"}


def test_ctranslate2_whisper_layout_int8_and_aliases(tmp_path):
    from tests.artifacts.writers import write_ct2

    rng = np.random.default_rng(8)
    d = 32
    qkv = rng.standard_normal((3 * d, d)).astype(np.float32)
    scale = (127 / np.abs(qkv).max(axis=1)).astype(np.float32)
    q8 = np.round(qkv * scale[:, None]).astype(np.int8)
    emb = rng.standard_normal((50, d)).astype(np.float16)
    variables = [("decoder/embeddings/weight", emb), ("decoder/num_heads", np.array(4, np.int32)),
                 ("encoder/conv1/weight", rng.standard_normal((d, 8, 3)).astype(np.float16)),
                 ("encoder/position_encodings/encodings", rng.standard_normal((20, d)).astype(np.float32)),
                 ("encoder/layer_0/self_attention/linear_0/weight", q8),
                 ("encoder/layer_0/self_attention/linear_0/weight_scale", scale),
                 ("encoder/layer_0/ffn/linear_0/weight", rng.standard_normal((4 * d, d)).astype(np.float16)),
                 ("decoder/layer_0/attention/linear_1/weight", rng.standard_normal((2 * d, d)).astype(np.float16))]
    p = write_ct2(tmp_path / "model.bin", variables, aliases={"decoder/projection/weight": "decoder/embeddings/weight"})
    with open_model(tmp_path) as m:
        assert m.format == "ctranslate2" and m.config["model_type"] == "whisper"
        assert m.metadata["settings"] == {"decoder/num_heads": 4}
        assert m.metadata["aliases"] == {"decoder/projection/weight": "decoder/embeddings/weight"}
        comps = {c.name: c for c in m.components()}
        assert "lm_head" not in comps and "other" not in comps
        attn = comps["audio.layers.0.attention"]
        assert [t.role for t in attn.tensors] == ["q", "k", "v"]
        got = np.concatenate([m.load(t) for t in attn.tensors])
        np.testing.assert_allclose(got, qkv, atol=float((0.5 / scale).max()) + 1e-6)
        assert [t.role for t in comps["layers.0.cross_attention"].tensors] == ["k", "v"]
        assert comps["audio.embed_positions"].tensors[0].learned is False
        np.testing.assert_array_equal(m.load(comps["embed_tokens"].tensors[0]), emb.astype(np.float32))
    data = p.read_bytes()
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "model.bin").write_bytes(data[: len(data) // 2])
    from fromscratch.errors import InputError

    with pytest.raises(InputError, match="truncated CTranslate2"):
        open_model(tmp_path / "cut")
