"""Corrupted files must fail as InputError (exit 2), never as another exception (a bug, exit 1)."""

from __future__ import annotations

import numpy as np
import pytest

from fromscratch.artifacts import open_model
from fromscratch.errors import InputError
from tests.artifacts.writers import tiny_llama, write_gguf, write_safetensors, write_torch


def _mutations(data: bytes, rng: np.random.Generator, n: int, head: int):
    """Byte flips, overwritten integers and truncations, mostly inside the first ``head`` bytes."""
    for _ in range(n):
        b = bytearray(data)
        kind = rng.integers(0, 4)
        if kind == 0:
            for _ in range(rng.integers(1, 4)):
                b[rng.integers(0, min(head, len(b)))] = int(rng.integers(0, 256))
        elif kind == 1:
            pos = int(rng.integers(0, min(head, len(b) - 8)))
            values = [0, 1, 2**31, 2**63 - 1, 2**64 - 1, len(data) * 2]
            b[pos:pos + 8] = values[int(rng.integers(0, len(values)))].to_bytes(8, "little")
        elif kind == 2:
            b = b[: int(rng.integers(0, len(b)))]
        else:
            pos = int(rng.integers(0, len(b)))
            b[pos:pos + 16] = rng.integers(0, 256, 16, dtype=np.uint8).tobytes()[: len(b) - pos]
        yield bytes(b)


def _exercise(path) -> None:
    try:
        with open_model(path) as m:
            m.components()
            _ = m.config, m.claims, m.metadata, m.embedded_tokenizer
            for info in m.tensor_infos():
                m.read(info.name)
    except InputError:
        pass


@pytest.mark.parametrize("fmt", ["safetensors", "gguf", "pytorch"])
def test_mutated_files_fail_cleanly(tmp_path, fmt):
    tensors, cfg = tiny_llama(seed=9, layers=1, d=32, ff=64, vocab=40)
    if fmt == "safetensors":
        src = write_safetensors(tmp_path / "src.safetensors", tensors)
        head = 8 + int.from_bytes(src.read_bytes()[:8], "little")
    elif fmt == "gguf":
        src = write_gguf(tmp_path / "src.gguf", tensors, cfg)
        head = 2048
    else:
        src = write_torch(tmp_path / "src.pt", tensors)
        data = src.read_bytes()
        head = len(data)
    data = src.read_bytes()
    rng = np.random.default_rng(1234)
    target = tmp_path / f"mut{src.suffix}"
    for mutated in _mutations(data, rng, 80, head):
        target.write_bytes(mutated)
        _exercise(target)
