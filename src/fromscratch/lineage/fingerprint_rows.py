"""Reading one tensor for its fingerprint entry: a reused buffer, and row blocks for large tensors.

A tensor with more than ``STREAM_VALUES`` values (a 151,552 x 4,096 or
196,608 x 4,096 embedding or head is 2.5-3.2 GB as float32) is never decoded
whole where the reader can seek to a row range: it is read in blocks of
``block_rows`` rows into one reused buffer, its hash, RMS and sketch values are
accumulated block by block, and only the rows the fingerprint keeps (anchor and
head rows) are copied out. Its RMS is defined by those blocks -- a float32 dot
product per block, summed in float64 -- whichever way it is read, so a streamed
and an in-memory pass give the same bytes; every smaller tensor keeps the
whole-tensor float32 dot product, so fingerprints of models without such a
tensor are unchanged.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from fromscratch.lineage import fingerprint as F


#: tensors with more values than this are summarised in row blocks (1 GiB of float32)
STREAM_VALUES = 1 << 28
#: values per row block (64 MiB of float32)
BLOCK_VALUES = 1 << 24

Key = tuple[str, str, "int | None"]


def tkey(t: Any) -> Key:
    return (t.component, t.role, t.expert)


class Scratch:
    """One float32 buffer reused for every tensor of a pass.

    Fresh memory for each tensor costs a page fault and a kernel-zeroed page per
    4 KiB, about as much as decoding BF16 itself; the pass holds one tensor at a
    time and keeps no view of it, so one buffer serves them all. Readers that
    cannot decode in place ignore it.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.buf: np.ndarray | None = None

    def _take(self, n: int) -> np.ndarray:
        if self.buf is None or self.buf.size < n:
            self.buf = None  # free the old buffer before allocating the larger one
            self.buf = np.empty(n, dtype=np.float32)
        return self.buf[:n]

    def load(self, t: Any) -> np.ndarray:
        if t.rows is not None or not getattr(getattr(self.model, "reader", None), "reads_into", False):
            return self.model.load(t)
        return self.model.load(t, out=self._take(numel(t.shape)).reshape(tuple(t.shape)))

    def row_blocks(self, t: Any):
        """(first row, float32 block) over the tensor, ``block_rows`` rows at a time."""
        shape = tuple(int(d) for d in t.shape)
        step = block_rows(shape)
        if t.rows is None and getattr(self.model, "reads_rows", False):
            for r0 in range(0, shape[0], step):
                r1 = min(shape[0], r0 + step)
                view = self._take((r1 - r0) * numel(shape[1:])).reshape((r1 - r0, *shape[1:]))
                yield r0, self.model.load_rows(t, r0, r1, view)
            return
        arr = self.load(t)
        for r0 in range(0, shape[0], step):
            yield r0, arr[r0:r0 + step]


def numel(shape: Any) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def block_rows(shape: tuple[int, ...]) -> int:
    """Rows per block: fixed by the shape (the blocked RMS depends on it), whole 128-row FP8 scale blocks."""
    r = max(1, BLOCK_VALUES // max(numel(shape[1:]), 1))
    return r - r % 128 if r >= 128 else r


class Summary:
    """A tensor's ``record`` entry (sketch values, row-sample hash, RMS, constant) from its row blocks in order."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.cols = numel(shape[1:])
        self.pos = F._sketch_positions(shape)
        self.sk = np.empty(len(self.pos), np.float32)
        self.step = max(1, -(-(numel(shape) * 4) // F.HASH_BYTES))
        self.h = hashlib.sha256(repr(tuple(shape)).encode())
        self.ss = 0.0

    def add(self, r0: int, block: np.ndarray) -> None:
        flat = block.reshape(-1)
        lo = r0 * self.cols
        i0, i1 = np.searchsorted(self.pos, [lo, lo + flat.size])
        self.sk[i0:i1] = flat[self.pos[i0:i1] - lo]
        first = -(-r0 // self.step) * self.step - r0
        rows = block.reshape(block.shape[0], -1)[first::self.step]
        if rows.size:
            self.h.update(np.ascontiguousarray(rows).view(np.uint8).reshape(-1))
        self.ss += float(np.dot(flat, flat))

    def entry(self) -> tuple[np.ndarray, dict[str, Any]]:
        n = numel(self.shape)
        constant = bool(self.sk.size > 0 and float(self.sk.max()) == float(self.sk.min()))
        return self.sk, {"shape": list(self.shape), "sha256": self.h.hexdigest(),
                         "rms": float(np.sqrt(self.ss / n)) if n else 0.0, "constant": constant}


def summarise(arr: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Sketch values and statistics of a tensor in memory."""
    if arr.size > STREAM_VALUES and arr.ndim >= 2:
        s = Summary(tuple(arr.shape))
        step = block_rows(tuple(arr.shape))
        for r0 in range(0, arr.shape[0], step):
            s.add(r0, np.ascontiguousarray(arr[r0:r0 + step]))
        return s.entry()
    flat = arr.reshape(-1)
    sk = flat[F._sketch_positions(tuple(arr.shape))].astype(np.float32)
    if flat.size <= (1 << 20):
        constant = bool(flat.size > 0 and float(flat.max()) == float(flat.min()))
    else:  # a large tensor whose 1,024 sampled values are all equal is constant
        constant = bool(sk.size > 0 and float(sk.max()) == float(sk.min()))
    return sk, {"shape": list(arr.shape), "sha256": F._hash_tensor(arr),
                "rms": float(np.linalg.norm(flat) / np.sqrt(flat.size)) if flat.size else 0.0,
                "constant": constant}


def store(arrays: dict, metas: dict, t: Any, got: tuple[np.ndarray, dict[str, Any]]) -> None:
    sk, st = got
    arrays[f"sk|{t.component}|{t.role}|{t.expert}"] = sk
    metas[tkey(t)] = {"role": t.role, "expert": t.expert, "shape": st["shape"], "dtype": t.dtype,
                      "learned": bool(t.learned), "sha256": st["sha256"], "rms": st["rms"],
                      "constant": st["constant"]}


def record(arrays: dict, metas: dict, t: Any, arr: np.ndarray) -> None:
    """The per-tensor entry (``identical`` tier) of a tensor in memory."""
    store(arrays, metas, t, summarise(arr))


def rows_of(scratch: Scratch, arrays: dict, metas: dict, t: Any, wanted: np.ndarray) -> np.ndarray:
    """Record ``t`` and return its rows ``wanted`` (float32 copies), streaming a large tensor."""
    wanted = np.asarray(wanted, dtype=np.int64)
    if numel(t.shape) <= STREAM_VALUES or len(t.shape) < 2:
        arr = scratch.load(t)
        record(arrays, metas, t, arr)
        return arr[wanted].astype(np.float32)
    order = np.argsort(wanted, kind="stable")
    out = np.empty((len(wanted), *[int(d) for d in t.shape[1:]]), np.float32)
    s = Summary(tuple(int(d) for d in t.shape))
    for r0, block in scratch.row_blocks(t):
        s.add(r0, block)
        i0, i1 = np.searchsorted(wanted[order], [r0, r0 + block.shape[0]])
        out[order[i0:i1]] = block[wanted[order[i0:i1]] - r0]
    store(arrays, metas, t, s.entry())
    return out
