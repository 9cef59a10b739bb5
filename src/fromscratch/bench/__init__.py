"""Benchmarks: lm-eval-format tasks, backends, resumable runs, item-level results.

``resolve_task(spec)`` accepts a built-in pack name (``ko-particles``), a task
YAML path, or ``NAME:PATH`` for the real programme's benchmarks (KMMLU,
KMMLU-Redux/Pro, HAE-RAE, CLIcK, KoBEST, document VQA) from local files (see
`fromscratch.bench.loaders`).
"""

from __future__ import annotations

from pathlib import Path


def resolve_task(spec: str | Path, *, base: Path | None = None):
    """A Task from a pack name, a YAML path (relative to `base`), or 'kmmlu:PATH' etc."""
    from fromscratch.bench.packs import list_packs, pack_path
    from fromscratch.bench.tasks import load_task

    text = str(spec)
    if text in list_packs():
        return load_task(pack_path(text))
    from fromscratch.bench.loaders import load_benchmark, loader_names

    if ":" in text and text.split(":", 1)[0] in loader_names():
        kind, path = text.split(":", 1)
        p = Path(path)
        return load_benchmark(kind, p if path == "hf" or p.is_absolute() or base is None else base / p)
    p = Path(text)
    if not p.is_absolute() and base is not None:
        p = base / p
    return load_task(p)
