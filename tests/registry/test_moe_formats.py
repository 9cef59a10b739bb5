"""Real-size MoE layouts: FP8 block-scaled weights (DeepSeek-V3 ``weight_scale_inv``), experts."""

from __future__ import annotations

import json
import struct

import ml_dtypes
import numpy as np
import pytest


def _write(path, tensors):
    header, off, blobs = {}, 0, []
    for name, (label, arr) in tensors.items():
        b = arr.tobytes()
        header[name] = {"dtype": label, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def test_fp8_block_scales_are_applied_and_hidden(tmp_path):
    from fromscratch.artifacts import open_model

    rng = np.random.default_rng(0)
    w = rng.standard_normal((300, 260)).astype(np.float32)
    scale = np.exp(rng.standard_normal((3, 3))).astype(np.float32)  # 128-blocks, ragged edges
    q = (w / np.repeat(np.repeat(scale, 128, 0), 128, 1)[:300, :260]).astype(ml_dtypes.float8_e4m3fn)
    _write(tmp_path / "model.safetensors", {
        "model.layers.0.mlp.down_proj.weight": ("F8_E4M3", q),
        "model.layers.0.mlp.down_proj.weight_scale_inv": ("F32", scale),
    })
    with open_model(tmp_path / "model.safetensors") as m:
        names = [i.name for i in m.tensor_infos()]
        assert names == ["model.layers.0.mlp.down_proj.weight"] and m.parameters == 300 * 260
        got = m.read("model.layers.0.mlp.down_proj.weight")
        out = np.empty((300, 260), np.float32)
        got2 = m.reader.read_into("model.layers.0.mlp.down_proj.weight", out)
    expect = q.astype(np.float32) * np.repeat(np.repeat(scale, 128, 0), 128, 1)[:300, :260]
    np.testing.assert_array_equal(got, expect)
    np.testing.assert_array_equal(got2, expect)
    assert np.linalg.norm(got - w) / np.linalg.norm(w) < 0.08  # FP8's rounding only


def test_block_scales_that_do_not_fit_are_refused(tmp_path):
    from fromscratch.artifacts import open_model
    from fromscratch.errors import InputError

    q = np.zeros((256, 256), ml_dtypes.float8_e4m3fn)
    _write(tmp_path / "model.safetensors", {"a.weight": ("F8_E4M3", q),
                                             "a.weight_scale_inv": ("F32", np.ones((3, 2), np.float32))})
    with pytest.raises(InputError, match="block scales"):
        open_model(tmp_path / "model.safetensors")


def test_fp8_table_cast_is_bitwise_the_ml_dtypes_cast():
    """FP8 is decoded through a 256-entry table; every code (NaN included) must keep its float32 bits."""
    from fromscratch.artifacts._dtypes import NUMPY_DTYPES, cast_into

    raw = np.arange(256, dtype=np.uint8)
    for label in ("F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ"):
        got = np.empty((16, 16), np.float32)
        cast_into(raw, label, got)
        ref = raw.view(NUMPY_DTYPES[label]).astype(np.float32).reshape(16, 16)
        np.testing.assert_array_equal(got.view(np.uint32), ref.view(np.uint32), err_msg=label)
