"""safetensors, single file or sharded, parsed and validated with the stdlib.

Layout: u64 little-endian header length N, N bytes of JSON
``{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}``,
then the raw data (offsets relative to the end of the header).

Everything a hostile file could lie about is checked from the header before a
single tensor byte is read: the header length against the file size, each
tensor's dtype and shape against its byte count, every range inside the data
section, and no two ranges overlapping. Values are then read one tensor at a
time through a short-lived memory map (``_io.with_range``).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.artifacts import hfdir
from fromscratch.artifacts._dtypes import NUMPY_DTYPES, cast_into, convert, numel
from fromscratch.artifacts._io import CHUNK_BYTES, file_size, read_prefix, read_rows, with_range
from fromscratch.artifacts.base import ModelReader, TensorInfo
from fromscratch.errors import InputError

MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's own limit


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


class _Entry:
    __slots__ = ("info", "file", "start", "dtype")

    def __init__(self, info: TensorInfo, file: Path, start: int, dtype: str) -> None:
        self.info = info
        self.file = file
        self.start = start  # absolute byte offset in the file
        self.dtype = dtype


def parse_header(path: Path) -> tuple[list[tuple[TensorInfo, int]], dict[str, str]]:
    """Validate one safetensors file's header; return (info, absolute offset) pairs and metadata."""
    size = file_size(path)
    if size < 8:
        raise InputError(path, f"truncated safetensors file ({size} bytes, no header length)")
    (n,) = struct.unpack("<Q", read_prefix(path, 8))
    if n > MAX_HEADER:
        raise InputError(path, f"safetensors header length {n} exceeds the {MAX_HEADER}-byte limit")
    if 8 + n > size:
        raise InputError(path, f"safetensors header length {n} is larger than the file ({size} bytes)")
    raw = read_prefix(path, 8 + n)[8:]
    if len(raw) != n:
        raise InputError(path, "truncated safetensors header")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(path, f"safetensors header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise InputError(path, "safetensors header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise InputError(path, "safetensors __metadata__ must map strings to strings")
    data_start = 8 + n
    data_size = size - data_start
    out: list[tuple[TensorInfo, int]] = []
    ranges: list[tuple[int, int, str]] = []
    for name, ent in header.items():
        if not isinstance(ent, dict):
            raise InputError(path, f"tensor {name!r}: header entry is not an object")
        dtype = ent.get("dtype")
        shape = ent.get("shape")
        offs = ent.get("data_offsets")
        if dtype not in NUMPY_DTYPES:
            raise InputError(path, f"tensor {name!r}: unsupported dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise InputError(path, f"tensor {name!r}: invalid shape {shape!r}")
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)):
            raise InputError(path, f"tensor {name!r}: invalid data_offsets {offs!r}")
        begin, end = offs
        if begin < 0 or end < begin or end > data_size:
            raise InputError(path, f"tensor {name!r}: data_offsets [{begin}, {end}] out of range "
                                   f"(data section is {data_size} bytes)")
        expected = numel(tuple(shape)) * NUMPY_DTYPES[dtype].itemsize
        if end - begin != expected:
            raise InputError(path, f"tensor {name!r}: {end - begin} bytes for {dtype} {shape} "
                                   f"(expected {expected})")
        ranges.append((begin, end, name))
        out.append((TensorInfo(name, tuple(int(d) for d in shape), dtype, end - begin), data_start + begin))
    check_overlaps(path, ranges)
    out.sort(key=lambda p: p[1])  # file order
    return out, meta


def check_overlaps(path: Path, ranges: list[tuple[int, int, str]]) -> None:
    """Refuse two non-empty byte ranges that share a byte (aliasing tensors)."""
    prev_end, prev_name, prev_begin = -1, "", 0
    for b, e, name in sorted(r for r in ranges if r[1] > r[0]):
        if b < prev_end:
            raise InputError(path, f"tensors {prev_name!r} and {name!r} have overlapping data "
                                   f"([{prev_begin}, {prev_end}] and [{b}, {e}])")
        if e > prev_end:
            prev_end, prev_name, prev_begin = e, name, b


def read_weight_map(index: Path) -> dict[str, str]:
    """The ``weight_map`` (tensor -> shard file) of ``model.safetensors.index.json``, the one
    reading of that file; `InputError` when it is unreadable or has no string map."""
    idx = hfdir.load_json(index, limit=64 * 1024 * 1024)
    wm = idx.get("weight_map") if isinstance(idx, dict) else None
    if not isinstance(wm, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in wm.items()):
        raise InputError(index, "no string weight_map")
    return wm

