"""PyTorch zip checkpoints (``.bin``/``.pt``/``.pth``) read without torch and
without executing pickle code.

A checkpoint written by ``torch.save`` is a zip: ``<root>/data.pkl`` (a pickle
describing the object, with tensors as persistent references) and one stored
member ``<root>/data/<key>`` per storage. A pickle is a program; loading it with
``pickle.load`` lets the file call any importable function (the classic
``os.system`` payload). Here the unpickler admits an explicit allow-list of
globals and nothing else: ``collections.OrderedDict``, torch's tensor and
parameter rebuild functions and storage type names, all replaced by inert
stand-ins that only *describe* tensors. Any other global is refused with an
``UnsafeInputError`` naming it, before anything runs. Storage bytes are then
mapped per tensor straight from the (uncompressed) zip member.

Also refused: zip members with absolute paths, ``..`` or backslashes; compressed
storage members; storages or views extending past their member; legacy non-zip
pickles (decided by the caller from the magic bytes).
"""

from __future__ import annotations

import collections
import io
import pickle
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.artifacts import hfdir
from fromscratch.artifacts._dtypes import NUMPY_DTYPES, convert
from fromscratch.artifacts._io import CHUNK_BYTES, file_size, read_prefix, read_rows, with_range
from fromscratch.artifacts.base import ModelReader, TensorInfo
from fromscratch.errors import InputError, UnsafeInputError

MAX_PICKLE = 256 * 1024 * 1024

_STORAGE_DTYPES = {
    "FloatStorage": "F32", "DoubleStorage": "F64", "HalfStorage": "F16", "BFloat16Storage": "BF16",
    "LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8",
    "ByteStorage": "U8", "BoolStorage": "BOOL", "Float8_e4m3fnStorage": "F8_E4M3",
    "Float8_e5m2Storage": "F8_E5M2", "UInt16Storage": "U16", "UInt32Storage": "U32", "UInt64Storage": "U64",
}
_TORCH_DTYPES = {
    "float32": "F32", "float": "F32", "float64": "F64", "double": "F64", "float16": "F16", "half": "F16",
    "bfloat16": "BF16", "int64": "I64", "long": "I64", "int32": "I32", "int": "I32", "int16": "I16",
    "int8": "I8", "uint8": "U8", "bool": "BOOL", "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
}


class _StorageType:
    __slots__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype


class _StorageRef:
    __slots__ = ("key", "dtype", "numel")

    def __init__(self, key: str, dtype: str, numel: int) -> None:
        self.key, self.dtype, self.numel = key, dtype, numel


class _TensorRef:
    """What a tensor would be: storage, offset, size, stride. No data is touched."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage: _StorageRef, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _ints(v: Any, what: str) -> tuple[int, ...]:
    if not isinstance(v, (tuple, list)) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise ValueError(f"bad tensor {what} {v!r}")
    return tuple(int(x) for x in v)


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, *_rest: Any) -> _TensorRef:
    if not isinstance(storage, _StorageRef) or not isinstance(storage_offset, int):
        raise ValueError("tensor rebuilt from something that is not a storage")
    return _TensorRef(storage, int(storage_offset), _ints(size, "size"), _ints(stride, "stride"))


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> _TensorRef:
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data: Any, *_rest: Any) -> Any:
    return data


def _codecs_encode(text: Any, encoding: Any = "utf-8", *_rest: Any) -> bytes:
    # protocol-2 pickles spell a bytes literal as _codecs.encode(str, "latin1")
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise ValueError("unexpected _codecs.encode call")
    return text.encode(encoding)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): tuple,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("_codecs", "encode"): _codecs_encode,
}


class _SafeUnpickler(pickle.Unpickler):
    """An unpickler whose every global is checked against ``_ALLOWED``."""

    def __init__(self, data: bytes, path: Path) -> None:
        super().__init__(io.BytesIO(data))
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "torch" and name in _TORCH_DTYPES:
            return _TORCH_DTYPES[name]
        raise UnsafeInputError(self.path, f"pickle refers to blocked global {module}.{name}; refused "
                                          "(loading it could execute code)")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise ValueError(f"unsupported persistent id {pid!r:.80}")
        stype, key, _location, numel = pid[1], pid[2], pid[3], pid[4]
        if isinstance(stype, _StorageType):
            dtype = stype.dtype
        elif isinstance(stype, str) and stype in NUMPY_DTYPES:
            dtype = stype
        else:
            raise ValueError(f"unsupported storage type {stype!r:.60}")
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,128}", key) or ".." in key:
            raise ValueError(f"invalid storage key {key!r:.60}")
        if not isinstance(numel, int) or numel < 0:
            raise ValueError("invalid storage size")
        return _StorageRef(key, dtype, numel)


def check_zip_names(path: Path, zf: zipfile.ZipFile) -> None:
    """Refuse members that would escape a directory if extracted (zip-slip)."""
    for info in zf.infolist():
        n = info.filename
        parts = re.split(r"[/\\]", n)
        if (n.startswith(("/", "\\")) or "\\" in n or re.match(r"^[A-Za-z]:", n) or ".." in parts
                or "\x00" in n):
            raise UnsafeInputError(path, f"zip member {n!r} has an unsafe path (absolute or '..'); refused")


def _member_data_offset(path: Path, fh: Any, info: zipfile.ZipInfo, size: int) -> int:
    """Absolute offset of a stored member's bytes: after its local header."""
    if info.header_offset + 30 > size:
        raise InputError(path, f"zip member {info.filename!r}: local header beyond the end of the file")
    fh.seek(info.header_offset)
    hdr = fh.read(30)
    if len(hdr) != 30 or hdr[:4] != b"PK\x03\x04":
        raise InputError(path, f"zip member {info.filename!r}: bad local header")
    n, m = struct.unpack("<HH", hdr[26:30])
    start = info.header_offset + 30 + n + m
    if start + info.file_size > size:
        raise InputError(path, f"zip member {info.filename!r}: data runs past the end of the file (truncated?)")
    return start


