"""The tokenizer keys of a GGUF file, read from its key/value section only.

Why not always go through the model reader: tokenizers also travel as
vocab-only GGUFs and as header fragments (a first download part that holds the
whole header but not every tensor), and a tokenizer comparison must not depend
on tensor data being complete. This reads just the ``tokenizer.*`` keys,
bounds-checking every length against the file, and decodes nothing else; the
full model reader (``fromscratch.artifacts``) still validates tensors wherever
weights are compared.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.errors import InputError

_NUMERIC = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1",
            10: "<u8", 11: "<i8", 12: "<f8"}
_MAX_COUNT = 1 << 26


class _Cursor:
    def __init__(self, buf: Any, size: int, path: Path) -> None:
        self.buf, self.size, self.path, self.pos = buf, size, path, 0

    def need(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise InputError(self.path, f"truncated GGUF header at byte {self.pos}")

    def unpack(self, fmt: str) -> Any:
        n = struct.calcsize(fmt)
        self.need(n)
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += n
        return value

    def string(self, keep: bool = True) -> str | None:
        n = self.unpack("<Q")
        self.need(n)
        raw = self.buf[self.pos:self.pos + n] if keep else None
        self.pos += n
        return None if raw is None else bytes(raw).decode("utf-8", "replace")

    def strings(self, count: int, keep: bool) -> list[str] | None:
        """A string array in one tight loop (token lists hold 10^5 entries)."""
        buf, size, pos = self.buf, self.size, self.pos
        unpack = struct.Struct("<Q").unpack_from
        out: list[str] = []
        for _ in range(count):
            if pos + 8 > size:
                raise InputError(self.path, "truncated GGUF string array")
            (n,) = unpack(buf, pos)
            pos += 8
            if n > size - pos:
                raise InputError(self.path, "GGUF string runs past the end of the file")
            if keep:
                out.append(buf[pos:pos + n].decode("utf-8", "replace"))
            pos += n
        self.pos = pos
        return out if keep else None

    def value(self, vtype: int, keep: bool, depth: int = 0) -> Any:
        if vtype in _NUMERIC:
            dt = np.dtype(_NUMERIC[vtype])
            self.need(dt.itemsize)
            v = np.frombuffer(self.buf, dtype=dt, count=1, offset=self.pos)[0].item()
            self.pos += dt.itemsize
            return bool(v) if vtype == 7 else v
        if vtype == 8:
            return self.string(keep)
        if vtype == 9:
            if depth > 2:
                raise InputError(self.path, "GGUF arrays nested too deeply")
            etype = self.unpack("<I")
            count = self.unpack("<Q")
            if count > _MAX_COUNT:
                raise InputError(self.path, f"implausible GGUF array length {count}")
            if etype in _NUMERIC:
                dt = np.dtype(_NUMERIC[etype])
                self.need(count * dt.itemsize)
                out = np.frombuffer(self.buf, dtype=dt, count=count, offset=self.pos).tolist() if keep else None
                self.pos += count * dt.itemsize
                return out
            if etype == 8:
                return self.strings(count, keep)
            items = [self.value(etype, keep, depth + 1) for _ in range(count)]
            return items if keep else None
        raise InputError(self.path, f"unknown GGUF value type {vtype}")


def read_gguf_tokenizer(path: str | Path) -> dict[str, Any] | None:
    """``tokenizer.ggml.*`` keys (prefix dropped) plus other ``tokenizer.*`` keys, or None."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            if size < 24:
                raise InputError(path, "truncated GGUF file")
            buf = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read: {exc}") from exc
    try:
        cur = _Cursor(buf, size, path)
        if bytes(buf[:4]) != b"GGUF":
            raise InputError(path, "not a GGUF file")
        cur.pos = 4
        version = cur.unpack("<I")
        if version not in (2, 3):
            raise InputError(path, f"unsupported GGUF version {version}")
        cur.unpack("<Q")  # tensor count: not needed here
        n_kv = cur.unpack("<Q")
        if n_kv > 1 << 20:
            raise InputError(path, f"implausible GGUF key count {n_kv}")
        out: dict[str, Any] = {}
        for _ in range(n_kv):
            key = cur.string() or ""
            vtype = cur.unpack("<I")
            keep = key.startswith("tokenizer.") and key != "tokenizer.chat_template"
            value = cur.value(vtype, keep)
            if keep:
                short = key[len("tokenizer.ggml."):] if key.startswith("tokenizer.ggml.") else key[len("tokenizer."):]
                out[short] = value
        return out or None
    finally:
        buf.close()
