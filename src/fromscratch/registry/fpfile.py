"""Fingerprint files with deterministic bytes.

``Fingerprint.save`` writes an ``.npz`` whose zip entries carry the wall-clock
time and follow dict order, so the same fingerprint saved twice differs by a few
bytes. A registry file is shared, signed and compared across machines (with and
without Dask), so it is written here with sorted members and a fixed timestamp;
it stays a plain ``.npz`` that ``Fingerprint.load`` reads.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from fromscratch.artifacts.hfdir import parse_json
from fromscratch.lineage.fingerprint import Fingerprint

_EPOCH = (1980, 1, 1, 0, 0, 0)


def to_bytes(fp: Fingerprint) -> bytes:
    """The canonical ``.npz`` bytes of a fingerprint (sorted members, fixed times)."""
    buf = io.BytesIO()
    members = dict(fp.arrays)
    members["__meta__"] = np.frombuffer(json.dumps(fp.meta, sort_keys=True).encode(), dtype=np.uint8)
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(members[name]), allow_pickle=False)
    return buf.getvalue()


def digest(fp: Fingerprint) -> str:
    """SHA-256 of the canonical bytes: the fingerprint's identity."""
    return hashlib.sha256(to_bytes(fp)).hexdigest()


def save(fp: Fingerprint, path: Path) -> str:
    """Write atomically; returns the SHA-256 of the bytes written."""
    data = to_bytes(fp)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()


def from_bytes(data: bytes) -> Fingerprint:
    """Parse canonical (or any plain, pickle-free) fingerprint bytes."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
        meta = parse_json(bytes(z["__meta__"]), "fingerprint metadata")
    return Fingerprint(meta, arrays)
