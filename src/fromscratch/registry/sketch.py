"""The pre-filter: small invariant sketches that decide which references get the full test.

The full pairwise test (``fromscratch.lineage.api.compare_fingerprints``) can
only find reuse through one of three routes, and the sketch has one tier per route:

* **exact** -- a tensor whose SHA-256 equals a reference tensor's (learned,
  non-constant, at least ``MIN_HASH_NUMEL`` values): an index lookup;
* **anchor** -- the residual streams are aligned through anchor rows keyed by
  model-independent keys (token strings, positions, input features). The sketch
  keeps, per tower, the ``K_ANCHOR`` smallest keys and the cosine matrix of their
  centred rows. Cosines between rows are unchanged by any permutation, sign flip
  or rotation of the residual coordinates and move little under drift, so the
  correlation of the two cosine matrices over the shared keys survives every
  disguise the full test sees through;
* **identity** -- blocks tested in the reference's own coordinates (same width).
  Per block layer, the sketch keeps the relative energy of each of the first
  ``IDENTITY_COORDS`` residual coordinates, averaged over the layer's profiled
  matrices. The energy of a coordinate summed over hidden units does not depend
  on the order of the hidden units (nor of the experts), so it survives the
  permutations the unit test sees through, and drift changes it little.

A reference is passed over only when no route shows a score above its
threshold; the thresholds sit far below the scores of every derived pair of the
calibration set (see docs/registry.md). A residual stream rotated *and* with a
retrained embedding defeats the identity tier, exactly as it defeats the full
test's identity alignment; that blind spot is reported in the search JSON.
"""

from __future__ import annotations

import functools
import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from fromscratch.artifacts.hfdir import parse_json
from fromscratch.lineage.fingerprint import Fingerprint, unpack_profile

SKETCH_VERSION = "registry-sketch/2"
K_ANCHOR = 256
MIN_SHARED = 12
IDENTITY_COORDS = 96
MIN_HASH_NUMEL = 256
#: pass thresholds (recall-oriented; tuned on the zoo, see docs/registry.md)
ANCHOR_TAU = 0.2
#: ... and score x sqrt(shared keys) at least this: with few shared keys a correlation is noisy
#: (over 1,000 unrelated generated models this product reached 1.10, sd 0.34)
ANCHOR_Z = 2.5
IDENTITY_TAU = 0.2