class _Shard:
    def __init__(self, path: Path) -> None:
        self.path = path
        size = file_size(path)
        head = read_prefix(path, 4)
        if head != b"PK\x03\x04":
            if head[:1] == b"\x80":
                raise InputError(path, "legacy (non-zip) pickle checkpoint refused: it cannot be read without "
                                       "executing pickle code; re-save it as safetensors")
            raise InputError(path, "not a PyTorch zip checkpoint (no zip signature)")
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise InputError(path, f"not a readable zip archive ({exc})") from exc
        with zf:
            check_zip_names(path, zf)
            pkls = [i for i in zf.infolist() if i.filename == "data.pkl" or i.filename.endswith("/data.pkl")]
            pkls = [i for i in pkls if i.filename.count("/") <= 1]
            if len(pkls) != 1:
                raise InputError(path, "zip archive is not a PyTorch checkpoint (no single <root>/data.pkl)")
            pinfo = pkls[0]
            if pinfo.file_size > MAX_PICKLE:
                raise InputError(path, f"data.pkl is {pinfo.file_size} bytes; refused")
            self.prefix = pinfo.filename[: -len("data.pkl")]
            try:
                data = zf.read(pinfo)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
                raise InputError(path, f"cannot read data.pkl ({exc})") from exc
            order = "little"
            bo = self.prefix + "byteorder"
            if bo in zf.NameToInfo:
                order = zf.read(bo)[:16].decode("ascii", "replace").strip() or "little"
            self.big_endian = order == "big"
            self.members: dict[str, zipfile.ZipInfo] = {
                i.filename[len(self.prefix) + 5:]: i for i in zf.infolist()
                if i.filename.startswith(self.prefix + "data/")}
        try:
            self.obj = _SafeUnpickler(data, path).load()
        except UnsafeInputError:
            raise
        except InputError:
            raise
        except RecursionError as exc:
            raise InputError(path, "pickle nests too deeply") from exc
        except Exception as exc:  # noqa: BLE001 - any failure of a hostile pickle is bad input
            raise InputError(path, f"corrupt or unsupported checkpoint pickle ({type(exc).__name__}: {exc})"[:300]) from exc
        self.size = size
        self._offsets: dict[str, int] = {}

    def storage_offset(self, key: str) -> tuple[int, int]:
        info = self.members.get(key)
        if info is None:
            raise InputError(self.path, f"storage {key!r} referenced by the pickle is missing from the archive")
        if info.compress_type != zipfile.ZIP_STORED:
            raise InputError(self.path, f"storage member {info.filename!r} is compressed; refused "
                                        "(PyTorch stores tensor data uncompressed)")
        if key not in self._offsets:
            with open(self.path, "rb") as fh:
                self._offsets[key] = _member_data_offset(self.path, fh, info, self.size)
        return self._offsets[key], info.file_size


_CONTAINER_KEYS = ("state_dict", "model_state_dict", "model", "module", "state", "net", "network",
                   "params", "weights", "model_state", "ema", "teacher", "student")


def _is_tensor_dict(v: Any) -> bool:
    return isinstance(v, dict) and any(isinstance(x, _TensorRef) for x in v.values())


def _flatten(obj: Any, prefix: str, out: dict[str, _TensorRef], depth: int = 0,
             seen: set[int] | None = None) -> None:
    """Dotted names for every tensor reachable from ``obj``.

    Each container is visited once (a pickle can build shared or cyclic
    structures whose paths multiply exponentially) and depth is capped.
    """
    seen = set() if seen is None else seen
    if depth > 16 or len(out) > 1_000_000:
        return
    if isinstance(obj, _TensorRef):
        out.setdefault(prefix.rstrip("."), obj)
        return
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        for k, v in items:
            _flatten(v, f"{prefix}{k}.", out, depth + 1, seen)


