"""Writing into a round folder: every file lands whole or not at all.

A file is written to a temporary name beside its target, flushed to disk and
renamed over it (``os.replace`` is atomic on POSIX), so a process killed at any
moment leaves either the old file or the new one, never half of one. A killed
run can leave a temporary file behind; the next run removes those first
(`remove_partials`), and `verify` reports any it finds as extra files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from fromscratch.jsonio import dumps

PARTIAL = ".partial-"


def fsync_dir(folder: Path) -> None:
    fd = os.open(str(folder), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` durably (temporary file, fsync, rename, fsync of the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{PARTIAL}{os.getpid()}-{path.name}")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def remove_partials(root: Path) -> list[str]:
    """Delete temporary files a killed writer left under ``root``; return their paths."""
    gone = []
    if root.is_dir():
        for p in sorted(root.rglob(f"{PARTIAL}*")):
            if p.is_file() and not p.is_symlink():
                p.unlink()
                gone.append(p.relative_to(root).as_posix())
    return gone


class Out:
    """Writes files into the round folder and remembers what this run wrote (or keeps)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: set[str] = set()

    def bytes(self, rel: str, data: bytes) -> Path:
        p = self.root / rel
        if not p.is_file() or p.read_bytes() != data:
            write_atomic(p, data)
        self.written.add(rel)
        return p

    def json(self, rel: str, obj: Any) -> Path:
        return self.bytes(rel, dumps(obj).encode("utf-8"))

    def text(self, rel: str, text: str) -> Path:
        return self.bytes(rel, text.encode("utf-8"))

    def copy(self, src: Path, rel: str) -> Path:
        p = self.root / rel
        if not p.is_file() or p.read_bytes() != src.read_bytes():
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(f"{PARTIAL}{os.getpid()}-{p.name}")
            shutil.copyfile(src, tmp)
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        self.written.add(rel)
        return p

    def mark(self, rel: str) -> None:
        self.written.add(rel)
