"""Content digests of inputs (model folders, code trees, single files), cached.

Inputs are recorded in the ledger by digest (`fromscratch.digests.tree_sha256`,
which also gives the bench backend its model identity). Hashing a
multi-gigabyte model on every re-run would dominate the run, so a digest is
cached under the file list's signature: every file's name, size, mtime, inode
and resolved path (a hub snapshot link re-pointed to another blob changes the
resolved path); any change to any file re-hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from fromscratch.digests import tree_files, tree_sha256
from fromscratch.errors import InputError


def path_digest(path: str | Path, cache: Path | None = None) -> str:
    """`tree_sha256` of a file or folder, memoised in `cache` (a folder) when given."""
    root = Path(path)
    if not root.exists():
        raise InputError(root, "not found")
    files = tree_files(root)
    sig = hashlib.sha256(json.dumps(
        ["tree/2", str(root.resolve())]
        + [[name, st.st_size, st.st_mtime_ns, st.st_ino, os.path.realpath(p)] for name, p, st in files]
    ).encode()).hexdigest()
    memo = cache / f"{sig}.txt" if cache else None
    if memo is not None and memo.is_file():
        return memo.read_text().strip()
    digest = tree_sha256(root, files)
    if memo is not None:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(digest + "\n")
        os.replace(tmp, memo)
    return digest