def _centred_unit(rows: np.ndarray) -> np.ndarray:
    a = rows.astype(np.float64)
    a = a - a.mean(axis=0, keepdims=True)
    n = np.linalg.norm(a, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return a / n


def _tower_anchor(fp: Fingerprint, tower: str) -> tuple[np.ndarray, np.ndarray] | None:
    keys = fp.arrays.get(f"anchor_keys|{tower}")
    rows = fp.arrays.get(f"anchor_rows|{tower}")
    if keys is None or rows is None or len(keys) < MIN_SHARED:
        return None
    return keys.astype(np.int64), _centred_unit(rows).astype(np.float32)


def _layer_energy(fp: Fingerprint) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(tower, role) -> (layer ids, layers x coords log relative energy), experts averaged."""
    comps = {c["name"]: c for c in fp.components()}
    acc: dict[tuple[str, str, int], list[np.ndarray]] = {}
    for key, prof in fp.arrays.items():
        if not key.startswith("prof|"):
            continue
        _, cname, role, _extra = key.split("|", 3)
        c = comps.get(cname)
        if c is None or c.get("layer") is None:
            continue
        p = unpack_profile(prof)[:, :IDENTITY_COORDS].astype(np.float64)
        e = np.sqrt(np.mean(p ** 2, axis=0))
        if p.shape[1] < 8 or e.mean() == 0:
            continue
        acc.setdefault((c["tower"], role, int(c["layer"])), []).append(e / e.mean())
    grouped: dict[tuple[str, str], list[tuple[int, np.ndarray]]] = {}
    for (tower, role, layer), vecs in sorted(acc.items()):
        width = min(v.size for v in vecs)
        grouped.setdefault((tower, role), []).append(
            (layer, np.log(np.mean([x[:width] for x in vecs], axis=0) + 1e-6)))
    res = {}
    for key, rows in grouped.items():
        width = min(v.size for _, v in rows)
        res[key] = (np.asarray([r[0] for r in rows], dtype=np.int32), np.stack([v[:width] for _, v in rows]))
    return res


def tensor_hashes(fp: Fingerprint) -> list[str]:
    """SHA-256 of every learned, non-constant tensor large enough to be evidence."""
    out = set()
    for c in fp.components():
        for t in c["tensors"]:
            n = int(np.prod(t["shape"])) if t["shape"] else 1
            if t["learned"] and not t["constant"] and n >= MIN_HASH_NUMEL:
                out.add(t["sha256"])
    return sorted(out)


def make_sketch(fp: Fingerprint) -> dict[str, np.ndarray]:
    """The reference-side sketch stored in the index (tens of KB per model)."""
    arrays: dict[str, np.ndarray] = {}
    for tower, info in sorted(fp.meta["towers"].items()):
        arrays[f"dim|{tower}"] = np.asarray([int(info["dim"])], dtype=np.int64)
        anchor = _tower_anchor(fp, tower)
        if anchor is not None:
            keys, rows = anchor
            sel = np.argsort(keys, kind="stable")[:K_ANCHOR]
            sel = sel[np.argsort(keys[sel], kind="stable")]
            arrays[f"akeys|{tower}"] = keys[sel]
            arrays[f"agram|{tower}"] = (rows[sel] @ rows[sel].T).astype(np.float16)
    for (tower, role), (layers, energy) in _layer_energy(fp).items():
        arrays[f"elayers|{tower}|{role}"] = layers
        arrays[f"energy|{tower}|{role}"] = energy.astype(np.float16)
    return arrays


_MAGIC = b"FSSK1\n"


def sketch_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A flat container (JSON directory + raw bytes): parsing a thousand ``.npz`` costs seconds."""
    head, blobs, off = {}, [], 0
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        b = a.tobytes()
        head[k] = [a.dtype.str, list(a.shape), off, len(b)]
        blobs.append(b)
        off += len(b)
    h = json.dumps(head).encode()
    return _MAGIC + len(h).to_bytes(8, "little") + h + b"".join(blobs)


def sketch_from_bytes(data: bytes) -> dict[str, np.ndarray]:
    if data[:2] == b"PK":  # registries written before the flat container
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if not data.startswith(_MAGIC):
        raise ValueError("not a registry sketch")
    n = int.from_bytes(data[len(_MAGIC):len(_MAGIC) + 8], "little")
    start = len(_MAGIC) + 8
    head = parse_json(data[start:start + n], "registry sketch")
    if not isinstance(head, dict):
        raise ValueError("bad sketch header")
    base = start + n
    out = {}
    for k, (dt, shape, off, size) in head.items():
        if np.dtype(dt).hasobject or off < 0 or base + off + size > len(data):
            raise ValueError(f"bad sketch entry {k!r}")
        out[k] = np.frombuffer(data, dtype=np.dtype(dt), count=size // np.dtype(dt).itemsize,
                               offset=base + off).reshape(shape)
    return out


def _towers(sk: dict[str, np.ndarray]) -> dict[str, int]:
    return {k.split("|", 1)[1]: int(v[0]) for k, v in sk.items() if k.startswith("dim|")}


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64) - a.mean()
    b = b.astype(np.float64) - b.mean()
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / den) if den > 0 else 0.0


@dataclass
class CandidateSketch:
    """Candidate side: its full anchor rows (the pre-filter is asymmetric on purpose)."""

    anchors: dict[str, tuple[np.ndarray, np.ndarray]]
    energy: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
    dims: dict[str, int]
    hashes: set[str]

    @classmethod
    def of(cls, fp: Fingerprint) -> "CandidateSketch":
        anchors = {}
        for tower in fp.meta["towers"]:
            a = _tower_anchor(fp, tower)
            if a is not None:
                order = np.argsort(a[0], kind="stable")
                anchors[tower] = (a[0][order], a[1][order])
        return cls(anchors, _layer_energy(fp), {t: int(i["dim"]) for t, i in fp.meta["towers"].items()},
                   set(tensor_hashes(fp)))