def find_state_dict(obj: Any) -> tuple[dict[str, _TensorRef], dict[str, Any]]:
    """The tensor mapping inside a checkpoint object, plus its scalar side values.

    A bare state dict is used as is; a training checkpoint such as
    ``{"state_dict": {...}, "epoch": 3}`` yields its inner state dict; anything
    else is flattened to dotted names so no tensor is missed.
    """
    scalars: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (str, int, float, bool)) or v is None:
                scalars[str(k)] = v
        if not _is_tensor_dict(obj):
            for key in _CONTAINER_KEYS:
                inner = obj.get(key)
                if _is_tensor_dict(inner):
                    out: dict[str, _TensorRef] = {}
                    _flatten(inner, "", out)
                    return out, scalars
    out = {}
    _flatten(obj, "", out)
    return out, scalars


class TorchReader(ModelReader):
    """One or several PyTorch zip checkpoints (sharded ``pytorch_model-*.bin``)."""

    format = "pytorch"

    def __init__(self, path: Path, files: list[Path], *, side_dir: Path | None = None) -> None:
        super().__init__(path)
        self.files = list(files)
        self._tensors: dict[str, tuple[_Shard, _TensorRef]] = {}
        self._scalars: dict[str, Any] = {}
        for f in self.files:
            shard = _Shard(f)
            tensors, scalars = find_state_dict(shard.obj)
            shard.obj = None  # the descriptions are kept below; drop the rest
            for k, v in scalars.items():
                self._scalars.setdefault(k, v)
            for name, ref in tensors.items():
                if name in self._tensors:
                    raise InputError(f, f"tensor {name!r} appears in two shards")
                self._validate(shard, name, ref)
                self._tensors[name] = (shard, ref)
        if not self._tensors:
            raise InputError(self.path, "the checkpoint holds no tensors")
        self._side = hfdir.side_files(side_dir)
        self._config = hfdir.load_config(self._side)

    def _validate(self, shard: _Shard, name: str, ref: _TensorRef) -> None:
        st = ref.storage
        item = NUMPY_DTYPES[st.dtype].itemsize
        _, member_size = shard.storage_offset(st.key)
        if st.numel * item > member_size:
            raise InputError(shard.path, f"storage {st.key!r} claims {st.numel} elements but holds "
                                         f"{member_size} bytes")
        if len(ref.size) != len(ref.stride) or any(s < 0 for s in ref.size) or any(s < 0 for s in ref.stride):
            raise InputError(shard.path, f"tensor {name!r}: invalid size/stride {ref.size}/{ref.stride}")
        if ref.offset < 0:
            raise InputError(shard.path, f"tensor {name!r}: negative storage offset")
        if all(s > 0 for s in ref.size):
            extent = 1 + sum((s - 1) * t for s, t in zip(ref.size, ref.stride))
            if ref.offset + extent > st.numel:
                raise InputError(shard.path, f"tensor {name!r}: view [{ref.offset}, {ref.offset + extent}) "
                                             f"exceeds its storage of {st.numel} elements")

    def tensor_infos(self) -> list[TensorInfo]:
        out = []
        for name, (_, ref) in self._tensors.items():
            n = 1
            for s in ref.size:
                n *= s
            out.append(TensorInfo(name, ref.size, ref.storage.dtype, n * NUMPY_DTYPES[ref.storage.dtype].itemsize))
        return out

    def read(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        entry = self._tensors.get(name)
        if entry is None:
            raise KeyError(name)
        shard, ref = entry
        np_dtype = NUMPY_DTYPES[ref.storage.dtype]
        if shard.big_endian:
            np_dtype = np_dtype.newbyteorder(">")
        item = np_dtype.itemsize
        base, _ = shard.storage_offset(ref.storage.key)
        if not all(s > 0 for s in ref.size):
            return np.zeros(ref.size, dtype=np_dtype if dtype is None else dtype)
        extent = 1 + sum((s - 1) * t for s, t in zip(ref.size, ref.stride))
        contiguous = list(ref.stride) == [int(np.prod(ref.size[i + 1:])) for i in range(len(ref.size))]
        if dtype is not None and contiguous and len(ref.size) >= 1 and extent * item > CHUNK_BYTES:
            rows, rest = ref.size[0], ref.size[1:]
            return read_rows(shard.path, base + ref.offset * item, rows, extent * item // rows, rest,
                             np.dtype(dtype), lambda b, n: b.view(np_dtype).reshape((n, *rest)))

        def conv(buf: np.ndarray) -> np.ndarray:
            flat = buf.view(np_dtype)
            view = np.lib.stride_tricks.as_strided(flat, shape=ref.size, strides=tuple(t * item for t in ref.stride),
                                                   writeable=False)
            out = convert(view, dtype)
            return out.astype(out.dtype.newbyteorder("=")) if out.dtype.byteorder == ">" else out

        return with_range(shard.path, base + ref.offset * item, extent * item, conv)

    @property
    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"files": [f.name for f in self.files]}
        if self._scalars:
            out["checkpoint"] = dict(self._scalars)
        return out

    @property
    def claims(self) -> dict[str, Any]:
        claims = {f"checkpoint.{k}": v for k, v in self._scalars.items()}
        claims.update(hfdir.hf_claims(self._side, self._config))
        return claims
