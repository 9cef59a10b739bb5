"""The registry's store: an SQLite index plus one canonical fingerprint file per model.

Layout of a registry folder (default ``<cache>/registry``; any shared folder works)::

    index.sqlite                 models, their sketches, an inverted index of tensor hashes
    fingerprints/<sha256>.npz    one canonical fingerprint per model (see fpfile)

Nothing here holds weights: a fingerprint keeps hashes, a few thousand anchor
rows, int8 unit profiles on at most ~200 residual coordinates and norm vectors.
SQLite gives atomic updates and concurrent readers without a server; on a
network file system without working locks, give each writer its own folder and
merge with ``registry export`` / ``import``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from fromscratch.errors import InputError
from fromscratch.lineage.fingerprint import Fingerprint
from fromscratch.registry import fpfile
from fromscratch.registry.sketch import SKETCH_VERSION, make_sketch, sketch_bytes, sketch_from_bytes, tensor_hashes

SCHEMA = "fromscratch.registry/1"
_DDL = """
CREATE TABLE IF NOT EXISTS models (
  name TEXT PRIMARY KEY, digest TEXT, format TEXT, parameters INTEGER, architecture TEXT,
  claims TEXT, fingerprint TEXT, fingerprint_bytes INTEGER, method TEXT, source TEXT, origin TEXT);