def _block_scales(entries: dict[str, _Entry]) -> dict[str, str]:
    """FP8 weight -> its ``<name>_scale_inv`` block-scale tensor (DeepSeek-V3 layout).

    The scale tensor has the weight's leading dimensions and one value per
    block of the last two (128 x 128 in DeepSeek-V3); the stored value times
    the scale is the weight. Scales are not parameters, so they are hidden
    from the tensor list and applied when the weight is read.
    """
    out = {}
    for name, e in entries.items():
        if not name.endswith("_scale_inv"):
            continue
        base = entries.get(name[: -len("_scale_inv")])
        if base is None or not base.dtype.startswith("F8"):
            continue
        ws, ss = base.info.shape, e.info.shape
        if len(ws) < 2 or len(ss) != len(ws) or tuple(ss[:-2]) != tuple(ws[:-2]) or min(ss[-2:]) < 1:
            raise InputError(e.file, f"tensor {name!r}: block scales {list(ss)} do not fit weight {list(ws)}")
        for w, s in zip(ws[-2:], ss[-2:]):
            if -(-w // _block(w, s)) != s:
                raise InputError(e.file, f"tensor {name!r}: block scales {list(ss)} do not fit weight {list(ws)} "
                                         f"in {BLOCK} x {BLOCK} blocks")
        out[base.info.name] = name
    return out


#: DeepSeek-V3's (and Qwen3-FP8's) ``weight_block_size``; other block sizes are refused, not guessed
BLOCK = 128


def _block(n: int, blocks: int) -> int:
    return BLOCK


def apply_block_scale(w: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Multiply ``w`` in place by its block scales, one row block at a time (no full-size temporary)."""
    rows, cols = w.shape[-2:]
    br, bc = _block(rows, scale.shape[-2]), _block(cols, scale.shape[-1])
    w3 = w.reshape(-1, rows, cols)
    s3 = scale.reshape(-1, scale.shape[-2], scale.shape[-1])
    for k in range(w3.shape[0]):
        for i in range(s3.shape[1]):
            w3[k, i * br:(i + 1) * br] *= np.repeat(s3[k, i], bc)[:cols]
    return w


class SafetensorsReader(ModelReader):
    """One or several safetensors files read as a single checkpoint."""

    format = "safetensors"

    def __init__(self, path: Path, files: list[Path], *, side_dir: Path | None = None,
                 index: Path | None = None) -> None:
        super().__init__(path)
        self.files = list(files)
        self.index_path = index
        self._side_dir = side_dir
        self._entries: dict[str, _Entry] = {}
        self._meta: dict[str, Any] = {}
        self._warnings: list[str] = []
        self._load_headers()
        self._side = hfdir.side_files(side_dir)
        self._config = hfdir.load_config(self._side)

    # -- header loading ------------------------------------------------
    def _load_headers(self) -> None:
        per_file: dict[Path, list[tuple[TensorInfo, int]]] = {}
        file_meta: dict[str, dict[str, str]] = {}
        for f in self.files:
            infos, meta = parse_header(f)
            per_file[f] = infos
            if meta:
                file_meta[f.name] = meta
        weight_map = self._read_index() if self.index_path is not None else None
        for f in self.files:
            for info, start in per_file[f]:
                if info.name in self._entries:
                    raise InputError(f, f"tensor {info.name!r} is stored in two shards "
                                        f"({self._entries[info.name].file.name} and {f.name})")
                self._entries[info.name] = _Entry(info, f, start, info.dtype)
        if weight_map is not None:
            problems = [n for n, shard in weight_map.items()
                        if n not in self._entries or self._entries[n].file.name != shard]
            missing = [n for n in self._entries if n not in weight_map]
            if problems or missing:
                self._warnings.append(
                    f"{self.index_path.name} disagrees with the shard headers "
                    f"({len(problems)} wrong or absent, {len(missing)} unlisted); the headers were used")
        self._scales = _block_scales(self._entries)
        if len(file_meta) == 1:
            self._meta = dict(next(iter(file_meta.values())))
        elif file_meta:
            self._meta = {"shards": file_meta}

    def _read_index(self) -> dict[str, str] | None:
        """Validate ``model.safetensors.index.json``; None (and a warning) when unusable.

        The index is advisory: the shard headers are authoritative, so a broken
        index falls back to scanning every shard rather than failing.
        """
        assert self.index_path is not None
        try:
            wm = read_weight_map(self.index_path)
        except InputError as exc:
            self._warnings.append(f"{self.index_path.name} ignored: {exc.problem}")
            return None
        names = {f.name for f in self.files}
        bad = sorted({v for v in wm.values() if v not in names})
        if bad:
            self._warnings.append(f"{self.index_path.name} names shard(s) not present: {', '.join(bad[:3])}")
        return wm

    # -- ModelReader ---------------------------------------------------
    def tensor_infos(self) -> list[TensorInfo]:
        hidden = set(self._scales.values())
        return [e.info for n, e in self._entries.items() if n not in hidden]

    def read(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        if name in self._scales and dtype is not None:
            out = np.empty(self._entries[name].info.shape, dtype=np.float32)
            return self.read_into(name, out).astype(dtype, copy=False)
        e = self._entries.get(name)
        if e is None:
            raise KeyError(name)
        np_dtype = NUMPY_DTYPES[e.dtype]
        shape = e.info.shape
        if dtype is not None and len(shape) >= 1 and shape[0] > 1 and e.info.nbytes > CHUNK_BYTES:
            rows, rest = shape[0], shape[1:]
            return read_rows(e.file, e.start, rows, e.info.nbytes // rows, rest, np.dtype(dtype),
                             lambda b, n: b.view(np_dtype).reshape((n, *rest)))

        def conv(buf: np.ndarray) -> np.ndarray:
            return convert(buf.view(np_dtype).reshape(shape), dtype)

        return with_range(e.file, e.start, e.info.nbytes, conv)

    reads_into = True

    def read_into(self, name: str, out: np.ndarray) -> np.ndarray:
        scale = self._scales.get(name)
        if scale is not None:
            self._read_into(name, out)
            return apply_block_scale(out, self.read(scale, dtype=np.float32))
        return self._read_into(name, out)

    reads_rows = True

    def read_rows_into(self, name: str, r0: int, r1: int, out: np.ndarray) -> np.ndarray:
        """Rows ``r0:r1``; with FP8 block scales ``r0`` must start a 128-row block."""
        e = self._entries.get(name)
        if e is None:
            raise KeyError(name)
        shape = e.info.shape
        rest = tuple(shape[1:])
        if not shape or not 0 <= r0 <= r1 <= shape[0] or out.shape != (r1 - r0, *rest):
            raise ValueError(f"rows {r0}:{r1} of {name} {shape} into {out.shape}")
        np_dtype = NUMPY_DTYPES[e.dtype]
        row_bytes = e.info.nbytes // max(shape[0], 1)
        read_rows(e.file, e.start + r0 * row_bytes, r1 - r0, row_bytes, rest, out.dtype,
                  lambda b, n: b.view(np_dtype).reshape((n, *rest)), out=out,
                  into=lambda b, dest: cast_into(b, e.dtype, dest))
        scale = self._scales.get(name)
        if scale is not None:
            s = self.read(scale, dtype=np.float32)
            if len(shape) >= 3:  # stacked (E, out, in): one scale grid per leading index
                return apply_block_scale(out, s[r0:r1])
            if r0 % BLOCK:
                raise ValueError(f"rows of a block-scaled tensor must start at a multiple of {BLOCK}, not {r0}")
            apply_block_scale(out, s[r0 // BLOCK: -(-r1 // BLOCK)])
        return out

    def _read_into(self, name: str, out: np.ndarray) -> np.ndarray:
        e = self._entries.get(name)
        if e is None:
            raise KeyError(name)
        np_dtype = NUMPY_DTYPES[e.dtype]
        shape = e.info.shape
        if out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"out is {out.dtype} {out.shape}, expected contiguous float32 {shape}")
        if len(shape) >= 1 and shape[0] > 1 and e.info.nbytes > CHUNK_BYTES:
            rows, rest = shape[0], shape[1:]
            return read_rows(e.file, e.start, rows, e.info.nbytes // rows, rest, out.dtype,
                             lambda b, n: b.view(np_dtype).reshape((n, *rest)), out=out,
                             into=lambda b, dest: cast_into(b, e.dtype, dest))

        def fill(buf: np.ndarray) -> np.ndarray:
            cast_into(buf, e.dtype, out)  # the cast astype uses (FP8: the same values from a table)
            return out

        return with_range(e.file, e.start, e.info.nbytes, fill)

    @property
    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._meta:
            out["__metadata__"] = self._meta
        out["files"] = [f.name for f in self.files]
        if self._warnings:
            out["warnings"] = list(self._warnings)
        return out

    @property
    def claims(self) -> dict[str, Any]:
        claims = hfdir.hf_claims(self._side, self._config)
        for key, value in sorted(self._meta.items()) if isinstance(self._meta, dict) else []:
            if key != "shards" and key.lower() not in {"format"}:
                claims[f"safetensors.{key}"] = value
        return claims
