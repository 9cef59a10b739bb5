"""Content digests of inputs (model folders, code trees, single files), cached.

Inputs are recorded in the ledger by digest. Hashing a multi-gigabyte model on
every re-run would dominate the run, so a digest is cached under the file
list's (path, size, mtime) signature; any change to any file re-hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from fromscratch.errors import InputError


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
                  and "__pycache__" not in p.parts)


def path_digest(path: str | Path, cache: Path | None = None) -> str:
    """SHA-256 over (relative name, content) of every file, in name order."""
    root = Path(path)
    if not root.exists():
        raise InputError(root, "not found")
    files = _files(root)
    sig = hashlib.sha256(json.dumps(
        [str(root.resolve())] + [[p.as_posix(), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    ).encode()).hexdigest()
    memo = cache / f"{sig}.txt" if cache else None
    if memo is not None and memo.is_file():
        return memo.read_text().strip()
    h = hashlib.sha256()
    base = root if root.is_dir() else root.parent
    for p in files:
        h.update(p.relative_to(base).as_posix().encode() + b"\0")
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\n")
    digest = h.hexdigest()
    if memo is not None:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(digest + "\n")
        os.replace(tmp, memo)
    return digest
