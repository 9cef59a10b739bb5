"""Shared fixtures for the bench tests: one trained tiny llama per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    import benchutil

    return benchutil.tiny_llama()


@pytest.fixture
def heavy(request) -> None:
    """Minutes-long checks (SmolLM2 through lm-eval, the llama.cpp server): run only when
    asked for with ``-m slow`` (or ``-m real``), as the full demo; the default run keeps
    the zoo-model agreement tests."""
    expr = request.config.getoption("markexpr") or ""
    if not any(m in expr and f"not {m}" not in expr for m in ("slow", "real")):
        pytest.skip("minutes long: runs with -m slow or -m real")
