"""The real programme's benchmarks, from files the organiser provides.

No Korean benchmark ships in a package registry, so an agency downloads them
once (or finds them in its local Hugging Face cache) and points us at the
files; nothing here touches the network. Each benchmark's prompt is an
lm-evaluation-harness task definition shipped in ``taskdefs/`` (the same
templates as lm-eval's own ``kmmlu``, ``haerae``, ``click`` and ``kobest``
tasks, with their Python hooks written as templates), so a score can be
reproduced with lm-eval from the same YAML.

``NAME:PATH`` selects one: PATH is a data file, a folder (its ``*test*`` files,
one subset per file), or ``hf`` for the dataset in the local Hugging Face cache
(resolved by `fromscratch.artifacts.model.resolve_hub_id`, which follows
``refs/main`` to a commit and checks it). A file that is missing, or that lacks a
column the definition needs, is named in a one-line error.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

from fromscratch.bench.tasks import Task, read_records, task_from_config
from fromscratch.errors import InputError

TASKDEFS = Path(__file__).parent / "taskdefs"
HF_REPOS = {"kmmlu": "HAERAE-HUB/KMMLU", "haerae": "HAERAE-HUB/HAE_RAE_BENCH_1.0", "click": "EunsuKim/CLIcK",
            "kobest": "skt/kobest_v1", "kmmlu_redux": "LGAI-EXAONE/KMMLU-Redux", "kmmlu_pro": "LGAI-EXAONE/KMMLU-Pro"}
KOBEST = ("kobest_boolq", "kobest_copa", "kobest_hellaswag", "kobest_sentineg", "kobest_wic")
_DATA_SUFFIXES = {".csv", ".jsonl", ".json", ".parquet"}


def loader_names() -> list[str]:
    return sorted(p.stem for p in TASKDEFS.glob("*.yaml")) + ["kobest"]


def taskdef(name: str) -> dict[str, Any]:
    path = TASKDEFS / f"{name}.yaml"
    if not path.is_file():
        raise InputError(name, f"unknown benchmark (have: {', '.join(loader_names())})")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _root(name: str, path: Path) -> Path:
    if str(path) != "hf":
        return path
    from fromscratch.artifacts.model import resolve_hub_id

    repo = HF_REPOS.get(name.split("_")[0] if name.startswith("kobest") else name)
    hit = resolve_hub_id(repo, repo_type="dataset") if repo else None
    if hit is None:
        raise InputError(f"{name}:hf", f"{repo or name} is not in the local Hugging Face cache "
                                       "(or its refs/main names no snapshot there)")
    return hit[0]


def _files(path: Path, subset: str | None) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(path, "benchmark data not found")
    found = sorted(p for p in path.rglob("*") if p.suffix.lower() in _DATA_SUFFIXES and p.is_file())
    if subset:  # a KoBEST folder holds all five subsets
        found = [p for p in found if subset in p.as_posix().lower()]
    tests = [p for p in found if "test" in p.name.lower()]
    if not (tests or found):
        raise InputError(path, "no CSV/JSONL/Parquet data files here")
    return tests or found


def _docs(files: list[Path]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for f in files:
        subset = f.stem.replace("-test", "").replace("_test", "")
        for i, row in enumerate(read_records(f)):
            row = dict(row)
            row.setdefault("_subset", subset)
            row["id"] = f"{subset}/{row.get('id', i)}"
            for key in ("choices", "options", "answers"):  # CSV keeps lists as their repr
                if isinstance(row.get(key), str) and row[key].lstrip().startswith("["):
                    try:
                        row[key] = ast.literal_eval(row[key])
                    except (ValueError, SyntaxError):
                        raise InputError(f, f"row {i + 1}: {key} is not a list") from None
            docs.append(row)
    if not docs:
        raise InputError(files[0], "no items")
    return docs


def _kobest_kind(cols: set[str], where: Path) -> str:
    for name in KOBEST:
        if set(taskdef(name)["metadata"]["columns"]) <= cols:
            return name
    raise InputError(where, "KoBEST data with unknown columns")


def load_benchmark(name: str, path: str | Path) -> Task:
    """One benchmark (a ``taskdefs`` name, or ``kobest`` to detect the subset) from local data."""
    path = _root(name, Path(path))
    subset = name.split("_", 1)[1] if name.startswith("kobest_") else None
    files = _files(path, subset)
    docs = _docs(files)
    if name == "kobest":
        name = _kobest_kind(set(docs[0]), files[0])
    cfg = taskdef(name)
    need = set(cfg["metadata"]["columns"])
    for f in files:
        cols = set(next(d for d in docs if d["_subset"] == f.stem.replace("-test", "").replace("_test", "")))
        if need - cols:
            raise InputError(f, f"{name} data lacks columns {', '.join(sorted(need - cols))}")
    cfg["metadata"] = {**cfg["metadata"], "source": name}
    base = path if path.is_dir() else path.parent
    return task_from_config(cfg, base=base, source=str(path), docs=docs)


def load_korean(kind: str, path: str | Path) -> Task:
    """Kept for callers of the earlier name."""
    return load_benchmark(kind, path)
