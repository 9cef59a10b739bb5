"""Large tensors are summarised in row blocks: same bytes as in memory, rows read only where needed."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from test_moe_formats import _write


def test_read_rows_into_equals_read_with_fp8_block_scales(tmp_path):
    from fromscratch.artifacts import open_model

    rng = np.random.default_rng(1)
    q = rng.standard_normal((300, 260)).astype(ml_dtypes.float8_e4m3fn)
    scale = np.exp(rng.standard_normal((3, 3))).astype(np.float32)
    b = rng.standard_normal((300, 17)).astype(ml_dtypes.bfloat16)
    _write(tmp_path / "model.safetensors", {"a.weight": ("F8_E4M3", q), "a.weight_scale_inv": ("F32", scale),
                                             "b.weight": ("BF16", b)})
    with open_model(tmp_path / "model.safetensors") as m:
        assert m.reader.reads_rows
        for name in ("a.weight", "b.weight"):
            whole = m.read(name)
            for r0, r1 in ((0, 128), (128, 300), (256, 300), (0, 300)):
                out = np.full((r1 - r0, whole.shape[1]), np.nan, np.float32)
                np.testing.assert_array_equal(m.reader.read_rows_into(name, r0, r1, out), whole[r0:r1])
        with pytest.raises(ValueError, match="multiple of 128"):
            m.reader.read_rows_into("a.weight", 5, 10, np.empty((5, 260), np.float32))


def _small_blocks(monkeypatch):
    """Every tensor over 4,096 values streams, in blocks of 1,000 values (several per embedding)."""
    from fromscratch.lineage import fingerprint_rows as R

    monkeypatch.setattr(R, "STREAM_VALUES", 1 << 12)
    monkeypatch.setattr(R, "BLOCK_VALUES", 1000)
    return R


@pytest.fixture
def small_blocks(monkeypatch):
    return _small_blocks(monkeypatch)


@pytest.mark.parametrize("name", ["llama-s0", "llama-s0-moe", "bert-s0"])
def test_streamed_pass_equals_in_memory_pass(zoo, name, monkeypatch):
    from fromscratch.artifacts import open_model
    from fromscratch.artifacts.model import Model
    from fromscratch.lineage.fingerprint import _fingerprint_model, build_fingerprint
    from fromscratch.registry import fpfile

    plain = build_fingerprint(zoo.path(name), use_cache=False)  # default thresholds: nothing streams
    _small_blocks(monkeypatch)
    reads: list[tuple[int, int]] = []
    real = Model.load_rows
    monkeypatch.setattr(Model, "load_rows", lambda self, t, r0, r1, out: reads.append((r0, r1)) or real(self, t, r0, r1, out))
    with open_model(zoo.path(name)) as m:
        assert m.reads_rows
        streamed = _fingerprint_model(m)
    assert reads, "no tensor was read in row blocks"
    monkeypatch.setattr(Model, "reads_rows", property(lambda self: False))  # the whole tensor, then its blocks
    with open_model(zoo.path(name)) as m:
        in_memory = _fingerprint_model(m)
    assert fpfile.to_bytes(streamed) == fpfile.to_bytes(in_memory)
    # against the default pass, only the RMS of the streamed tensors may differ (blocked float64 sum)
    assert streamed.arrays.keys() == plain.arrays.keys()
    for k in plain.arrays:
        np.testing.assert_array_equal(streamed.arrays[k], plain.arrays[k], err_msg=k)
    for cs, cp in zip(streamed.components(), plain.components()):
        for ts, tp in zip(cs["tensors"], cp["tensors"]):
            assert {**ts, "rms": 0} == {**tp, "rms": 0}
            assert ts["rms"] == pytest.approx(tp["rms"], rel=1e-5)


def test_streamed_embedding_never_decoded_whole(zoo, small_blocks, monkeypatch):
    """With row reads, no buffer the size of the embedding is allocated."""
    from fromscratch.artifacts import open_model
    from fromscratch.lineage.fingerprint import _fingerprint_model

    sizes: list[int] = []
    take = small_blocks.Scratch._take
    monkeypatch.setattr(small_blocks.Scratch, "_take", lambda self, n: sizes.append(n) or take(self, n))
    with open_model(zoo.path("llama-s0")) as m:
        emb = next(t for c in m.components() for t in c.tensors if c.name.endswith("embed_tokens"))
        _fingerprint_model(m)
    n_emb = int(np.prod(emb.shape))
    assert sizes and max(sizes) < n_emb


def test_stacked_experts_stream_a_few_experts_at_a_time(tmp_path, monkeypatch):
    """A fused (E, out, in) FP8 experts tensor: same entry and profiles streamed as decoded whole."""
    from fromscratch.artifacts import open_model
    from fromscratch.artifacts.model import Model
    from fromscratch.lineage import fingerprint_pass as P
    from fromscratch.lineage import fingerprint_rows as R

    rng = np.random.default_rng(2)
    e, rows, d = 8, 200, 256
    q = rng.standard_normal((e, rows, d)).astype(ml_dtypes.float8_e4m3fn)
    scale = np.exp(rng.standard_normal((e, 2, 2))).astype(np.float32)
    _write(tmp_path / "model.safetensors", {"model.layers.0.mlp.experts.gate_proj": ("F8_E4M3", q),
                                             "model.layers.0.mlp.experts.gate_proj_scale_inv": ("F32", scale)})
    monkeypatch.setattr(R, "STREAM_VALUES", 1 << 14)
    monkeypatch.setattr(R, "BLOCK_VALUES", 3 * rows * d)  # three experts per block, a ragged last one
    got = []
    for rows_ok in (True, False):
        monkeypatch.setattr(Model, "reads_rows", property(lambda self, ok=rows_ok: ok))
        with open_model(tmp_path / "model.safetensors") as m:
            [t] = [t for c in m.components() for t in c.tensors]
            assert t.kind == "experts" and len(t.shape) == 3
            ctx = P.PassContext(towers={t.tower: {"dim": d}}, arrays={f"coords|{t.tower}": np.arange(0, d, 3)})
            got.append(P.block_pass(m, ctx, [P.tkey(t)]))
            whole = m.load(t)
    (a, ma), (b, mb) = got
    assert ma == mb and a.keys() == b.keys() and len([k for k in a if k.startswith("prof|")]) == e
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    np.testing.assert_array_equal(a["prof|layers.0.experts|gate|5"], P.q8(whole[5][:, np.arange(0, d, 3)]))
