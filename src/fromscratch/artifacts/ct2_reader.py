"""CTranslate2 ``model.bin`` (faster-whisper and other CTranslate2 exports).

Layout (binary version 5 and 6, little-endian): u32 version; spec name (u16
length incl. NUL, bytes); u32 spec revision; u32 variable count; per variable:
name (u16 length incl. NUL, bytes), u8 rank, rank x u32 dims, u8 dtype
(0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16), u32 byte count, raw bytes; then u32
alias count and (alias, target) name pairs (tied weights).

Every length is checked against the file before it is used. Rank-0 variables
are settings (``encoder/num_heads``), reported as metadata, not tensors. int8
weights with a ``weight_scale`` sibling are dequantised (CTranslate2 stores
``round(w * scale)``), and the scale is not listed as a tensor of its own.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.artifacts import hfdir
from fromscratch.artifacts._dtypes import NUMPY_DTYPES, convert, numel
from fromscratch.artifacts._io import CHUNK_BYTES, file_size, read_rows, with_range
from fromscratch.artifacts.base import ModelReader, TensorInfo
from fromscratch.errors import InputError

_DTYPES = {0: "F32", 1: "I8", 2: "I16", 3: "I32", 4: "F16", 5: "BF16"}
_MAX_VARS = 1 << 20


class CT2Reader(ModelReader):
    format = "ctranslate2"
    naming = "ct2"

    def __init__(self, path: Path, *, side_dir: Path | None = None) -> None:
        super().__init__(path)
        self.size = file_size(path)
        self._vars: dict[str, tuple[TensorInfo, int]] = {}
        self._settings: dict[str, Any] = {}
        self._aliases: dict[str, str] = {}
        self._parse()
        self._side = hfdir.side_files(side_dir)
        self._side_config = hfdir.load_config(self._side)

    def _parse(self) -> None:
        path, size = self.path, self.size
        with open(path, "rb") as fh:
            pos = 0

            def take(n: int, what: str) -> bytes:
                nonlocal pos
                if n < 0 or pos + n > size:
                    raise InputError(path, f"truncated CTranslate2 model: {what} at byte {pos} needs {n} bytes "
                                           f"(file has {size})")
                fh.seek(pos)
                b = fh.read(n)
                pos += n
                return b

            def u(fmt: str, what: str) -> int:
                return struct.unpack("<" + fmt, take(struct.calcsize(fmt), what))[0]

            def string(what: str) -> str:
                n = u("H", what + " length")
                return take(n, what).rstrip(b"\x00").decode("utf-8", errors="replace")

            self.version = u("I", "version")
            if self.version not in (5, 6):
                raise InputError(path, f"unsupported CTranslate2 binary version {self.version} (5 and 6 are read)")
            self.spec = string("spec name")
            self.revision = u("I", "spec revision")
            count = u("I", "variable count")
            if count > _MAX_VARS:
                raise InputError(path, f"implausible CTranslate2 variable count {count}")
            for _ in range(count):
                name = string("variable name")
                rank = u("B", f"rank of {name!r}")
                dims = tuple(u("I", f"dimension of {name!r}") for _ in range(rank))
                code = u("B", f"dtype of {name!r}")
                nbytes = u("I", f"byte count of {name!r}")
                if code not in _DTYPES:
                    raise InputError(path, f"variable {name!r}: unknown dtype code {code}")
                label = _DTYPES[code]
                expected = numel(dims) * NUMPY_DTYPES[label].itemsize
                if nbytes != expected:
                    raise InputError(path, f"variable {name!r}: {nbytes} bytes for {label} {list(dims)} "
                                           f"(expected {expected})")
                start = pos
                take(0, "")
                if pos + nbytes > size:
                    raise InputError(path, f"truncated CTranslate2 model: variable {name!r} runs past the end")
                pos += nbytes
                if name in self._vars or name in self._settings:
                    raise InputError(path, f"duplicate variable {name!r}")
                if rank == 0:
                    fh.seek(start)
                    raw = fh.read(nbytes)
                    self._settings[name] = np.frombuffer(raw, dtype=NUMPY_DTYPES[label]).item()
                else:
                    self._vars[name] = (TensorInfo(name, dims, label, nbytes), start)
            if pos + 4 <= size:
                n_alias = u("I", "alias count")
                if n_alias > _MAX_VARS:
                    raise InputError(path, f"implausible alias count {n_alias}")
                for _ in range(n_alias):
                    alias = string("alias")
                    target = string("alias target")
                    self._aliases[alias] = target
        self._scales = {n[: -len("_scale")]: n for n in self._vars
                        if n.endswith("weight_scale") and n[: -len("_scale")] in self._vars
                        and self._vars[n[: -len("_scale")]][0].dtype in {"I8", "I16"}}

    def tensor_infos(self) -> list[TensorInfo]:
        hidden = set(self._scales.values())
        return [info for n, (info, _) in self._vars.items() if n not in hidden]

    def read(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        if name not in self._vars:
            raise KeyError(name)
        info, start = self._vars[name]
        dt = NUMPY_DTYPES[info.dtype]
        if name not in self._scales and dtype is not None and info.nbytes > CHUNK_BYTES and info.shape[0] > 1:
            rows, rest = info.shape[0], info.shape[1:]
            return read_rows(self.path, start, rows, info.nbytes // rows, rest, np.dtype(dtype),
                             lambda b, n: b.view(dt).reshape((n, *rest)))
        raw = with_range(self.path, start, info.nbytes, lambda b: convert(b.view(dt).reshape(info.shape), None))
        if name in self._scales:
            sinfo, sstart = self._vars[self._scales[name]]
            scale = with_range(self.path, sstart, sinfo.nbytes,
                               lambda b: convert(b.view(NUMPY_DTYPES[sinfo.dtype]), np.float32))
            vals = raw.astype(np.float32)
            scale = scale.reshape((-1,) + (1,) * (vals.ndim - 1)) if scale.size > 1 else scale.reshape(())
            return convert(vals / scale, np.float32 if dtype is None else dtype)
        return convert(raw, dtype)

    @property
    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"ct2_spec": self.spec}
        if self.spec.lower().startswith("whisper"):
            cfg["model_type"] = "whisper"
        heads = self._settings.get("encoder/num_heads") or self._settings.get("num_heads")
        if heads:
            cfg["num_attention_heads"] = int(heads)
        emb = self._vars.get("decoder/embeddings/weight")
        if emb:
            cfg["vocab_size"], cfg["d_model"] = int(emb[0].shape[0]), int(emb[0].shape[1])
        cfg["tie_word_embeddings"] = "decoder/projection/weight" not in self._vars
        side = self._side_config or {}
        return {**cfg, **{k: v for k, v in side.items() if k not in cfg}}

    @property
    def metadata(self) -> dict[str, Any]:
        return {"ct2_version": self.version, "spec": self.spec, "spec_revision": self.revision,
                "settings": dict(self._settings), "aliases": dict(self._aliases)}

    @property
    def claims(self) -> dict[str, Any]:
        return hfdir.hf_claims(self._side, self._side_config)
