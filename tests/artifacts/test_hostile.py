"""Hostile and broken inputs: exit code 2, exactly one stderr line naming the file, nothing executed."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fromscratch.cli import main
from tests.artifacts.writers import tiny_llama, write_gguf, write_safetensors, write_zip


def run_inspect(capsys, path) -> str:
    code = main(["inspect", str(path)])
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert code == 2, (code, captured.err)
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def raw_safetensors(path: Path, header: dict, data: bytes, *, declared: int | None = None) -> Path:
    h = json.dumps(header).encode()
    n = len(h) if declared is None else declared
    path.write_bytes(struct.pack("<Q", n) + h + data)
    return path


@pytest.fixture
def good_st(tmp_path) -> Path:
    tensors, cfg = tiny_llama(seed=0, layers=1)
    return write_safetensors(tmp_path / "good" / "model.safetensors", tensors, cfg)


@pytest.fixture
def good_gguf(tmp_path) -> Path:
    tensors, cfg = tiny_llama(seed=0, layers=1)
    return write_gguf(tmp_path / "good.gguf", tensors, cfg)


def test_truncated_safetensors(capsys, good_st, tmp_path):
    data = good_st.read_bytes()
    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    line = run_inspect(capsys, bad)
    assert "truncated.safetensors" in line and "out of range" in line


def test_truncated_gguf(capsys, good_gguf, tmp_path):
    data = good_gguf.read_bytes()
    bad = tmp_path / "truncated.gguf"
    bad.write_bytes(data[: len(data) - 4096])
    line = run_inspect(capsys, bad)
    assert "truncated.gguf" in line and "out of range" in line
    bad.write_bytes(data[:200])  # cut inside the header
    assert "truncated GGUF" in run_inspect(capsys, bad)


def test_header_length_larger_than_file(capsys, tmp_path):
    p = raw_safetensors(tmp_path / "big.safetensors", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
                        b"\0" * 8, declared=10_000)
    assert "larger than the file" in run_inspect(capsys, p)


def test_overlapping_offsets(capsys, tmp_path):
    hdr = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
           "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}
    p = raw_safetensors(tmp_path / "overlap.safetensors", hdr, b"\0" * 24)
    assert "overlapping" in run_inspect(capsys, p)


def test_out_of_range_offsets(capsys, tmp_path):
    hdr = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
           "b": {"dtype": "F32", "shape": [4], "data_offsets": [1000, 1016]}}
    p = raw_safetensors(tmp_path / "range.safetensors", hdr, b"\0" * 16)
    assert "out of range" in run_inspect(capsys, p)


def test_dtype_shape_mismatch(capsys, tmp_path):
    p = raw_safetensors(tmp_path / "shape.safetensors",
                        {"a": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 16]}}, b"\0" * 16)
    assert "expected 64" in run_inspect(capsys, p)


def test_gguf_overlapping_and_out_of_range_offsets(capsys, tmp_path):
    """GGUF tensor offsets are validated the same way (header rewritten in place)."""
    import gguf

    w = gguf.GGUFWriter(str(tmp_path / "o.gguf"), "llama")
    w.add_tensor("a.weight", np.zeros((4, 32), np.float32))
    w.add_tensor("b.weight", np.ones((4, 32), np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    data = bytearray((tmp_path / "o.gguf").read_bytes())
    name = b"b.weight"
    pos = data.find(name) + len(name) + 4 + 2 * 8 + 4  # n_dims, 2 dims, type -> offset
    overl = bytearray(data)
    struct.pack_into("<Q", overl, pos, 0)
    (tmp_path / "overlap.gguf").write_bytes(bytes(overl))
    assert "overlapping" in run_inspect(capsys, tmp_path / "overlap.gguf")
    far = bytearray(data)
    struct.pack_into("<Q", far, pos, 1 << 40)
    (tmp_path / "far.gguf").write_bytes(bytes(far))
    assert "out of range" in run_inspect(capsys, tmp_path / "far.gguf")


def test_wrong_magic(capsys, good_gguf, tmp_path):
    p = tmp_path / "magic.gguf"
    p.write_bytes(b"GGUX" + good_gguf.read_bytes()[4:])
    line = run_inspect(capsys, p)
    assert "magic.gguf" in line and "magic" in line


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_calling_os_system_is_refused_and_not_run(capsys, tmp_path):
    marker = tmp_path / "PWNED"
    payload = pickle.dumps({"weight": _Payload(marker)}, protocol=2)
    p = write_zip(tmp_path / "evil.pt", {"archive/data.pkl": payload, "archive/version": b"3\n"})
    line = run_inspect(capsys, p)
    assert "blocked global" in line and "system" in line and "evil.pt" in line
    assert not marker.exists()


def test_pickle_payload_via_torch_save_is_refused(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "PWNED2"
    torch.save({"w": torch.zeros(2), "x": _Payload(marker)}, tmp_path / "evil2.bin")
    assert "blocked global" in run_inspect(capsys, tmp_path / "evil2.bin")
    assert not marker.exists()


def test_legacy_pickle_is_refused_without_unpickling(capsys, tmp_path):
    marker = tmp_path / "PWNED3"
    p = tmp_path / "legacy.pt"
    p.write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    assert "legacy" in run_inspect(capsys, p)
    assert not marker.exists()


@pytest.mark.parametrize("member", ["../../outside.txt", "/etc/cron.d/x", "..\\..\\outside.txt",
                                    "archive/data/../../../outside.txt", "C:/Windows/x"])
def test_zip_path_traversal(capsys, tmp_path, monkeypatch, member):
    """Each escaping member is named and refused, and nothing is written anywhere near the file."""
    payload = pickle.dumps({}, protocol=2)
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)  # a relative extraction would land under tmp_path
    p = write_zip(tmp_path / "a" / "slip.pt", {"archive/data.pkl": payload, member: b"x"})
    before = sorted(tmp_path.rglob("*"))
    line = run_inspect(capsys, p)
    assert "slip.pt" in line and "unsafe path" in line and repr(member) in line
    assert sorted(tmp_path.rglob("*")) == before


def test_compressed_storage_member_is_refused(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(64)}, tmp_path / "ok.pt")
    with zipfile.ZipFile(tmp_path / "ok.pt") as src:
        members = {i.filename: src.read(i) for i in src.infolist()}
    p = write_zip(tmp_path / "deflated.pt", members, compress=True)
    assert "compressed" in run_inspect(capsys, p)


def test_storage_smaller_than_claimed(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(64)}, tmp_path / "ok.pt")
    with zipfile.ZipFile(tmp_path / "ok.pt") as src:
        members = {i.filename: src.read(i) for i in src.infolist()}
    key = [k for k in members if "/data/" in k][0]
    members[key] = members[key][:16]
    p = write_zip(tmp_path / "short.pt", members)
    assert "claims 64 elements" in run_inspect(capsys, p)


def test_nonexistent_path(capsys, tmp_path):
    line = run_inspect(capsys, tmp_path / "nope.safetensors")
    assert "no such file" in line


def test_empty_directory(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    assert "empty directory" in run_inspect(capsys, tmp_path / "empty")


def test_directory_without_weights(capsys, tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text("{}")
    assert "no model weights" in run_inspect(capsys, tmp_path / "cfg")


def test_unknown_format_and_garbage(capsys, tmp_path):
    p = tmp_path / "weights.xyz"
    p.write_bytes(os.urandom(256))
    assert "unrecognised" in run_inspect(capsys, p)
    p = tmp_path / "model.onnx"
    p.write_bytes(b"\xff" * 64)
    assert "model.onnx" in run_inspect(capsys, p)
    p = tmp_path / "model.bin"
    p.write_bytes(struct.pack("<I", 6) + struct.pack("<H", 12) + b"WhisperSpec\0" + b"\1\0\0\0" + b"\xff\xff\0\0")
    assert "CTranslate2" in run_inspect(capsys, p)


def test_header_not_json_and_duplicate_keys(capsys, tmp_path):
    p = tmp_path / "nj.safetensors"
    p.write_bytes(struct.pack("<Q", 5) + b"{nope")
    assert "not valid JSON" in run_inspect(capsys, p)
    h = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}'
    p = tmp_path / "dup.safetensors"
    p.write_bytes(struct.pack("<Q", len(h)) + h + b"\0" * 8)
    assert "duplicate" in run_inspect(capsys, p)


def test_onnx_external_data_traversal(capsys, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    t = TensorProto()
    t.name, t.data_type = "model.embed_tokens.weight", TensorProto.FLOAT
    t.dims.extend([4, 4])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../../etc/passwd"), ("offset", "0"), ("length", "64")):
        e = t.external_data.add()
        e.key, e.value = k, v
    graph = helper.make_graph([], "g", [], [], initializer=[t])
    onnx.save(helper.make_model(graph), str(tmp_path / "ext.onnx"))
    code = main(["inspect", str(tmp_path / "ext.onnx")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "unsafe external data location" in err[0]


def test_bad_gguf_alignment_and_type(capsys, tmp_path):
    buf = io.BytesIO()
    buf.write(b"GGUF" + struct.pack("<IQQ", 3, 1, 0))
    name = b"t.weight"
    buf.write(struct.pack("<Q", len(name)) + name + struct.pack("<I", 1) + struct.pack("<Q", 32)
              + struct.pack("<I", 999) + struct.pack("<Q", 0))
    buf.write(b"\0" * 256)
    (tmp_path / "type.gguf").write_bytes(buf.getvalue())
    assert "unknown ggml type" in run_inspect(capsys, tmp_path / "type.gguf")


def test_pickle_with_self_referencing_containers_is_not_a_bomb(capsys, tmp_path):
    """A state dict whose containers refer to themselves must not explode the name walk."""
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "ok.pt")
    with zipfile.ZipFile(tmp_path / "ok.pt") as src:
        members = {i.filename: src.read(i) for i in src.infolist()}
    node: dict = {}
    for i in range(12):
        node[f"k{i}"] = node
    root = "archive/" if "archive/data.pkl" in members else [k for k in members if k.endswith("data.pkl")][0][:-8]
    members[root + "data.pkl"] = pickle.dumps({"a": node, "b": [node, node]}, protocol=2)
    p = write_zip(tmp_path / "cyclic.pt", members)
    line = run_inspect(capsys, p)
    assert "no tensors" in line