@functools.lru_cache(maxsize=64)
def _triu(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, 1)


def _anchor_score(cand: tuple[np.ndarray, np.ndarray], rkeys: np.ndarray, rgram: np.ndarray) -> tuple[float, int]:
    ckeys, crows = cand
    _, ci, ri = np.intersect1d(ckeys, rkeys, assume_unique=True, return_indices=True)
    n = ci.size
    if n < MIN_SHARED:
        return 0.0, int(n)
    rows = crows[ci]
    cg = rows @ rows.T
    rg = rgram[np.ix_(ri, ri)].astype(np.float32)
    iu = _triu(n)
    return _corr(cg[iu], rg[iu]), int(n)


def _standard_rows(e: np.ndarray, w: int) -> np.ndarray:
    a = e[:, :w].astype(np.float64)
    a = a - a.mean(axis=1, keepdims=True)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def _identity_score(cand: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]], ctower: str,
                    ref: dict[str, np.ndarray], rtower: str) -> float | None:
    """Best layer-to-layer match of coordinate energies, correlation averaged over the shared roles.

    Averaging over roles (q, k, v, o, gate, up, down, ...) keeps the noise of an
    unrelated pair near 0.1 / sqrt(roles), so the maximum over layer pairs
    stays low, while a derived layer matches on every role.
    """
    total, count = None, 0
    for (tw, role), (clayers, ce) in sorted(cand.items()):
        key = f"energy|{rtower}|{role}"
        if tw != ctower or key not in ref:
            continue
        re_ = ref[key]
        w = min(ce.shape[1], re_.shape[1])
        if w < 8:
            continue
        c = _standard_rows(ce, w) @ _standard_rows(re_, w).T
        cl = {int(x): i for i, x in enumerate(clayers)}
        rl = {int(x): i for i, x in enumerate(ref[f"elayers|{rtower}|{role}"])}
        if total is None:
            all_c, all_r = sorted(cl), sorted(rl)
            total = np.zeros((len(all_c), len(all_r)))
            n = np.zeros_like(total)
            ci = {x: i for i, x in enumerate(all_c)}
            ri = {x: i for i, x in enumerate(all_r)}
        for x, i in cl.items():
            for y, j in rl.items():
                if x in ci and y in ri:
                    total[ci[x], ri[y]] += c[i, j]
                    n[ci[x], ri[y]] += 1
        count += 1
    if total is None or count == 0:
        return None
    mean = np.where(n > 0, total / np.maximum(n, 1), -1.0)
    return float(mean.max())


def screen(cand: CandidateSketch, ref: dict[str, np.ndarray], ref_hashes: int) -> dict[str, Any]:
    """Score every route; ``passed`` when any route's score clears its threshold."""
    anchor_best, shared_best, anchor_fires = None, 0, False
    for ct, ca in sorted(cand.anchors.items()):
        for key in sorted(k for k in ref if k.startswith("akeys|")):
            rt = key.split("|", 1)[1]
            s, n = _anchor_score(ca, ref[key], ref[f"agram|{rt}"])
            if n < MIN_SHARED:
                continue
            anchor_fires |= s >= ANCHOR_TAU and s * np.sqrt(n) >= ANCHOR_Z
            if anchor_best is None or s > anchor_best:
                anchor_best, shared_best = s, n
    rdims = _towers(ref)
    identity_best = None
    for ct in sorted({t for t, _ in cand.energy}):
        for rt, rd in sorted(rdims.items()):
            if rd != cand.dims.get(ct):
                continue
            s = _identity_score(cand.energy, ct, ref, rt)
            if s is not None:
                identity_best = s if identity_best is None else max(identity_best, s)
    routes = []
    if ref_hashes:
        routes.append("exact")
    if anchor_fires:
        routes.append("anchor")
    if identity_best is not None and identity_best >= IDENTITY_TAU:
        routes.append("identity")
    return {"passed": bool(routes), "routes": routes, "shared_hashes": int(ref_hashes),
            "anchor_score": None if anchor_best is None else round(anchor_best, 6),
            "shared_anchor_keys": int(shared_best),
            "identity_score": None if identity_best is None else round(identity_best, 6)}
