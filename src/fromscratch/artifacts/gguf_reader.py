"""GGUF (llama.cpp) read with a bounds-checked header parser of our own.

Why not ``gguf.GGUFReader``: it builds a numpy view per string of the
tokenizer arrays, which takes seconds for 150k-262k-token vocabularies, and it
trusts the header. This parser walks the header once, checks every length and
offset against the file, skips big arrays by recording where they are (they
are decoded only when the tokenizer or metadata is asked for), and hands
dequantisation per tensor to ``gguf.quants.dequantize``.

Values come back in the Hugging Face orientation and layout:
- shapes are the reverse of ggml's ``ne`` order;
- for architectures whose converter permutes Q/K rows within each head (the
  llama family, for llama.cpp's interleaved RoPE), the permutation is undone;
- Gemma's RMSNorm weights, stored by the converter as ``1 + w``, get the 1
  subtracted back.
So a GGUF and the HF checkpoint it came from yield equal tensors (up to
quantisation error) under the same canonical names.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.artifacts import hfdir
from fromscratch.artifacts._dtypes import convert
from fromscratch.artifacts._io import CHUNK_BYTES, file_size, read_rows, with_range
from fromscratch.artifacts.base import ModelReader, TensorInfo
from fromscratch.artifacts.safetensors_reader import check_overlaps
from fromscratch.errors import InputError

# value types of the GGUF key/value section
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
    6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8),
}
_NP_SCALARS = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "?", 10: "<u8", 11: "<i8", 12: "<f8"}
_STRING, _ARRAY = 8, 9

#: architectures whose HF->GGUF converter applies the per-head Q/K row permutation
PERMUTED_ARCHS = frozenset({"llama", "mistral", "granite", "granitemoe", "deci", "smollm3", "arcee", "bailingmoe"})
#: architectures whose converter stores RMSNorm weights as 1 + w
NORM_SHIFTED_ARCHS = frozenset({"gemma", "gemma2", "gemma3"})

_MAX_COUNT = 1 << 24
_MAX_DIMS = 8


def _fast_dequantize(rows: np.ndarray, qname: str) -> np.ndarray | None:
    """Vectorised decoders for the commonest simple block types (bit-identical to
    ``gguf.quants``, about 2-3x faster); None for every other type."""
    if qname == "Q8_0":  # f16 scale + 32 int8
        bl = rows.reshape(-1, 34)
        d = bl[:, :2].copy().view(np.float16).astype(np.float32)
        out = np.empty((bl.shape[0], 32), dtype=np.float32)
        out[...] = bl[:, 2:].view(np.int8)
        out *= d
        return out.reshape(rows.shape[0], -1)
    if qname in ("Q4_0", "Q4_1"):  # f16 scale [+ f16 min] + 16 bytes of nibbles (low halves first)
        size = 18 if qname == "Q4_0" else 20
        bl = rows.reshape(-1, size)
        hdr = bl[:, : size - 16].copy().view(np.float16).astype(np.float32)
        qs = bl[:, size - 16:]
        # nibbles written straight into the float32 output (no uint8 concatenation, no astype copy)
        q = np.empty((bl.shape[0], 32), dtype=np.float32)
        np.bitwise_and(qs, 0x0F, out=q[:, :16], casting="unsafe")
        np.right_shift(qs, 4, out=q[:, 16:], casting="unsafe")
        if qname == "Q4_0":
            q -= 8
            q *= hdr[:, :1]
        else:
            q *= hdr[:, :1]
            q += hdr[:, 1:2]
        return q.reshape(rows.shape[0], -1)
    return None


def dequantize_rows(rows: np.ndarray, qtype: Any) -> np.ndarray:
    """Dequantise ggml rows (uint8, one row per line) to float32."""
    import gguf

    fast = _fast_dequantize(rows, qtype.name)
    if fast is not None:
        return fast
    return np.asarray(gguf.quants.dequantize(rows, qtype))


class _LazyArray:
    """An array value located in the header, decoded on demand."""

    __slots__ = ("etype", "count", "offset")

    def __init__(self, etype: int, count: int, offset: int) -> None:
        self.etype, self.count, self.offset = etype, count, offset


class _Parser:
    def __init__(self, path: Path, buf: mmap.mmap, size: int) -> None:
        self.path, self.buf, self.size, self.pos = path, buf, size, 0

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise InputError(self.path, f"truncated GGUF file: {what} at byte {self.pos} needs {n} bytes "
                                        f"but the file has {self.size}")

    def scalar(self, fmt: str, n: int, what: str) -> Any:
        self.need(n, what)
        (v,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += n
        return v

    def u32(self, what: str) -> int:
        return self.scalar("<I", 4, what)

    def u64(self, what: str) -> int:
        return self.scalar("<Q", 8, what)

    def string(self, what: str) -> str:
        n = self.u64(what + " length")
        self.need(n, what)
        raw = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def skip_string(self, what: str) -> None:
        n = self.u64(what + " length")
        self.need(n, what)
        self.pos += n

    def value(self, vtype: int, key: str, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            fmt, n = _SCALARS[vtype]
            return self.scalar(fmt, n, f"value of {key!r}")
        if vtype == _STRING:
            return self.string(f"value of {key!r}")
        if vtype == _ARRAY:
            if depth > 2:
                raise InputError(self.path, f"GGUF key {key!r}: arrays nested too deeply")
            etype = self.u32(f"array type of {key!r}")
            count = self.u64(f"array length of {key!r}")
            if count > _MAX_COUNT or (etype == _STRING and count * 8 > self.size - self.pos):
                raise InputError(self.path, f"GGUF key {key!r}: implausible array length {count}")
            start = self.pos
            if etype in _SCALARS:
                n = _SCALARS[etype][1] * count
                self.need(n, f"array {key!r}")
                self.pos += n
            elif etype == _STRING:
                buf, pos, size = self.buf, self.pos, self.size
                unpack = struct.Struct("<Q").unpack_from
                for _ in range(count):
                    if pos + 8 > size:
                        self.pos = pos
                        self.need(8, f"string in array {key!r}")
                    (ln,) = unpack(buf, pos)
                    pos += 8 + ln
                    if pos > size:
                        self.pos = pos - ln
                        self.need(ln, f"string in array {key!r}")
                self.pos = pos
            elif etype == _ARRAY:
                return [self.value(_ARRAY, key, depth + 1) for _ in range(count)]
            else:
                raise InputError(self.path, f"GGUF key {key!r}: unknown array element type {etype}")
            return _LazyArray(etype, count, start)
        raise InputError(self.path, f"GGUF key {key!r}: unknown value type {vtype}")


class GGUFReader(ModelReader):
    """A GGUF file: validated header, lazily decoded arrays, per-tensor dequantisation."""

    format = "gguf"
    naming = "gguf"

    def __init__(self, path: Path, *, side_dir: Path | None = None, headers_only: bool = False) -> None:
        super().__init__(path)
        #: tolerate tensor data missing past the end of the file (a header-only or
        #: partially downloaded file): the header and tokenizer stay readable,
        #: reading an absent tensor raises ``InputError``.
        self.headers_only = headers_only
        self.missing: set[str] = set()
        import gguf  # noqa: F401  (core dependency; validates quant types below)

        self._gguf = gguf
        self.size = file_size(path)
        if self.size < 24:
            raise InputError(path, f"truncated GGUF file ({self.size} bytes)")
        try:
            with open(path, "rb") as fh:
                self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise InputError(path, f"cannot map file ({exc})") from exc
        try:
            self._parse()
        except BaseException:
            self._mm.close()
            raise
        self._side = hfdir.side_files(side_dir)
        self._side_config = hfdir.load_config(self._side)
        self._tokenizer: dict[str, Any] | None = None

    # -- parsing -------------------------------------------------------
    def _parse(self) -> None:
        p = _Parser(self.path, self._mm, self.size)
        magic = bytes(self._mm[:4])
        if magic != b"GGUF":
            raise InputError(self.path, f"not a GGUF file (wrong magic {magic!r})")
        p.pos = 4
        self.version = p.u32("version")
        if self.version not in (2, 3):
            raise InputError(self.path, f"unsupported GGUF version {self.version} (2 and 3 are read)")
        n_tensors = p.u64("tensor count")
        n_kv = p.u64("key/value count")
        if n_tensors > _MAX_COUNT or n_kv > _MAX_COUNT:
            raise InputError(self.path, f"implausible GGUF counts ({n_tensors} tensors, {n_kv} keys)")
        self._kv = kv = self._parse_kv(p, n_kv)
        align = kv.get("general.alignment", 32)
        if not isinstance(align, int) or align <= 0 or align & (align - 1) or align > 1 << 16:
            raise InputError(self.path, f"invalid general.alignment {align!r}")
        split = kv.get("split.count")
        if isinstance(split, int) and split > 1 and not self.headers_only:
            raise InputError(self.path, f"split GGUF ({split} parts) is not supported; merge it with gguf-split first")
        raw = self._parse_tensor_infos(p, n_tensors)
        data_start = p.pos + (-p.pos) % align
        if data_start > self.size and not self.headers_only:
            raise InputError(self.path, f"truncated GGUF file: data section starts at {data_start} "
                                        f"beyond the end ({self.size} bytes)")
        self.data_start = data_start
        self._place_tensors(raw, align)
        self.arch = str(kv.get("general.architecture", "") or "")
        self._warn = []
        if self.missing:
            self._warn.append(f"{len(self.missing)} of {len(raw)} tensors lie beyond the end of the file "
                              "(truncated; opened headers-only)")
        if self.arch in PERMUTED_ARCHS and any(".attn_q." in r[0] for r in raw) and not self._heads()[0]:
            self._warn.append(f"{self.arch}.attention.head_count is missing: Q/K rows are left in llama.cpp's "
                              "permuted order")

    def _parse_kv(self, p: _Parser, n_kv: int) -> dict[str, Any]:
        kv: dict[str, Any] = {}
        for _ in range(n_kv):
            key = p.string("key")
            vtype = p.u32(f"type of {key!r}")
            if key in kv:
                raise InputError(self.path, f"duplicate GGUF key {key!r}")
            kv[key] = p.value(vtype, key)
        return kv

    def _parse_tensor_infos(self, p: _Parser, n_tensors: int) -> list[tuple[str, tuple[int, ...], int, int]]:
        raw: list[tuple[str, tuple[int, ...], int, int]] = []
        names: set[str] = set()
        for _ in range(n_tensors):
            name = p.string("tensor name")
            nd = p.u32(f"dimension count of {name!r}")
            if nd > _MAX_DIMS:
                raise InputError(self.path, f"tensor {name!r}: {nd} dimensions")
            dims = tuple(p.u64(f"dimension of {name!r}") for _ in range(nd))
            ttype = p.u32(f"type of {name!r}")
            off = p.u64(f"offset of {name!r}")
            if name in names:
                raise InputError(self.path, f"duplicate tensor name {name!r}")
            names.add(name)
            raw.append((name, dims, ttype, off))
        return raw

    def _place_tensors(self, raw: list[tuple[str, tuple[int, ...], int, int]], align: int) -> None:
        """Check each tensor's type, size, alignment and range against the data section."""
        gguf = self._gguf
        data_start = self.data_start
        data_size = max(0, self.size - data_start)  # 0 for a vocab-only file opened headers-only
        self._entries: dict[str, tuple[TensorInfo, int, Any, tuple[int, ...]]] = {}
        ranges: list[tuple[int, int, str]] = []
        for name, dims, ttype, off in raw:
            try:
                qtype = gguf.GGMLQuantizationType(ttype)
            except ValueError:
                raise InputError(self.path, f"tensor {name!r}: unknown ggml type {ttype}") from None
            if qtype not in gguf.GGML_QUANT_SIZES:
                raise InputError(self.path, f"tensor {name!r}: unsupported ggml type {qtype.name}")
            block, tsize = gguf.GGML_QUANT_SIZES[qtype]
            n = 1
            for d in dims:
                n *= d
            if dims and dims[0] % block:
                raise InputError(self.path, f"tensor {name!r}: row length {dims[0]} is not a multiple of "
                                            f"the {qtype.name} block size {block}")
            nbytes = n // block * tsize
            if off % align:
                raise InputError(self.path, f"tensor {name!r}: offset {off} is not {align}-byte aligned")
            if off + nbytes > data_size and self.headers_only:
                self.missing.add(name)
            elif off + nbytes > data_size:
                raise InputError(self.path, f"tensor {name!r}: data [{off}, {off + nbytes}] out of range "
                                            f"(data section is {data_size} bytes)")
            ranges.append((off, off + nbytes, name))
            shape = tuple(int(d) for d in reversed(dims))
            self._entries[name] = (TensorInfo(name, shape, qtype.name, nbytes), data_start + off, qtype, dims)
        check_overlaps(self.path, ranges)

    # -- values --------------------------------------------------------
    def _decode_array(self, arr: _LazyArray) -> list[Any]:
        if arr.etype in _NP_SCALARS:
            return np.frombuffer(self._mm, dtype=_NP_SCALARS[arr.etype], count=arr.count, offset=arr.offset).tolist()
        out: list[str] = []
        mm, pos = self._mm, arr.offset
        unpack = struct.Struct("<Q").unpack_from
        for _ in range(arr.count):
            (ln,) = unpack(mm, pos)
            pos += 8
            out.append(mm[pos:pos + ln].decode("utf-8", errors="replace"))
            pos += ln
        return out

    def _plain(self, v: Any) -> Any:
        if isinstance(v, _LazyArray):
            return self._decode_array(v)
        if isinstance(v, list):
            return [self._plain(x) for x in v]
        return v

    def kv(self, key: str, default: Any = None) -> Any:
        """One metadata value as plain Python (arrays decoded)."""
        if key not in self._kv:
            return default
        return self._plain(self._kv[key])

    def tensor_infos(self) -> list[TensorInfo]:
        return [e[0] for e in sorted(self._entries.values(), key=lambda e: e[1])]

    def _heads(self) -> tuple[int | None, int | None]:
        def first(v: Any) -> int | None:
            v = self._plain(v)
            if isinstance(v, list):
                v = max(v) if v else None
            return int(v) if isinstance(v, (int, float)) and v else None

        heads = first(self._kv.get(f"{self.arch}.attention.head_count"))
        kv = first(self._kv.get(f"{self.arch}.attention.head_count_kv")) or heads
        return heads, kv

    def read(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        return self._to_hf(name, self.read_stored(name, dtype))

    def read_stored(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        """Values exactly as stored (reversed ggml shape, no Q/K unpermute, no norm shift)."""
        entry = self._entries.get(name)
        if entry is None:
            raise KeyError(name)
        info, start, qtype, dims = entry
        if name in self.missing:
            raise InputError(self.path, f"tensor {name!r}: data lies beyond the end of the file "
                                        "(opened headers-only)")
        gguf = self._gguf
        direct = {gguf.GGMLQuantizationType.F32: "<f4", gguf.GGMLQuantizationType.F16: "<f2",
                  gguf.GGMLQuantizationType.F64: "<f8", gguf.GGMLQuantizationType.I8: "i1",
                  gguf.GGMLQuantizationType.I16: "<i2", gguf.GGMLQuantizationType.I32: "<i4",
                  gguf.GGMLQuantizationType.I64: "<i8"}

        block, tsize = gguf.GGML_QUANT_SIZES[qtype]
        if dims and info.nbytes > CHUNK_BYTES and dtype is not None:
            # decode ggml rows (ne[0] values each) in chunks straight into the output
            row_len = dims[0]
            row_bytes = row_len // block * tsize
            n_rows = info.numel // row_len if row_len else 0
            if qtype in direct:
                src = np.dtype(direct[qtype])
                fn = lambda b, n: b.view(src).reshape(n, row_len)  # noqa: E731
            elif qtype == gguf.GGMLQuantizationType.BF16:
                import ml_dtypes

                fn = lambda b, n: b.view(ml_dtypes.bfloat16).reshape(n, row_len)  # noqa: E731
            else:
                def fn(b: np.ndarray, n: int) -> np.ndarray:
                    try:
                        return dequantize_rows(b.reshape(n, row_bytes), qtype)
                    except NotImplementedError as exc:
                        raise InputError(self.path, f"tensor {name!r}: cannot dequantise {qtype.name} ({exc})") from exc
            out = read_rows(self.path, start, n_rows, row_bytes, (row_len,), np.dtype(dtype), fn)
            return out.reshape(info.shape)

        def conv(buf: np.ndarray) -> np.ndarray:
            if qtype in direct:
                return convert(buf.view(direct[qtype]).reshape(info.shape), dtype)
            if qtype == gguf.GGMLQuantizationType.BF16:
                import ml_dtypes

                return convert(buf.view(ml_dtypes.bfloat16).reshape(info.shape), dtype)
            row_bytes = (dims[0] // block) * tsize if dims else tsize
            rows = buf.reshape(-1, row_bytes) if buf.size else buf.reshape(0, row_bytes)
            try:
                vals = dequantize_rows(rows, qtype)
            except NotImplementedError as exc:
                raise InputError(self.path, f"tensor {name!r}: cannot dequantise {qtype.name} ({exc})") from exc
            return convert(np.asarray(vals).reshape(info.shape), np.float32 if dtype is None else dtype)

        return with_range(self.path, start, info.nbytes, conv)

    def _to_hf(self, name: str, arr: np.ndarray) -> np.ndarray:
        """Undo the converter's layout changes so values match the HF checkpoint."""
        if self.arch in PERMUTED_ARCHS and name.startswith("blk.") and (
                ".attn_q." in name or ".attn_k." in name) and arr.ndim >= 1:
            heads, kv = self._heads()
            n = heads if ".attn_q." in name else kv
            if n and arr.shape[0] % (2 * n) == 0:
                rest = arr.shape[1:]
                arr = np.ascontiguousarray(
                    arr.reshape(n, arr.shape[0] // n // 2, 2, *rest).swapaxes(1, 2).reshape(arr.shape))
        if self.arch in NORM_SHIFTED_ARCHS and name.endswith("norm.weight") and arr.dtype.kind == "f":
            arr = arr - arr.dtype.type(1)
        return arr

    # -- descriptive ---------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """An HF-style config built from the GGUF metadata (a side config.json wins on conflicts)."""
        a = self.arch
        keys = {
            "hidden_size": f"{a}.embedding_length", "num_hidden_layers": f"{a}.block_count",
            "num_attention_heads": f"{a}.attention.head_count", "num_key_value_heads": f"{a}.attention.head_count_kv",
            "intermediate_size": f"{a}.feed_forward_length", "max_position_embeddings": f"{a}.context_length",
            "rope_theta": f"{a}.rope.freq_base", "rms_norm_eps": f"{a}.attention.layer_norm_rms_epsilon",
            "layer_norm_eps": f"{a}.attention.layer_norm_epsilon", "head_dim": f"{a}.attention.key_length",
            "num_local_experts": f"{a}.expert_count", "num_experts_per_tok": f"{a}.expert_used_count",
            "sliding_window": f"{a}.attention.sliding_window", "vocab_size": f"{a}.vocab_size",
            "rope_dimension_count": f"{a}.rope.dimension_count",
        }
        cfg: dict[str, Any] = {"model_type": a, "gguf_architecture": a}
        for hf_key, gkey in keys.items():
            if gkey in self._kv:
                v = self._plain(self._kv[gkey])
                if isinstance(v, list) and v and hf_key in {"num_attention_heads", "num_key_value_heads",
                                                            "intermediate_size"}:
                    cfg[hf_key + "_per_layer"] = v
                    v = max(v)
                cfg[hf_key] = v
        if "vocab_size" not in cfg:
            tok = self._kv.get("tokenizer.ggml.tokens")
            if isinstance(tok, _LazyArray):
                cfg["vocab_size"] = tok.count
            elif "token_embd.weight" in self._entries:
                cfg["vocab_size"] = self._entries["token_embd.weight"][0].shape[0]
        cfg["tie_word_embeddings"] = "output.weight" not in self._entries
        side = self._side_config or {}
        return {**cfg, **{k: v for k, v in side.items() if k not in cfg}}

    @property
    def embedded_tokenizer(self) -> dict[str, Any] | None:
        """``tokenizer.ggml.*`` (prefix dropped) and ``tokenizer.chat_template``, decoded once."""
        if self._tokenizer is None:
            tok: dict[str, Any] = {}
            for key, v in self._kv.items():
                if key.startswith("tokenizer.ggml."):
                    tok[key[len("tokenizer.ggml."):]] = self._plain(v)
                elif key.startswith("tokenizer.") and not key.startswith("tokenizer.ggml."):
                    tok[key[len("tokenizer."):]] = self._plain(v)
            self._tokenizer = tok
        return self._tokenizer or None

    @property
    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"gguf_version": self.version}
        if self._warn:
            out["warnings"] = list(self._warn)
        for key, v in self._kv.items():
            if key.startswith("tokenizer."):
                if isinstance(v, _LazyArray):
                    out[key] = f"<array of {v.count}>"
                    continue
                if key == "tokenizer.chat_template":
                    out[key] = v
                    continue
            if isinstance(v, _LazyArray) and v.count > 4096:
                out[key] = f"<array of {v.count}>"
            else:
                out[key] = self._plain(v)
        return out

    @property
    def claims(self) -> dict[str, Any]:
        skip = {"general.architecture", "general.alignment", "general.file_type", "general.quantization_version"}
        claims = {k: self._plain(v) for k, v in self._kv.items() if k.startswith("general.") and k not in skip
                  and not (isinstance(v, _LazyArray) and v.count > 4096)}
        claims.update(hfdir.hf_claims(self._side, self._side_config))
        return claims

    def close(self) -> None:
        try:
            self._mm.close()
        except (BufferError, ValueError):
            pass
