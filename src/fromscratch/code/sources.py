"""Finding and reading source files safely (candidates and references alike).

WHY a separate module: submitted trees are hostile. A file that is binary, not
UTF-8, huge or not parsable is skipped with a note in the report instead of
crashing the run, and nothing is ever imported or executed — only read as text.
"""

from __future__ import annotations

import os
import tokenize
from dataclasses import dataclass
from pathlib import Path

from fromscratch.code.lang import SourceFile, language_for
from fromscratch.errors import InputError

MAX_BYTES = 4 * 1024 * 1024  # model files are far smaller; bigger "sources" are generated or hostile
_SKIP_DIRS = {"__pycache__", ".git", ".hg", ".svn", "node_modules", ".tox", ".venv", "venv", ".mypy_cache"}


@dataclass
class Skipped:
    path: str
    reason: str


def list_sources(root: Path) -> list[tuple[str, Path]]:
    """(relative posix path, absolute path) of every source file under `root`, sorted.

    A file given directly is listed as its own name. Symbolic links are not followed
    out of the tree.
    """
    if not root.exists():
        raise InputError(root, "no such file or directory")
    if root.is_file():
        return [(root.name, root)]
    if not root.is_dir():
        raise InputError(root, "not a regular file or directory")
    out: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_symlink() or language_for(name) is None:
                continue
            out.append((p.relative_to(root).as_posix(), p))
    out.sort()
    return out


def read_source(rel: str, path: Path) -> SourceFile | Skipped:
    """Parse one file, or say why it was skipped (binary, not UTF-8, too large, not tokenizable)."""
    lang = language_for(rel)
    if lang is None:
        return Skipped(rel, "not a supported source language")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return Skipped(rel, f"larger than {MAX_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        return Skipped(rel, f"unreadable ({exc.strerror or exc})")
    if b"\x00" in data:
        return Skipped(rel, "binary content (NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Skipped(rel, "not UTF-8 text")
    try:
        return lang.parse(rel, text)
    except (tokenize.TokenError, SyntaxError, IndentationError, ValueError, RecursionError) as exc:
        return Skipped(rel, f"not tokenizable as {lang.name} ({type(exc).__name__})")
