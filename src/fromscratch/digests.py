"""File and folder digests recorded in decisions, ledgers and cache keys.

A decision names its input tables by SHA-256 and the round ledger lists every
file by SHA-256; both must hash the same bytes the same way, so there is one
streaming implementation (1 MiB blocks: bounded memory on multi-GB inputs).

A folder (a model, a code tree) is digested by `tree_sha256`, the one
implementation behind the round's input digests and the bench backend's model
identity. Its file rules (`tree_files`):

- a symlink to a regular file counts as that file, under the link's name: a
  Hugging Face hub snapshot (``snapshots/<rev>/config.json -> ../../blobs/<sha>``)
  is all links, and its digest must follow them to the content;
- symlinks to folders are listed by the walk but never entered, so a link
  loop cannot hang it (hub snapshots hold real folders and file links only);
- anything that is not a regular file once links are followed (FIFO, device,
  socket, dangling or looping link) is left out and never opened;
- ``__pycache__`` folders are left out (interpreter output, not the input).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from fromscratch.errors import InputError

_SKIP_DIRS = {"__pycache__"}


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _regular(path: Path) -> os.stat_result | None:
    """stat of what `path` points to, or None unless that is a regular file."""
    try:
        st = os.stat(path)  # follows links; a dangling or looping one raises
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def tree_files(path: str | Path) -> list[tuple[str, Path, os.stat_result]]:
    """(name, path, stat of the content) of every file a digest covers, in name order.

    For a single file the name is its own; in a folder it is the path relative
    to the folder ('/'-separated). Order is part by part, as `sorted` orders
    `Path` objects, so a folder without links keeps the digest it always had.
    """
    root = Path(path)
    st = _regular(root)
    if st is not None:
        return [(root.name, root, st)]
    if not root.is_dir():
        raise InputError(root, "not found" if not os.path.lexists(root)
                         else "not a regular file or folder")
    found: list[tuple[tuple[str, ...], Path, os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        rel = Path(dirpath).relative_to(root).parts
        for name in filenames:
            p = Path(dirpath, name)
            st = _regular(p)
            if st is not None:
                found.append(((*rel, name), p, st))
    found.sort(key=lambda f: f[0])
    return [("/".join(parts), p, st) for parts, p, st in found]


def tree_sha256(path: str | Path,
                files: list[tuple[str, Path, os.stat_result]] | None = None) -> str:
    """SHA-256 over (name, content) of every file of `tree_files`, in name order.

    `files` may pass a listing already made by `tree_files(path)`.
    """
    h = hashlib.sha256()
    for name, p, _ in tree_files(path) if files is None else files:
        h.update(name.encode() + b"\0")
        # O_NONBLOCK: a file swapped for a FIFO since the listing must not block
        # the open; fstat then refuses anything that is not a regular file.
        try:
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise InputError(p, f"unreadable: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InputError(p, "changed into something that is not a regular file while being hashed")
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\n")
    return h.hexdigest()
