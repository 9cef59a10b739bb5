"""Per-model lineage fingerprints: one streaming pass, cached, far smaller than the model.

Comparing a candidate with many references must not re-read the candidate, and
two models must never be in memory together. So each model is read once,
tensor by tensor, into a fingerprint holding only what the statistics need:

* for every tensor: shape, dtype, SHA-256 of a fixed row sample of its float32
  values, RMS, and the values at 1,024 positions fixed by the shape (the
  ``identical`` tier);
* per residual stream (text, vision, audio tower): an **anchor table** -- rows
  in a model-independent basis (tokens chosen by a hash of their string, pixel
  features of the patch embedding, mel features of the first audio
  convolution, learned position rows), columns in the model's own residual
  coordinates -- and a set ``S`` of at most 256 residual coordinates
  (the first 128, plus up to 128 chosen by a locality-sensitive hash of their
  anchor column, so that a permuted copy selects the same coordinates);
* for every block matrix: its hidden units' weights on the coordinates in
  ``S`` (rows of q/k/v/gate/up/router, columns of o/down), as int8 with one
  scale per unit (the tests normalise units anyway);
* learned vectors indexed by residual coordinate (norm weights) in full.

Cached under ``<cache>/fingerprints`` keyed by the files' names, sizes and
modification times plus ``METHOD_VERSION``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special

from fromscratch.artifacts.hfdir import parse_json
from fromscratch.lineage import responses

METHOD_VERSION = "lineage-fp/10"
ANCHOR_TOKENS = 2048          # expected anchor tokens kept per model
ANCHOR_IDS = 1024             # expected rows kept by token id as well (a subset of a string-less model's)
FIXED_COORDS = 96             # residual coordinates always kept (0..95)
HASHED_COORDS = 96            # expected extra coordinates chosen by content hash
STRINGLESS_COORDS = 1024      # coordinates a model without token strings keeps (all of them up to this width)
SKETCH_POSITIONS = 1024
MAX_POSITION_ROWS = 1024

ANCHOR_PARTS = ["tokens", "positions", "patch", "conv1", "ids"]
INPUT_ROLES = {"q", "k", "v", "gate", "up", "router", "q_a", "kv_a"}
OUTPUT_ROLES = {"o", "down"}
MATRIX_KINDS = {"attention", "mlp", "experts", "router", "cross_attention"}


def cache_root() -> Path:
    """Where fingerprints are cached: ``$FROMSCRATCH_LINEAGE_CACHE`` or the project cache."""
    from fromscratch.constants import lineage_cache

    return lineage_cache()


@dataclass
class Fingerprint:
    """Everything lineage needs from one model, in memory or on disk."""

    meta: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    # -- persistence (no pickle: plain arrays plus JSON bytes)
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        payload = dict(self.arrays)
        payload["__meta__"] = np.frombuffer(json.dumps(self.meta, sort_keys=True).encode(), dtype=np.uint8)
        np.savez(buf, **payload)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(buf.getvalue())
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Fingerprint:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
            meta = parse_json(bytes(z["__meta__"]), path)
        return cls(meta, arrays)

    # -- accessors
    def components(self) -> list[dict[str, Any]]:
        return self.meta["components"]

    def tower_dim(self, tower: str) -> int | None:
        t = self.meta["towers"].get(tower)
        return None if t is None else int(t["dim"])


def _files_of(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file())
    return [path]


def cache_key(path: Path) -> str:
    h = hashlib.sha256(METHOD_VERSION.encode())
    h.update(str(path.resolve()).encode())
    for f in _files_of(path):
        st = f.stat()
        h.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


@functools.lru_cache(maxsize=256)
def _sketch_positions(shape: tuple[int, ...]) -> np.ndarray:
    """The 1,024 sampled positions of a shape (memoised: every block repeats the same shapes; read-only)."""
    pos = _sketch_positions_uncached(shape)
    pos.flags.writeable = False
    return pos


def _sketch_positions_uncached(shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape)) if shape else 1
    seed = int.from_bytes(hashlib.blake2b(repr(tuple(shape)).encode(), digest_size=8).digest(), "little")
    rng = np.random.default_rng(seed)
    if n <= SKETCH_POSITIONS:
        return np.arange(n)
    return np.sort(rng.choice(n, size=SKETCH_POSITIONS, replace=False))


def _key_normal(keys: np.ndarray) -> np.ndarray:
    """A standard normal value per anchor key, the same in every model."""
    mixed = (keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(11)
    u = (mixed.astype(np.float64) + 0.5) / float(1 << 53)
    return special.ndtri(u)


def _select_coords(anchor_keys: np.ndarray, rows: np.ndarray, string_less: bool = False) -> np.ndarray:
    """The residual coordinates kept for block profiles (see module docstring).

    Models with strings hash coordinates by string-keyed rows, string-less ones by
    id-keyed rows; the two choices are unrelated (SmolLM2, permuted: 49 scored
    coordinates left), so a string-less model keeps all up to ``STRINGLESS_COORDS``.
    """
    d = rows.shape[1]
    if d <= FIXED_COORDS + HASHED_COORDS or (string_less and d <= STRINGLESS_COORDS):
        return np.arange(d)
    fixed = np.arange(FIXED_COORDS)
    if rows.shape[0] < 16:
        return fixed
    hashed = STRINGLESS_COORDS - FIXED_COORDS if string_less else HASHED_COORDS
    r = _key_normal(anchor_keys)
    a = rows.astype(np.float64)
    a = a - a.mean(axis=0, keepdims=True)
    s = np.linalg.norm(a, axis=0)
    s[s == 0] = 1.0
    proj = np.abs(r @ (a / s))   # ~|N(0,1)| for a unit-norm column unrelated to the keys
    rate = hashed / (d - FIXED_COORDS)
    thr = special.ndtri(1 - rate / 2)
    extra = np.flatnonzero(proj > thr)
    return np.union1d(fixed, extra)


def _stable_key(*parts: Any) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little") >> 1


def unpack_profile(p: np.ndarray) -> np.ndarray:
    """Inverse of ``fingerprint_q8.q8``: float32 profiles (units x coordinates)."""
    if p.dtype != np.int8:
        return p.astype(np.float32)
    scale = np.ascontiguousarray(p[:, :4]).view(np.float32)
    return np.multiply(p[:, 4:], scale, dtype=np.float32)


#: at most this many bytes of each tensor go through SHA-256 (a fixed row sample)
HASH_BYTES = 1 << 20


def _hash_tensor(arr: np.ndarray) -> str:
    """SHA-256 of the shape and a fixed sample of rows of the float32 values.

    Hashing every byte would cost more than reading the file; a row sample
    (every k-th row, at most ``HASH_BYTES``) identifies a copied tensor just as
    well, and a match is only accepted together with equal RMS (see compare).
    """
    a = np.ascontiguousarray(arr, dtype=np.float32)
    rows = a.reshape(a.shape[0], -1) if a.ndim >= 2 else a.reshape(1, -1)
    step = max(1, -(-rows.nbytes // HASH_BYTES))
    h = hashlib.sha256(repr(tuple(a.shape)).encode())
    h.update(np.ascontiguousarray(rows[::step]).view(np.uint8).reshape(-1))
    return h.hexdigest()


def build_fingerprint(location: str | Path, *, progress: Any = False, use_cache: bool = True) -> Fingerprint:
    """Read a model once and return (and cache) its fingerprint."""
    from fromscratch.artifacts import open_model

    path = Path(location)
    cpath = cache_root() / "fingerprints" / f"{cache_key(path)}.npz" if path.exists() else None
    if use_cache and cpath is not None and cpath.exists():
        try:
            return Fingerprint.load(cpath)
        except Exception:  # a damaged cache entry is rebuilt, never trusted
            cpath.unlink(missing_ok=True)
    with open_model(path) as model:
        fp = _fingerprint_model(model, progress=progress)
    if use_cache and cpath is not None:
        try:
            fp.save(cpath)
        except OSError:
            pass
    return fp


def _progress(total: int, enabled: Any, label: str):
    """(advance, owned display or None); ``enabled`` is False, True (own bar) or shared `progress.Bars`."""
    from fromscratch.progress import Bars, progress_bars

    if not enabled:
        return None, None
    if isinstance(enabled, Bars):
        return enabled.task(label, total), None
    display = progress_bars(True)
    return display.__enter__().task(label, total), display


def _fingerprint_model(model: Any, *, progress: Any = False) -> Fingerprint:
    """The whole pass in this process: context, every other tensor, metadata (see ``fingerprint_pass``)."""
    from fromscratch.lineage import fingerprint_pass as P
    from fromscratch.lineage.fingerprint_rows import Scratch

    scratch = Scratch(model)
    ctx = P.context(model, scratch)
    advance, display = _progress(len(ctx.todo), progress, f"fingerprint {Path(str(model.path)).name}")
    try:
        part = P.block_pass(model, ctx, advance=advance, scratch=scratch)
    finally:
        if display is not None:
            display.__exit__(None, None, None)
    return P.finish(ctx, [part])


def _record_response(arrays: dict, t, arr: np.ndarray, probe_rows: np.ndarray,
                     gains: dict[tuple[str, str], np.ndarray], prefix: str = "resp") -> None:
    """The token-response profile of one block matrix (see ``responses``); ``resp_id`` for id-keyed probes."""
    norm = responses.norm_component(t.component)
    gain = gains.get((norm, responses.NORM_OF.get(t.role, ""))) if norm else None
    if gain is not None and gain.shape[0] != probe_rows.shape[1]:
        gain = None
    got = responses.response(arr, t.role, probe_rows, gain)
    if got is not None:
        arrays[f"{prefix}|{t.component}|{t.role}|{t.expert}"] = got


def _plain(obj: Any) -> Any:
    try:
        return json.loads(json.dumps(obj, default=str))
    except (TypeError, ValueError):
        return {}
