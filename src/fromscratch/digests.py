"""File digests recorded in decisions and ledgers.

A decision names its input tables by SHA-256 and the round ledger lists every
file by SHA-256; both must hash the same bytes the same way, so there is one
streaming implementation (1 MiB blocks: bounded memory on multi-GB inputs).
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
