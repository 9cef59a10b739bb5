"""Building the zoo: once, deterministically, cached, safe against concurrent builds.

The zoo lives in ``cache_dir()/zoo/<version>``; the version is a hash of the
zoo's own source files and the torch / tokenizers versions, so any change of a
recipe rebuilds it. A build takes an exclusive file lock, writes into a
temporary sibling folder and renames it into place only when complete, so a
reader never sees a half-built zoo and two processes never build at once.

Models are trained in worker processes with one torch thread each (fixed thread
count and ``torch.use_deterministic_algorithms(True)``: identical bytes on
rebuild); independent models train in parallel, up to ``workers`` at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from fromscratch import constants
from fromscratch.cache import file_lock
from fromscratch.zoo.catalogue import SCHEMA, Zoo, cache_dir

ZOO_FORMAT = 1


@dataclass(frozen=True)
class Task:
    """One unit of work: ``func(work, *args)`` after every task in ``after`` finished."""

    key: str
    func: str                     # attribute name in fromscratch.zoo.recipes
    args: tuple = ()
    after: tuple[str, ...] = ()
    cost: float = 1.0             # rough relative cost, to start long tasks first


def tasks() -> list[Task]:
    """The whole zoo as a dependency graph."""
    t = [Task(f"llama-s{k}", "llama_seed", (k,), cost=120) for k in range(4)]
    t += [
        Task("llama-tokb", "llama_tokb", cost=70),
        Task("llama-norm-a", "llama_normpair", ("a",), cost=80),
        Task("llama-norm-b", "llama_normpair", ("b",), cost=80),
        Task("llama-s0-ft", "llama_ft", after=("llama-s0",), cost=40),
        Task("llama-s0-cpt", "llama_cpt", after=("llama-s0",), cost=300),
        Task("llama-s0-perm", "llama_perm", after=("llama-s0",), cost=1),
        Task("llama-s0-prune", "llama_prune", after=("llama-s0",), cost=20),
        Task("llama-s0-dus", "llama_dus", after=("llama-s0",), cost=45),
        Task("llama-s0-vocab", "llama_vocab", after=("llama-s0",), cost=30),
        Task("llama-s0-width", "llama_width", after=("llama-s0",), cost=18),
        Task("llama-s0-moe", "llama_moe", after=("llama-s0",), cost=80),
        Task("llama-s0-reinit", "llama_reinit", after=("llama-s0",), cost=110),
        Task("llama-s0-permft-notok", "llama_permft_notok", after=("llama-s0",), cost=40),
        Task("llama-s0-q80", "llama_gguf", ("llama-s0", "Q8_0", "llama-s0"), after=("llama-s0",), cost=2),
        Task("llama-s0-q40", "llama_gguf", ("llama-s0", "Q4_0", "llama-s0"), after=("llama-s0",), cost=2),
        Task("llama-s1-q80", "llama_gguf", ("llama-s1", "Q8_0", "llama-s0"), after=("llama-s1",), cost=2),
        Task("llama-s0-pt", "llama_pt", after=("llama-s0",), cost=1),
        Task("bert-s0", "bert_seed", (0,), cost=60),
        Task("bert-s1", "bert_seed", (1,), cost=60),
        Task("llava-transplant", "llava_transplant", after=("bert-s0",), cost=60),
        Task("llava-clean", "llava_clean", cost=60),
    ]
    return t


#: every variant issue 2 item 5 asks for, and the zoo entry that provides it.
REQUIRED_VARIANTS = {
    "seed siblings": ["llama-s0", "llama-s1", "llama-s2", "llama-s3"],
    "different tokenizer": ["llama-tokb"],
    "near-identical norms pair": ["llama-norm-a", "llama-norm-b"],
    "fine-tuned": ["llama-s0-ft"],
    "long continued pre-training": ["llama-s0-cpt"],
    "permutation of units and heads": ["llama-s0-perm"],
    "layer-pruned": ["llama-s0-prune"],
    "depth-up-scaled": ["llama-s0-dus"],
    "vocabulary-extended": ["llama-s0-vocab"],
    "width-pruned": ["llama-s0-width"],
    "MoE-upcycled": ["llama-s0-moe"],
    "blocks re-initialised inside a reused stream": ["llama-s0-reinit"],
    "permuted (units, heads, residual) then fine-tuned, no tokenizer files": ["llama-s0-permft-notok"],
    "GGUF Q8_0": ["llama-s0-q80"],
    "GGUF 4-bit": ["llama-s0-q40"],
    "PyTorch zip": ["llama-s0-pt"],
    "encoder seeds": ["bert-s0", "bert-s1"],
    "two-tower transplant": ["llava-transplant"],
    "two-tower clean": ["llava-clean"],
}


def zoo_version() -> str:
    """Hash of the recipe sources and library versions (the cache key)."""
    import importlib.metadata as md

    h = hashlib.sha256(f"format={ZOO_FORMAT}".encode())
    here = Path(__file__).parent
    for name in ("corpus.py", "tok.py", "models.py", "train.py", "variants.py", "export.py",
                 "recipes.py", "build.py"):
        h.update(name.encode() + b"\0" + (here / name).read_bytes())
    for dist in ("torch", "tokenizers", "safetensors", "gguf"):
        try:
            # local build tags (+cpu) do not change the recipe's numbers
            h.update(f"{dist}={md.version(dist).split('+')[0]}".encode())
        except md.PackageNotFoundError:
            h.update(f"{dist}=none".encode())
    return "v1-" + h.hexdigest()[:12]


def zoo_root() -> Path:
    return cache_dir() / "zoo" / zoo_version()


# --------------------------------------------------------------------------- worker side

def _init_worker() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def _run_task(work: str, func: str, args: tuple) -> tuple[list[dict], float]:
    _init_worker()
    import torch

    from fromscratch.zoo import recipes

    t0 = time.process_time()
    torch.manual_seed(0)
    out = getattr(recipes, func)(Path(work), *args)
    return out, time.process_time() - t0


# --------------------------------------------------------------------------- preparation

def prepare(work: Path) -> None:
    """Corpus, the three tokenizers, and token streams saved as .npy files."""
    import numpy as np

    from fromscratch.zoo import corpus, tok

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    general = corpus.generate("general", 300_000, seed=0)
    tok_a = tok.train_bpe(general, 1024)
    tok_b = tok.train_bpe(corpus.generate("general", 300_000, seed=7), 1536)
    tok_ext = tok.extend(tok_a, tok.EXTENSION_WORDS)
    for name, t in (("A", tok_a), ("B", tok_b), ("A-ext", tok_ext)):
        tok.save(t, work / "tokenizers" / name)
    finetune = corpus.generate("finetune", 120_000, seed=0)
    cpt = corpus.generate("general", 200_000, seed=1) + corpus.generate("finetune", 100_000, seed=1)
    held_out = corpus.generate("general", 30_000, seed=99)
    held_out_ft = corpus.generate("finetune", 20_000, seed=99)
    streams = {
        "general": (tok_a, general), "finetune": (tok_a, finetune), "cpt": (tok_a, cpt),
        "eval": (tok_a, held_out), "eval_ft": (tok_a, held_out_ft),
        "general_b": (tok_b, general), "eval_b": (tok_b, held_out),
        "general_ext": (tok_ext, general + finetune), "eval_ext": (tok_ext, held_out),
    }
    (work / "data").mkdir(parents=True, exist_ok=True)
    for name, (t, text) in streams.items():
        np.save(work / "data" / f"{name}.npy", np.asarray(tok.encode_lines(t, text), dtype=np.int32))
    (work / "corpus").mkdir(exist_ok=True)
    (work / "corpus" / "general.txt").write_text(general, encoding="utf-8")
    (work / "corpus" / "LICENSE.txt").write_text(
        "The zoo's training text is generated by fromscratch.zoo.corpus, part of the "
        "fromscratch project, under the Apache License 2.0.\n", encoding="utf-8")


# --------------------------------------------------------------------------- orchestration

def _log(progress: bool, msg: str) -> None:
    if progress:
        print(f"[zoo] {msg}", file=sys.stderr, flush=True)


def run_tasks(work: Path, selected: list[Task], workers: int, progress: bool) -> tuple[list[dict], dict]:
    """Run tasks respecting dependencies; returns entries (in task order) and timings."""
    import multiprocessing as mp

    done: dict[str, list[dict]] = {}
    timings: dict[str, float] = {}
    pending = sorted(selected, key=lambda t: -t.cost)
    running: dict[Future, Task] = {}
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        while pending or running:
            for t in list(pending):
                if len(running) >= workers:
                    break
                if all(a in done for a in t.after):
                    pending.remove(t)
                    running[pool.submit(_run_task, str(work), t.func, t.args)] = t
            if not running:
                missing = {a for t in pending for a in t.after if a not in done}
                raise RuntimeError(f"zoo tasks wait on unknown tasks: {sorted(missing)}")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                t = running.pop(fut)
                entries, secs = fut.result()
                done[t.key] = entries
                timings[t.key] = round(secs, 2)
                _log(progress, f"{t.key} done ({secs:.1f} CPU s)")
    order = [t.key for t in selected]
    return [e for k in order for e in done[k]], timings


def _postprocess(work: Path, entries: list[dict]) -> None:
    """Metrics that need two models: the near-identical-norms pair's norm cosine."""
    import numpy as np
    from safetensors.numpy import load_file

    names = {e["name"] for e in entries}
    if {"llama-norm-a", "llama-norm-b"} <= names:
        vecs = []
        for n in ("llama-norm-a", "llama-norm-b"):
            sd = load_file(str(work / "models" / n / "model.safetensors"))
            vecs.append(np.concatenate([v.ravel() for k, v in sorted(sd.items()) if "norm" in k]))
        a, b = vecs
        cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        ac, bc = a - a.mean(), b - b.mean()
        pearson = float(ac @ bc / np.sqrt((ac @ ac) * (bc @ bc)))
        for e in entries:
            if e["name"] in ("llama-norm-a", "llama-norm-b"):
                e["metrics"]["norm_cosine_with_pair"] = round(cos, 6)
                e["metrics"]["norm_pearson_with_pair"] = round(pearson, 6)


