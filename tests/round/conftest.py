"""Round tests reuse the bench tests' trained tiny llama and utilities."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    import benchutil

    return benchutil.tiny_llama()
