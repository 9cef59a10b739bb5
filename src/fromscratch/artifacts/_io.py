"""Byte-range access to weight files: one short-lived memory map per tensor.

Mapping only the range of the tensor being read, and unmapping it as soon as the
values are converted, keeps resident memory at about one tensor whatever the size
of the file: the pages a whole-file map touches would otherwise stay counted in
the process's resident set until the map is closed.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from fromscratch.errors import InputError

T = TypeVar("T")


def file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise InputError(path, f"cannot read file ({exc.strerror or exc})") from exc


def read_capped(path: Path, limit: int, what: str) -> bytes:
    """The whole of an untrusted file, refused unread when it is over ``limit`` bytes.

    Every reader of a file read in one piece (TOML, JSON, tokenizer files) takes its bytes
    here, so the size cap and the one-line error for a missing or unreadable file are the
    same everywhere; ``what`` names the kind of file in that line.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputError(path, f"{what} larger than {limit} bytes ({size} bytes)")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, f"{what} not found") from None
    except OSError as exc:
        raise InputError(path, f"cannot read {what} ({exc.strerror or exc})") from None


def read_prefix(path: Path, n: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise InputError(path, f"cannot read file ({exc.strerror or exc})") from exc


def with_range(path: Path, offset: int, nbytes: int, fn: Callable[[np.ndarray], T]) -> T:
    """Map ``nbytes`` at ``offset`` of ``path`` and call ``fn`` on a uint8 view.

    ``fn`` must return data that does not alias the view (a converted copy);
    the map is closed when it returns. Bounds are re-checked against the
    current file size so a file truncated after its header was read fails
    cleanly instead of raising SIGBUS.
    """
    if offset < 0 or nbytes < 0:
        raise InputError(path, f"negative byte range ({offset}, {nbytes})")
    size = file_size(path)
    if offset + nbytes > size:
        raise InputError(path, f"tensor data at bytes {offset}..{offset + nbytes} lies beyond the end of the file ({size} bytes)")
    if nbytes == 0:
        return fn(np.zeros(0, dtype=np.uint8))
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    try:
        with open(path, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), nbytes + (offset - start), access=mmap.ACCESS_READ, offset=start)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot map bytes {offset}..{offset + nbytes} ({exc})") from exc
    try:
        view = np.frombuffer(mm, dtype=np.uint8, count=nbytes, offset=offset - start)
        try:
            return fn(view)
        finally:
            del view
    finally:
        try:
            mm.close()
        except BufferError:  # a caller kept a view alive; the map closes when it is freed
            pass


CHUNK_BYTES = 16 * 1024 * 1024


def read_rows(path: Path, offset: int, rows: int, row_bytes: int, out_row_shape: tuple[int, ...],
              out_dtype: np.dtype, fn: Callable[[np.ndarray, int], np.ndarray],
              chunk_bytes: int | None = None, out: np.ndarray | None = None,
              into: Callable[[np.ndarray, np.ndarray], None] | None = None) -> np.ndarray:
    """Decode a row-major tensor a block of rows at a time into one output array.

    ``fn(uint8 view, n_rows)`` returns ``n_rows`` stored rows as an array (a view
    of the stored dtype is fine: it is cast into the output while the chunk is
    still mapped, without a chunk-sized float32 temporary). Only one chunk of the file is mapped at
    a time and conversion temporaries are chunk-sized, so peak memory is the
    output plus a few megabytes, whatever the storage type (a bf16 or Q8_0
    tensor would otherwise need its mapped bytes and several float32
    temporaries resident together).

    ``out`` (C-contiguous, shape ``(rows, *out_row_shape)``, dtype ``out_dtype``)
    is filled and returned instead of a fresh array. ``into(uint8 view, dest rows)``, when
    given, writes the rows itself instead of ``fn`` (a table-driven cast).
    """
    if out is None:
        out = np.empty((rows, *out_row_shape), dtype=out_dtype)
    elif out.shape != (rows, *out_row_shape) or out.dtype != out_dtype or not out.flags.c_contiguous:
        raise ValueError(f"out is {out.dtype} {out.shape}, expected contiguous {out_dtype} {(rows, *out_row_shape)}")
    out_row_bytes = int(np.prod(out_row_shape, dtype=np.int64)) * out.dtype.itemsize
    step = max(1, (chunk_bytes or CHUNK_BYTES) // max(row_bytes, out_row_bytes, 1))
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        n = r1 - r0
        dest = out[r0:r1]

        def fill(b: np.ndarray, n: int = n, dest: np.ndarray = dest) -> None:
            if into is not None:
                into(b, dest)
            else:
                dest[...] = fn(b, n)

        with_range(path, offset + r0 * row_bytes, n * row_bytes, fill)
    return out
