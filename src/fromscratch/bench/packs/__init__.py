"""Built-in benchmark packs: original Korean and English items, Apache-2.0.

Each pack is a folder with an lm-evaluation-harness ``task.yaml`` and its
``test.jsonl``; ``tests/generators/packs.py`` in the source repository re-creates them
deterministically.
"""

from __future__ import annotations

from pathlib import Path

from fromscratch.errors import InputError

HERE = Path(__file__).parent


def list_packs() -> list[str]:
    return sorted(p.name for p in HERE.iterdir() if p.is_dir() and (p / "task.yaml").is_file())


def pack_path(name: str) -> Path:
    if name not in list_packs():
        raise InputError(name, f"no built-in pack of that name (have: {', '.join(list_packs())})")
    return HERE / name / "task.yaml"
