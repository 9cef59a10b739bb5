"""The tokenizer reads GGUF and E5S1 through the model readers, so it refuses exactly what they refuse.

Each hostile file below is refused by ``open_model`` with some message; the tokenizer path must
raise `InputError` with the same message (one parser, one set of limits, one security fix).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from fromscratch.artifacts import open_model
from fromscratch.errors import InputError
from fromscratch.tokenizer.readers import load_tokenizer


def _s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def _gguf(kvs: list[bytes], *, version: int = 3, n_kv: int | None = None, tensors: bytes = b"",
          n_tensors: int = 0) -> bytes:
    head = b"GGUF" + struct.pack("<IQQ", version, n_tensors, len(kvs) if n_kv is None else n_kv)
    return head + b"".join(kvs) + tensors + b"\0" * 64


def _kv_str(key: str, value: str) -> bytes:
    return _s(key) + struct.pack("<I", 8) + _s(value)


def _kv_tokens(tokens: list[str]) -> bytes:
    return _s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, len(tokens)) + b"".join(_s(t) for t in tokens)


_GOOD = [_kv_str("general.architecture", "llama"), _kv_str("tokenizer.ggml.model", "gpt2"),
         _kv_tokens(["a", "b", "c"])]

HOSTILE_GGUF = {
    "key runs past the end": b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 40),
    "unsupported version": _gguf(_GOOD, version=7),
    "implausible key count": _gguf(_GOOD, n_kv=1 << 30),
    "duplicate key": _gguf([*_GOOD, _kv_str("general.architecture", "x")]),
    "bad alignment": _gguf([*_GOOD, _s("general.alignment") + struct.pack("<II", 4, 3)]),
    "implausible array length": _gguf([_s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 1 << 40)]),
    "string array past the end": _gguf([_s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 2)
                                        + _s("a") + struct.pack("<Q", 1 << 30)])[:-64],
    "unknown value type": _gguf([_s("tokenizer.ggml.x") + struct.pack("<I", 99)]),
    "arrays nested too deeply": _gguf([_s("tokenizer.ggml.x") + struct.pack("<IIQ", 9, 9, 1)
                                       + struct.pack("<IQ", 9, 1) * 3 + struct.pack("<IQ", 4, 0)]),
    "unknown tensor type": _gguf(_GOOD, n_tensors=1, tensors=_s("t.weight") + struct.pack("<IQIQ", 1, 32, 999, 0)),
    "too many dimensions": _gguf(_GOOD, n_tensors=1, tensors=_s("t.weight") + struct.pack("<I", 99)),
}


def _refusal(fn, path: Path) -> str:
    with pytest.raises(InputError) as info:
        fn(path)
    return str(info.value)


def _open_headers_only(path: Path) -> None:
    with open_model(path, headers_only=True):
        pass


@pytest.mark.parametrize("case", sorted(HOSTILE_GGUF))
def test_tokenizer_refuses_what_the_gguf_reader_refuses(tmp_path, case):
    path = tmp_path / "hostile.gguf"
    path.write_bytes(HOSTILE_GGUF[case])
    expected = _refusal(_open_headers_only, path)
    assert _refusal(load_tokenizer, path) == expected
    assert str(path) in expected


def test_good_gguf_header_reads_and_decodes_booleans_as_booleans(tmp_path):
    flag = _s("tokenizer.ggml.add_bos_token") + struct.pack("<IB", 7, 1)
    path = tmp_path / "vocab.gguf"
    path.write_bytes(_gguf([*_GOOD, flag]))
    vocab = load_tokenizer(path)
    assert vocab.tokens == ["a", "b", "c"] and vocab.kind == "bpe"
    with open_model(path, headers_only=True) as model:
        assert model.embedded_tokenizer["add_bos_token"] is True


def _e5s1(*, version: int = 1, fields: tuple = (8, 1, 2, 16, 3, 8, 2), n: int = 3,
          offsets: tuple = (0, 1, 2, 3), blob: bytes = b"abc", count: int = 0) -> bytes:
    head = b"E5S1" + struct.pack("<I", version) + struct.pack("<7i", *fields) + struct.pack("<fi", 1e-5, 32)
    tok = struct.pack("<5iQ", n, 0, 1, 2, 0, len(blob)) + struct.pack(f"<{len(offsets)}I", *offsets)
    tok += struct.pack(f"<{max(n, 0)}f", *([0.0] * max(n, 0))) + blob
    return head + tok + struct.pack("<iI", 0, 0) + struct.pack("<I", count)


HOSTILE_E5S1 = {
    "unsupported version": _e5s1(version=2),
    "implausible model fields": _e5s1(fields=(0, 0, 0, 0, 0, 0, 0)),
    "implausible piece count": _e5s1(n=-4, offsets=(), blob=b""),
    "tokenizer past the end": _e5s1()[:60],
    "tensor directory past the end": _e5s1(count=5),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_E5S1))
def test_tokenizer_refuses_what_the_e5s1_reader_refuses(tmp_path, case):
    path = tmp_path / "model.bin"
    path.write_bytes(HOSTILE_E5S1[case])
    expected = _refusal(_open_headers_only, path)
    assert _refusal(load_tokenizer, path) == expected


def test_e5s1_offsets_out_of_order_are_refused_by_both(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(_e5s1(offsets=(0, 2, 1, 3)))
    with open_model(path) as model:
        with pytest.raises(InputError, match="out of order"):
            model.embedded_tokenizer
    with pytest.raises(InputError, match="out of order"):
        load_tokenizer(path)


def test_good_e5s1_reads(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(_e5s1())
    vocab = load_tokenizer(path)
    assert vocab.tokens == ["a", "b", "c"] and vocab.kind == "unigram" and vocab.special == {0, 1, 2}
