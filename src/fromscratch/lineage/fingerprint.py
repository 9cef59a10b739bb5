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

from fromscratch.lineage import responses
from fromscratch.lineage.fingerprint_q8 import q8 as _q8
from fromscratch.lineage.idrows import id_selection
from fromscratch.lineage.shapes import attention_shapes
from fromscratch.lineage.tokens import token_key, token_strings

METHOD_VERSION = "lineage-fp/9"
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
            meta = json.loads(bytes(z["__meta__"]).decode())
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


def _anchor_token_rows(model: Any, tensor, strings: list[str],
                       selection: dict[int, tuple[list[int], list[int]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of the hash-selected tokens; ``selection`` memoises the choice within one pass."""
    mat = model.load(tensor)
    n_rows = min(mat.shape[0], len(strings))
    memo = selection.get(n_rows)
    if memo is not None:
        ids, keys = memo
        rows = mat[np.asarray(ids, dtype=np.int64)] if ids else np.zeros((0, mat.shape[1]), np.float32)
        return np.asarray(keys, dtype=np.int64), rows.astype(np.float32), mat
    frac = min(1.0, ANCHOR_TOKENS / max(n_rows, 1))
    limit = int(frac * float(1 << 63))
    seen: set[str] = set()
    ids: list[int] = []
    keys: list[int] = []
    for i in range(n_rows):
        s = strings[i]
        if not s or s in seen:
            continue
        k = token_key(s)
        if k < limit:
            seen.add(s)
            ids.append(i)
            keys.append(k)
    selection[n_rows] = (ids, keys)
    rows = mat[np.asarray(ids, dtype=np.int64)] if ids else np.zeros((0, mat.shape[1]), np.float32)
    return np.asarray(keys, dtype=np.int64), rows.astype(np.float32), mat


def unpack_profile(p: np.ndarray) -> np.ndarray:
    """Inverse of ``_q8``: float32 profiles (units x coordinates)."""
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


class _Scratch:
    """One float32 buffer reused for every tensor of a pass.

    Fresh memory for each tensor costs a page fault and a kernel-zeroed page per
    4 KiB, about as much as decoding BF16 itself; the pass holds one tensor at a
    time and keeps no view of it, so one buffer (the size of the largest tensor)
    serves them all. Readers that cannot decode in place ignore it.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.buf: np.ndarray | None = None

    def load(self, t) -> np.ndarray:
        if t.rows is not None or not getattr(getattr(self.model, "reader", None), "reads_into", False):
            return self.model.load(t)
        n = 1
        for d in t.shape:
            n *= int(d)
        if self.buf is None or self.buf.size < n:
            self.buf = None  # free the old buffer before allocating the larger one
            self.buf = np.empty(n, dtype=np.float32)
        return self.model.load(t, out=self.buf[:n].reshape(tuple(t.shape)))


def _fingerprint_model(model: Any, *, progress: Any = False) -> Fingerprint:
    comps = model.components()
    scratch = _Scratch(model)
    arrays: dict[str, np.ndarray] = {}
    tensors_meta: dict[tuple[str, str, int | None], dict[str, Any]] = {}
    towers: dict[str, dict[str, Any]] = {}
    anchor_parts: dict[str, list[tuple[np.ndarray, np.ndarray, str]]] = {}
    strings = token_strings(model)
    selection: dict[int, tuple[list[int], list[int]]] = {}
    loaded_anchor: dict[tuple[str, str, int | None], np.ndarray] = {}

    def tkey(t) -> tuple[str, str, int | None]:
        return (t.component, t.role, t.expert)

    def record(t, arr: np.ndarray) -> None:
        pos = _sketch_positions(tuple(arr.shape))
        flat = arr.reshape(-1)
        arrays[f"sk|{t.component}|{t.role}|{t.expert}"] = flat[pos].astype(np.float32)
        sk = arrays[f"sk|{t.component}|{t.role}|{t.expert}"]
        if flat.size <= (1 << 20):
            constant = bool(flat.size > 0 and float(flat.max()) == float(flat.min()))
        else:  # a large tensor whose 1,024 sampled values are all equal is constant
            constant = bool(sk.size > 0 and float(sk.max()) == float(sk.min()))
        tensors_meta[tkey(t)] = {
            "role": t.role, "expert": t.expert, "shape": list(arr.shape), "dtype": t.dtype,
            "learned": bool(t.learned), "sha256": _hash_tensor(arr),
            "rms": float(np.linalg.norm(flat) / np.sqrt(flat.size)) if flat.size else 0.0,
            "constant": constant,
        }

    # pass 1: anchors (define each tower's residual dimension and coordinates)
    for c in comps:
        for t in c.tensors:
            if not t.learned:
                continue
            tower = t.tower
            if c.kind == "embedding" and c.name.endswith("embed_tokens") and t.role == "weight" and len(t.shape) == 2:
                if strings:
                    keys, rows, full = _anchor_token_rows(scratch, t, strings, selection)
                    anchor_parts.setdefault(tower, []).append((keys, rows, "tokens"))
                    ids, id_keys = id_selection(full.shape[0], ANCHOR_IDS)  # for checkpoints without strings
                    anchor_parts[tower].append((id_keys, full[ids].astype(np.float32), "ids"))
                    towers.setdefault(tower, {"dim": int(t.shape[1])})
                    record(t, full)
                    loaded_anchor[tkey(t)] = None  # recorded
                    del full
                else:  # no token strings: token ids are the rows (see idrows)
                    full = scratch.load(t)
                    ids, keys = id_selection(full.shape[0], ANCHOR_TOKENS)
                    anchor_parts.setdefault(tower, []).append((keys, full[ids].astype(np.float32), "ids"))
                    towers.setdefault(tower, {"dim": int(t.shape[1])})
                    record(t, full)
                    loaded_anchor[tkey(t)] = None
                    del full
            elif c.kind == "embedding" and c.name.endswith("embed_positions") and t.role == "weight" and len(t.shape) == 2:
                mat = scratch.load(t)
                n = min(mat.shape[0], MAX_POSITION_ROWS)
                keys = np.asarray([_stable_key("pos", i) for i in range(n)], dtype=np.int64)
                anchor_parts.setdefault(tower, []).append((keys, mat[:n].astype(np.float32), "positions"))
                towers.setdefault(tower, {"dim": int(t.shape[1])})
                record(t, mat)
                loaded_anchor[tkey(t)] = None
            elif c.kind == "embedding" and c.name.endswith("embed_patches") and t.role in {"patch", "conv1"} and len(t.shape) >= 2:
                mat = scratch.load(t)
                flat = mat.reshape(mat.shape[0], -1).T  # (input features, d)
                keys = np.asarray([_stable_key("feat", tower, t.role, tuple(mat.shape[1:]), i)
                                   for i in range(flat.shape[0])], dtype=np.int64)
                anchor_parts.setdefault(tower, []).append((keys, flat.astype(np.float32), t.role))
                towers.setdefault(tower, {"dim": int(mat.shape[0])})
                record(t, mat)
                loaded_anchor[tkey(t)] = None
    for tower, parts in anchor_parts.items():
        d = towers[tower]["dim"]
        parts = [p for p in parts if p[1].shape[1] == d]
        if not parts:
            continue
        keys = np.concatenate([p[0] for p in parts])
        rows = np.concatenate([p[1] for p in parts])
        arrays[f"anchor_part|{tower}"] = np.concatenate(
            [np.full(len(p[0]), ANCHOR_PARTS.index(p[2]), dtype=np.int8) for p in parts])
        arrays[f"anchor_keys|{tower}"] = keys
        arrays[f"anchor_rows|{tower}"] = rows.astype(np.float16)
        towers[tower]["anchor"] = sorted({p[2] for p in parts})
    # towers without an anchor: take the dimension from the norms / config
    cfg = model.config or {}
    for c in comps:
        if c.tower not in towers and c.kind in {"attention", "mlp"}:
            for t in c.tensors:
                if t.role in {"q", "up", "gate"} and len(t.shape) == 2:
                    towers[c.tower] = {"dim": int(t.shape[1])}
                    break
    for tower, info in towers.items():
        d = info["dim"]
        if f"anchor_rows|{tower}" in arrays:
            # the rows a model is primarily keyed by (token strings when it has them) choose the coordinates
            part = arrays[f"anchor_part|{tower}"]
            primary = part != ANCHOR_PARTS.index("ids") if np.any(part != ANCHOR_PARTS.index("ids")) else part >= 0
            coords = _select_coords(arrays[f"anchor_keys|{tower}"][primary],
                                    arrays[f"anchor_rows|{tower}"][primary].astype(np.float32), strings is None)
        else:
            coords = np.arange(min(d, FIXED_COORDS + HASHED_COORDS)) if d <= FIXED_COORDS + HASHED_COORDS else np.arange(FIXED_COORDS)
        arrays[f"coords|{tower}"] = coords.astype(np.int32)

    # probes for token-response profiles, and the norm gains in front of each block's readers
    probe: dict[str, np.ndarray] = {}
    for tower in towers:
        k, r = arrays.get(f"anchor_keys|{tower}"), arrays.get(f"anchor_rows|{tower}")
        if k is not None:
            part = arrays[f"anchor_part|{tower}"]
            sel = np.isin(part, [ANCHOR_PARTS.index("tokens")]) if np.any(part == 0) else part == ANCHOR_PARTS.index("ids")
            if int(np.sum(sel)) >= 16:
                arrays[f"probe_keys|{tower}"], probe[tower] = responses.probes(k[sel], r[sel].astype(np.float32))
    gains: dict[tuple[str, str], np.ndarray] = {}
    for c in comps:
        if c.kind == "norm" and probe:
            for t in c.tensors:
                if len(t.shape) == 1 and tkey(t) not in loaded_anchor:
                    gains[(c.name, t.role)] = np.asarray(model.load(t), np.float32).reshape(-1)

    # pass 2: everything else, one tensor at a time
    todo = [t for c in comps for t in c.tensors if tkey(t) not in loaded_anchor]
    advance, display = _progress(len(todo), progress, f"fingerprint {Path(str(model.path)).name}")
    try:
        for t in todo:
            arr = scratch.load(t)
            record(t, arr)
            tower = t.tower
            d = towers.get(tower, {}).get("dim")
            coords = arrays.get(f"coords|{tower}")
            base_role = t.role
            if tower in probe and t.kind in MATRIX_KINDS and arr.ndim == 2:
                _record_response(arrays, t, arr, probe[tower], gains)
            if (t.kind in MATRIX_KINDS or t.component.endswith(("router",))) and arr.ndim == 2 and d and coords is not None:
                if base_role in INPUT_ROLES and arr.shape[1] == d:
                    arrays[f"prof|{t.component}|{t.role}|{t.expert}"] = _q8(np.take(arr, coords, axis=1))
                elif base_role in OUTPUT_ROLES and arr.shape[0] == d:
                    arrays[f"prof|{t.component}|{t.role}|{t.expert}"] = _q8(arr[coords, :].T)
            elif t.kind == "experts" and arr.ndim == 3 and d and coords is not None:
                # stacked experts (E, out, in) stored as one tensor
                for e in range(arr.shape[0]):
                    sub = arr[e]
                    if base_role in INPUT_ROLES and sub.shape[1] == d:
                        arrays[f"prof|{t.component}|{t.role}|{e}"] = _q8(np.take(sub, coords, axis=1))
                    elif base_role in OUTPUT_ROLES and sub.shape[0] == d:
                        arrays[f"prof|{t.component}|{t.role}|{e}"] = _q8(sub[coords, :].T)
            elif t.kind == "projector" and arr.ndim == 2:
                # a projector reads one tower's residual stream: profile its units there
                for tw, info in sorted(towers.items()):
                    tc = arrays.get(f"coords|{tw}")
                    if arr.shape[1] == info["dim"] and tc is not None and tw != "text":
                        arrays[f"prof|{t.component}|{t.role}|{tw}"] = _q8(np.take(arr, tc, axis=1))
                        break
            elif arr.ndim == 1 and d and arr.shape[0] == d and not t.role.endswith("bias") and t.learned:
                arrays[f"vec|{t.component}|{t.role}|{t.expert}"] = arr.astype(np.float32)
            if t.role == "weight" and t.component.endswith("lm_head") and strings and arr.ndim == 2 and d and arr.shape[1] == d:
                keys, rows, _ = _anchor_token_rows(_Loaded(arr), None, strings, selection)
                ids, id_keys = id_selection(arr.shape[0], ANCHOR_IDS)
                arrays[f"head_keys|{tower}"] = np.concatenate([keys, id_keys])
                arrays[f"head_rows|{tower}"] = np.concatenate([rows, arr[ids]]).astype(np.float16)
                arrays[f"head_part|{tower}"] = np.asarray([ANCHOR_PARTS.index("tokens")] * len(keys)
                                                          + [ANCHOR_PARTS.index("ids")] * len(ids), dtype=np.int8)
            elif t.role == "weight" and t.component.endswith("lm_head") and not strings and arr.ndim == 2 and d \
                    and arr.shape[1] == d:
                ids, keys = id_selection(arr.shape[0], ANCHOR_TOKENS)
                arrays[f"head_keys|{tower}"] = keys
                arrays[f"head_rows|{tower}"] = arr[ids].astype(np.float16)
                arrays[f"head_part|{tower}"] = np.full(len(ids), ANCHOR_PARTS.index("ids"), dtype=np.int8)
            del arr
            if advance:
                advance(1)
    finally:
        if display is not None:
            display.__exit__(None, None, None)

    comp_meta = []
    for c in comps:
        comp_meta.append({
            "name": c.name, "kind": c.kind, "layer": c.layer, "tower": c.tower,
            "parameters": int(c.parameters), "learned_parameters": int(c.learned_parameters),
            "tensors": [tensors_meta[tkey(t)] for t in c.tensors if tkey(t) in tensors_meta],
        })
    meta = {
        "method": METHOD_VERSION, "path": str(model.path), "format": model.format,
        "parameters": int(model.parameters), "towers": towers, "components": comp_meta,
        "has_tokenizer": strings is not None, "claims": _plain(model.claims),
        "row_keys": "tokens" if strings else "ids", "attention_shapes": attention_shapes(model.config),
    }
    return Fingerprint(meta, arrays)


def _record_response(arrays: dict, t, arr: np.ndarray, probe_rows: np.ndarray,
                     gains: dict[tuple[str, str], np.ndarray]) -> None:
    """The token-response profile of one block matrix (see ``responses``)."""
    norm = responses.norm_component(t.component)
    gain = gains.get((norm, responses.NORM_OF.get(t.role, ""))) if norm else None
    if gain is not None and gain.shape[0] != probe_rows.shape[1]:
        gain = None
    got = responses.response(arr, t.role, probe_rows, gain)
    if got is not None:
        arrays[f"resp|{t.component}|{t.role}|{t.expert}"] = got


class _Loaded:
    """Adapter so an array already in memory can go through ``_anchor_token_rows``."""

    def __init__(self, arr: np.ndarray) -> None:
        self.arr = arr

    def load(self, _t) -> np.ndarray:
        return self.arr


def _plain(obj: Any) -> Any:
    try:
        return json.loads(json.dumps(obj, default=str))
    except (TypeError, ValueError):
        return {}
