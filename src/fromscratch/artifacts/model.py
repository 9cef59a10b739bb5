"""``open_model``: any model location -> one lazily read, canonically named ``Model``.

A location is a directory in Hugging Face layout, a single weights file, or a
hub id found in the local Hugging Face cache (never the network). The format is
decided from the directory's contents or the file's magic bytes, not trusted
from the extension alone, and anything unrecognised, refused or broken raises
``InputError`` (exit 2 at the command line).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.artifacts import canonical
from fromscratch.artifacts._io import read_prefix
from fromscratch.artifacts.base import CanonicalTensor, Component, ModelReader, TensorInfo
from fromscratch.constants import hub_cache_dirs as hub_cache_dirs  # re-exported
from fromscratch.errors import InputError

ZIP_MAGIC = b"PK\x03\x04"
GGUF_MAGIC = b"GGUF"


class Model:
    """A checkpoint seen through canonical component names.

    Wraps one ``ModelReader``; ``components()`` groups its tensors by the
    canonical component names and ``load()`` returns one canonical tensor as float32 in
    Hugging Face orientation (fused tensors sliced). Use as a context manager.
    """

    def __init__(self, reader: ModelReader, *, resolved: dict[str, Any] | None = None) -> None:
        self.reader = reader
        self._resolved = resolved or {}
        self._components: list[Component] | None = None
        self._cache: tuple[str, np.ndarray] | None = None

    # identity
    @property
    def path(self) -> Path:
        return self.reader.path

    @property
    def format(self) -> str:
        return self.reader.format

    # headers
    def tensor_infos(self) -> list[TensorInfo]:
        return self.reader.tensor_infos()

    def components(self) -> list[Component]:
        if self._components is None:
            self._components = canonical.build_components(
                self.reader.tensor_infos(), scheme=self.reader.naming, config=self.reader.config,
                aliases=self.reader.name_aliases())
        return self._components

    @property
    def parameters(self) -> int:
        return self.reader.parameters()

    # values
    def load(self, t: CanonicalTensor, out: np.ndarray | None = None) -> np.ndarray:
        """One canonical tensor as float32 (a fused tensor's slice when ``t.rows`` is set).

        ``out``: a float32 buffer of the tensor's shape that the reader may decode
        into (the returned array is then ``out``); ignored where the reader or a
        fused slice cannot use it, so the caller must use the returned array.
        """
        if t.rows is None:
            if out is not None and self.reader.reads_into:
                return self.reader.read_into(t.source_name, out)
            return self.reader.read(t.source_name, dtype=np.float32)
        if self._cache is not None and self._cache[0] == t.source_name:
            full = self._cache[1]
        else:
            full = self.reader.read(t.source_name, dtype=np.float32)
            self._cache = (t.source_name, full)
        start, stop = t.rows
        return np.array(full[start:stop], copy=True)

    @property
    def reads_rows(self) -> bool:
        """True where ``load_rows`` reads only the rows asked for."""
        return bool(self.reader.reads_rows)

    def load_rows(self, t: CanonicalTensor, r0: int, r1: int, out: np.ndarray) -> np.ndarray:
        """Rows ``r0:r1`` of a whole canonical tensor (``t.rows`` None) as float32 into ``out``."""
        if t.rows is not None:
            raise ValueError("load_rows reads whole stored tensors, not fused slices")
        return self.reader.read_rows_into(t.source_name, r0, r1, out)

    def read(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        """A stored tensor by its stored name."""
        return self.reader.read(name, dtype=dtype)

    # descriptive
    @property
    def config(self) -> dict[str, Any] | None:
        return self.reader.config

    @property
    def side_files(self) -> dict[str, Path]:
        return self.reader.side_files

    @property
    def embedded_tokenizer(self) -> dict[str, Any] | None:
        return self.reader.embedded_tokenizer

    @property
    def claims(self) -> dict[str, Any]:
        return self.reader.claims

    @property
    def metadata(self) -> dict[str, Any]:
        meta = dict(self.reader.metadata)
        if self._resolved:
            meta["resolved"] = dict(self._resolved)
        return meta

    def close(self) -> None:
        self._cache = None
        self.reader.close()

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Model({str(self.path)!r}, format={self.format!r})"


# ---------------------------------------------------------------------------
# Location resolution

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+(?:@[\w.\-]+)?$")


def resolve_hub_id(spec: str, *, repo_type: str = "model") -> tuple[Path, dict[str, Any]] | None:
    """``org/name[@revision]`` -> a snapshot directory of the local cache, or None.

    Only the cache is consulted (no network). ``refs/<revision>`` gives the
    commit; its content is checked to be a plain commit id so a crafted cache
    cannot point outside ``snapshots/``. ``repo_type`` is ``model`` or
    ``dataset`` (the benchmark loaders read datasets from the same cache).
    """
    if not _HUB_ID.match(spec) or repo_type not in ("model", "dataset"):
        return None
    repo, _, revision = spec.partition("@")
    revision = revision or "main"
    folder = f"{repo_type}s--" + repo.replace("/", "--")
    for cache in hub_cache_dirs():
        base = cache / folder
        if not base.is_dir():
            continue
        commit = None
        ref = base / "refs" / revision
        if ref.is_file():
            text = ref.read_text(encoding="utf-8", errors="replace").strip()
            if re.fullmatch(r"[0-9a-fA-F]{7,64}", text):
                commit = text
        elif re.fullmatch(r"[0-9a-fA-F]{7,64}", revision):
            commit = revision
        snaps = base / "snapshots"
        if commit is None and revision == "main" and snaps.is_dir():
            entries = sorted(p.name for p in snaps.iterdir() if p.is_dir())
            if len(entries) == 1:
                commit = entries[0]
        if commit is None:
            continue
        snap = snaps / commit
        if snap.is_dir():
            return snap, {"hub_id": repo, "revision": revision, "commit": commit, "cache": str(cache)}
    return None


def open_model(location: str | os.PathLike[str], *, headers_only: bool = False) -> Model:
    """Open a model location lazily (headers only) or raise ``InputError``.

    ``headers_only=True`` accepts a GGUF whose tensor data is cut off (a header
    part of a split download): metadata and tokenizer are readable, the missing
    tensors raise ``InputError`` when read. Without it such a file is refused.
    """
    spec = os.fspath(location)
    path = Path(spec).expanduser()
    resolved: dict[str, Any] = {}
    if not path.exists():
        hit = resolve_hub_id(spec) if not spec.startswith((".", "/", "~")) else None
        if hit is None:
            if _HUB_ID.match(spec):
                raise InputError(spec, "no such file or directory, and not found in the local Hugging Face "
                                       "cache (hub ids are resolved offline only)")
            raise InputError(spec, "no such file or directory")
        path, resolved = hit
    if path.is_dir():
        reader = _open_dir(path, headers_only=headers_only)
    elif path.is_file():
        reader = _open_file(path, side_dir=path.parent, headers_only=headers_only)
    else:
        raise InputError(path, "not a regular file or directory")
    return Model(reader, resolved=resolved)


def _natural(p: Path) -> list:
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", p.name)]


def _plain_name(name: Any) -> bool:
    return isinstance(name, str) and name not in {"", ".", ".."} and "/" not in name and "\\" not in name and "\x00" not in name


def _safetensors_dir(d: Path) -> ModelReader | None:
    from fromscratch.artifacts.safetensors_reader import SafetensorsReader, read_weight_map

    files = sorted((p for p in d.glob("*.safetensors") if p.is_file()), key=_natural)
    if not files:
        return None
    index = d / "model.safetensors.index.json"
    if index.is_file():
        shards: list[Path] | None = None
        try:
            wm = read_weight_map(index)
            if wm and all(_plain_name(v) for v in wm.values()):
                names = sorted(set(wm.values()), key=lambda n: _natural(Path(n)))
                if all((d / n).is_file() for n in names):
                    shards = [d / n for n in names]
        except InputError:
            shards = None
        if shards is None:  # unusable index: scan the shards themselves
            shards = [f for f in files if f.name.startswith("model")] or files
        return SafetensorsReader(d, shards, side_dir=d, index=index)
    if (d / "model.safetensors").is_file():
        return SafetensorsReader(d, [d / "model.safetensors"], side_dir=d)
    model_files = [f for f in files if f.name.startswith("model")]
    chosen = model_files or [f for f in files if not f.name.startswith("consolidated")] or files
    return SafetensorsReader(d, chosen, side_dir=d)


def _open_dir(d: Path, *, headers_only: bool = False) -> ModelReader:
    try:
        entries = list(d.iterdir())
    except OSError as exc:
        raise InputError(d, f"cannot list directory ({exc.strerror or exc})") from exc
    if not entries:
        raise InputError(d, "empty directory: no model weights found")
    st = _safetensors_dir(d)
    if st is not None:
        return st
    bins = sorted((p for p in d.glob("pytorch_model*.bin") if p.is_file()), key=_natural)
    if bins:
        from fromscratch.artifacts.torch_reader import TorchReader

        return TorchReader(d, bins, side_dir=d)
    ggufs = sorted(p for p in d.glob("*.gguf") if p.is_file())
    if len(ggufs) == 1:
        return _open_file(ggufs[0], side_dir=d, headers_only=headers_only)
    if len(ggufs) > 1:
        raise InputError(d, f"directory holds {len(ggufs)} GGUF files ({', '.join(p.name for p in ggufs[:4])}); "
                            "name the one to read")
    for cand in (d / "model.onnx", d / "onnx" / "model.onnx"):
        if cand.is_file():
            return _open_file(cand, side_dir=d)
    onnxs = sorted(p for p in d.glob("*.onnx") if p.is_file())
    if len(onnxs) == 1:
        return _open_file(onnxs[0], side_dir=d)
    if (d / "model.bin").is_file():
        return _open_file(d / "model.bin", side_dir=d)
    torchs = sorted(p for p in list(d.glob("*.pt")) + list(d.glob("*.pth")) + list(d.glob("*.bin")) if p.is_file())
    if len(torchs) == 1:
        return _open_file(torchs[0], side_dir=d)
    raise InputError(d, "no model weights found (expected *.safetensors, pytorch_model*.bin, *.gguf, "
                        "*.onnx or a CTranslate2 model.bin)")


def _looks_ct2(head: bytes) -> bool:
    """CTranslate2 model.bin: u32 version (1..20), then a u16-length spec name."""
    if len(head) < 8:
        return False
    version = int.from_bytes(head[:4], "little")
    if not 1 <= version <= 20:
        return False
    if version < 2:
        return True
    n = int.from_bytes(head[4:6], "little")
    name = head[6:6 + n]
    return 0 < n <= 256 and len(name) >= min(n, len(head) - 6) and all(32 <= b < 127 or b == 0 for b in name)


def _open_file(p: Path, *, side_dir: Path | None, headers_only: bool = False) -> ModelReader:
    head = read_prefix(p, 64)
    suffix = p.suffix.lower()
    if not head:
        raise InputError(p, "empty file")
    if head.startswith(b"E5S1"):
        from fromscratch.artifacts.e5s1_reader import E5S1Reader

        return E5S1Reader(p, side_dir=side_dir)
    if head.startswith(GGUF_MAGIC):
        from fromscratch.artifacts.gguf_reader import GGUFReader

        return GGUFReader(p, side_dir=side_dir, headers_only=headers_only)
    if suffix == ".gguf":
        raise InputError(p, f"not a GGUF file (wrong magic {head[:4]!r}, expected b'GGUF')")
    if suffix == ".safetensors":
        from fromscratch.artifacts.safetensors_reader import SafetensorsReader

        return SafetensorsReader(p, [p], side_dir=side_dir)
    if head.startswith(ZIP_MAGIC) and suffix != ".onnx":
        from fromscratch.artifacts.torch_reader import TorchReader

        return TorchReader(p, [p], side_dir=side_dir)
    if suffix == ".onnx":
        from fromscratch.artifacts.onnx_reader import OnnxReader

        return OnnxReader(p, side_dir=side_dir)
    if suffix in {".bin", ".pt", ".pth", ".ckpt"}:
        if head[:1] == b"\x80" or head[:1] in {b"(", b"}", b"]"}:
            raise InputError(p, "legacy (non-zip) pickle checkpoint refused: it cannot be read without "
                                "executing pickle code; re-save it as safetensors")
        if head.startswith(b"\x1f\x8b") or head[257:262] == b"ustar":
            raise InputError(p, "legacy tar/gzip checkpoint refused; re-save it as safetensors")
        if suffix == ".bin" and _looks_ct2(head):
            from fromscratch.artifacts.ct2_reader import CT2Reader

            return CT2Reader(p, side_dir=side_dir)
        raise InputError(p, "unrecognised checkpoint format (not a PyTorch zip, CTranslate2 model.bin or pickle)")
    # no telling extension: go by content
    if len(head) >= 9 and int.from_bytes(head[:8], "little") < (1 << 27) and head[8:9] == b"{":
        from fromscratch.artifacts.safetensors_reader import SafetensorsReader

        return SafetensorsReader(p, [p], side_dir=side_dir)
    raise InputError(p, "unrecognised model format (expected safetensors, GGUF, PyTorch zip, ONNX or CTranslate2)")