def _default_workers() -> int:
    env = constants.zoo_workers()
    if env:
        return env
    return max(1, min(2, os.cpu_count() or 1))


def build_into(work: Path, only: list[str] | None = None, workers: int | None = None,
               progress: bool = False) -> Zoo:
    """Build (a subset of) the zoo into ``work`` (no caching, no lock)."""
    all_tasks = tasks()
    if only is not None:
        by_key = {t.key: t for t in all_tasks}
        need: set[str] = set()
        stack = list(only)
        while stack:
            k = stack.pop()
            if k not in by_key:
                raise KeyError(f"unknown zoo model {k!r}; known: {', '.join(sorted(by_key))}")
            if k not in need:
                need.add(k)
                stack.extend(by_key[k].after)
        all_tasks = [t for t in all_tasks if t.key in need]
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    _log(progress, f"preparing corpus and tokenizers in {work}")
    prepare(work)
    entries, timings = run_tasks(work, all_tasks, workers or _default_workers(), progress)
    _postprocess(work, entries)
    (work / "catalogue.json").write_text(
        json.dumps({"schema": SCHEMA, "version": zoo_version(), "entries": entries},
                   indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    import platform

    (work / "build.json").write_text(json.dumps(
        {"wall_seconds": round(time.perf_counter() - t0, 1), "task_cpu_seconds": timings,
         "total_task_cpu_seconds": round(sum(timings.values()), 1),
         "workers": workers or _default_workers(), "cpus": os.cpu_count(),
         "machine": platform.machine(), "python": platform.python_version()},
        indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return Zoo.load(work)


def build_zoo(progress: bool = False, root: Path | None = None,
              workers: int | None = None) -> Zoo:
    """The full zoo, built once and cached; later calls (any process) just load it."""
    final = Path(root) if root is not None else zoo_root()
    if (final / "catalogue.json").exists():
        return Zoo.load(final)
    with file_lock(final.parent / (final.name + ".lock")):
        if (final / "catalogue.json").exists():  # another process built it meanwhile
            return Zoo.load(final)
        # holding the lock, any temporary sibling is debris of a killed build
        for stale in final.parent.glob(f"{final.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = final.parent / f"{final.name}.tmp-{os.getpid()}"
        try:
            build_into(tmp, workers=workers, progress=progress)
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        _log(progress, f"zoo ready at {final}")
    return Zoo.load(final)


def find_zoo() -> Zoo | None:
    """The cached zoo if it is built, else None (never builds)."""
    root = zoo_root()
    return Zoo.load(root) if (root / "catalogue.json").exists() else None