CREATE TABLE IF NOT EXISTS sketches (name TEXT PRIMARY KEY, version TEXT, data BLOB);
CREATE TABLE IF NOT EXISTS hashes (sha256 TEXT, name TEXT);
CREATE INDEX IF NOT EXISTS hashes_sha ON hashes(sha256);
CREATE INDEX IF NOT EXISTS hashes_name ON hashes(name);
"""


def default_location() -> Path:
    from fromscratch.cache import cache_dir

    return cache_dir() / "registry"


def architecture(fp: Fingerprint) -> dict[str, Any]:
    """What a reader wants to know before opening the fingerprint: towers, layers, kinds."""
    comps = fp.components()
    layers = sorted({c["layer"] for c in comps if c.get("layer") is not None})
    kinds: dict[str, int] = {}
    for c in comps:
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    experts = {t["expert"] for c in comps for t in c["tensors"] if t.get("expert") is not None}
    return {"towers": {t: int(i["dim"]) for t, i in sorted(fp.meta["towers"].items())},
            "layers": len(layers), "components": dict(sorted(kinds.items())),
            "experts_per_layer": len(experts) or None, "has_tokenizer": bool(fp.meta.get("has_tokenizer"))}


@dataclass
class Entry:
    name: str
    digest: str
    format: str
    parameters: int
    architecture: dict[str, Any]
    claims: Any
    fingerprint: str
    fingerprint_bytes: int
    method: str
    source: str | None
    origin: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "digest": self.digest, "parameters": self.parameters, "format": self.format,
                "architecture": self.architecture, "claims": self.claims, "fingerprint": self.fingerprint,
                "fingerprint_bytes": self.fingerprint_bytes, "method": self.method, "source": self.source,
                "origin": self.origin}


class Registry:
    """One registry folder. Open it with ``Registry(loc)``; it is created on first write."""

    def __init__(self, location: str | Path | None = None) -> None:
        self.root = Path(location) if location else default_location()
        if self.root.exists() and not self.root.is_dir():
            raise InputError(self.root, "a registry location must be a folder")
        self._db: sqlite3.Connection | None = None

    # -- plumbing
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self.root.mkdir(parents=True, exist_ok=True)
            try:
                self._db = sqlite3.connect(self.root / "index.sqlite", timeout=60)
                self._db.executescript(_DDL)
            except sqlite3.DatabaseError as exc:
                raise InputError(self.root / "index.sqlite", f"not a registry index: {exc}") from None
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def fingerprint_path(self, entry: Entry) -> Path:
        return self.root / "fingerprints" / f"{entry.fingerprint}.npz"

    # -- writing
    def put(self, name: str, fp: Fingerprint, *, digest: str, source: str | None, origin: str = "local",
            replace: bool = False) -> Entry:
        """Store ``fp`` under ``name`` (refused if taken, unless ``replace``)."""
        if not name or "/" in name or name.strip() != name:
            raise InputError(name, "a registry name must be non-empty, without '/' or surrounding spaces")
        if not replace and self.get(name) is not None:
            raise InputError(name, f"already registered in {self.root}; remove it first")
        data = fpfile.to_bytes(fp)
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        path = self.root / "fingerprints" / f"{sha}.npz"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + f".{time.monotonic_ns()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        entry = Entry(name, digest, str(fp.meta["format"]), int(fp.meta["parameters"]), architecture(fp),
                      fp.meta.get("claims") or {}, sha, len(data), str(fp.meta["method"]), source, origin)
        sk = sketch_bytes(make_sketch(fp))
        with self.db:
            self._delete(name)
            self.db.execute("INSERT INTO models VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                            (name, digest, entry.format, entry.parameters, json.dumps(entry.architecture, sort_keys=True),
                             json.dumps(entry.claims, sort_keys=True), sha, len(data), entry.method, source, origin))
            self.db.execute("INSERT INTO sketches VALUES (?,?,?)", (name, SKETCH_VERSION, sk))
            self.db.executemany("INSERT INTO hashes VALUES (?,?)", [(h, name) for h in tensor_hashes(fp)])
        return entry

    def _delete(self, name: str) -> None:
        for table in ("models", "sketches", "hashes"):
            self.db.execute(f"DELETE FROM {table} WHERE name = ?", (name,))

    def remove(self, name: str) -> Entry:
        entry = self.get(name)
        if entry is None:
            raise InputError(name, f"not registered in {self.root}")
        with self.db:
            self._delete(name)
        still = self.db.execute("SELECT 1 FROM models WHERE fingerprint = ?", (entry.fingerprint,)).fetchone()
        if still is None:
            self.fingerprint_path(entry).unlink(missing_ok=True)
        return entry

    # -- reading
    def _row(self, row: tuple) -> Entry:
        return Entry(row[0], row[1], row[2], int(row[3]), json.loads(row[4]), json.loads(row[5]), row[6],
                     int(row[7]), row[8], row[9], row[10])

    def get(self, name: str) -> Entry | None:
        row = self.db.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._row(row)

    def entries(self) -> list[Entry]:
        return [self._row(r) for r in self.db.execute("SELECT * FROM models ORDER BY name")]

    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM models").fetchone()[0])

    def sketches(self) -> Iterator[tuple[str, dict]]:
        """Every model's sketch; one made by an older sketch method is rebuilt from its fingerprint."""
        rows = self.db.execute("SELECT name, version, data FROM sketches ORDER BY name").fetchall()
        for name, version, data in rows:
            if version != SKETCH_VERSION:
                sk = make_sketch(self.load(self.get(name)))
                with self.db:
                    self.db.execute("UPDATE sketches SET version = ?, data = ? WHERE name = ?",
                                    (SKETCH_VERSION, sketch_bytes(sk), name))
                yield name, sk
            else:
                sk = sketch_from_bytes(data)
                if data[:2] == b"PK":  # the older .npz container: rewrite once in the flat one
                    try:
                        with self.db:
                            self.db.execute("UPDATE sketches SET data = ? WHERE name = ?", (sketch_bytes(sk), name))
                    except sqlite3.OperationalError:  # a read-only registry keeps the old container
                        pass
                yield name, sk

    def hash_hits(self, hashes: set[str]) -> dict[str, int]:
        """name -> number of the given tensor hashes it holds (one indexed query per 500 hashes)."""
        hits: dict[str, int] = {}
        items = sorted(hashes)
        for i in range(0, len(items), 500):
            chunk = items[i:i + 500]
            q = f"SELECT name, COUNT(*) FROM hashes WHERE sha256 IN ({','.join('?' * len(chunk))}) GROUP BY name"
            for name, n in self.db.execute(q, chunk):
                hits[name] = hits.get(name, 0) + int(n)
        return hits

    def load(self, entry: Entry) -> Fingerprint:
        path = self.fingerprint_path(entry)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(path, f"registered fingerprint missing: {exc.strerror}") from None
        import hashlib

        if hashlib.sha256(data).hexdigest() != entry.fingerprint:
            raise InputError(path, "fingerprint file does not match its recorded SHA-256 (changed on disk)")
        return fpfile.from_bytes(data)

    def disk_usage(self) -> dict[str, int]:
        files = sum(p.stat().st_size for p in (self.root / "fingerprints").glob("*.npz")) \
            if (self.root / "fingerprints").exists() else 0
        index = sum(p.stat().st_size for p in self.root.glob("index.sqlite*"))
        return {"fingerprint_bytes": files, "index_bytes": index, "total_bytes": files + index}

    def listing(self) -> dict[str, Any]:
        models = [e.as_json() for e in self.entries()]
        return {"schema": SCHEMA, "location": str(self.root), "models": models,
                "disk": self.disk_usage()}
