"""Session fixtures for tokenizer tests (helpers live in tokfixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tokenizers")

from tests.tokenizer.tokfixtures import train_bpe  # noqa: E402


@pytest.fixture(scope="session")
def bpe_pair(tmp_path_factory) -> tuple[Path, Path]:
    """tokenizer.json files of two independently trained byte-level BPEs."""
    root = tmp_path_factory.mktemp("bpe")
    paths = []
    for seed in (1, 2):
        path = root / f"seed{seed}" / "tokenizer.json"
        path.parent.mkdir()
        path.write_text(train_bpe(seed).to_str(), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


