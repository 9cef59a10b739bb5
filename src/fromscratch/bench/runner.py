"""Running a task against a backend, resumably.

Each finished item is appended to an item log (JSONL, flushed and fsync'ed)
before the next result is accepted, so a crash loses at most the items in
flight. On a re-run the log is read back and finished items are never asked of
the model again; a torn last line (a crash mid-write) is dropped. The log's
first line names the task, its data and the backend: a log written for another
task or model is refused rather than mixed in.

Items run concurrently (the backend says how many at once); results are
written in completion order but the returned rows are always in item order, so
the output is identical however the work was split or interrupted.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from fromscratch.bench.backends.base import Backend, Generation
from fromscratch.bench.reasoning import split_reasoning
from fromscratch.bench.scoring import score_choices, score_generation
from fromscratch.bench.tasks import Item, Task
from fromscratch.errors import InputError

LOG_SCHEMA = "fromscratch.bench-log/1"


def run_item(task: Task, item: Item, backend: Backend) -> dict[str, Any]:
    """Ask the model one item and score it."""
    req = item.request
    rec: dict[str, Any] = {"item": item.item_id, "prompt_sha256": req.sha256()}
    if req.kind == "loglikelihood":
        res = backend.loglikelihood(req.context, list(req.continuations))
        score, pred = score_choices(task, item, [ll for ll, _ in res])
        rec.update(score=score, prediction=pred, gold=item.gold_index,
                   logliks=[ll for ll, _ in res], greedy=[g for _, g in res])
    else:
        if req.images:
            if not getattr(backend, "vision", False):
                raise InputError(task.source, "this task shows images: run it against a vision model's "
                                              "OpenAI-compatible server (--base-url)")
            gen = backend.generate(req.context, list(req.until), req.max_tokens, images=[p for p, _ in req.images])
        else:
            gen = backend.generate(req.context, list(req.until), req.max_tokens)
        if not isinstance(gen, Generation):  # a backend written against the older text-only interface
            gen = Generation(str(gen))
        parts = split_reasoning(gen.text, task.reasoning_spans)
        score, answer = score_generation(task, item, parts.answer)
        rec.update(score=score, response=gen.text, answer=answer, target=item.target, cut=gen.cut)
        if parts.reasoning or parts.unfinished:
            rec.update(reasoning=parts.reasoning, reasoning_unfinished=parts.unfinished)
    return rec


def run_items(task: Task, items: list[Item], backend: Backend) -> list[dict[str, Any]]:
    """Several multiple-choice items in one backend call when the backend batches."""
    many = getattr(backend, "loglikelihood_many", None)
    if many is None or len(items) == 1 or any(it.request.kind != "loglikelihood" for it in items):
        return [run_item(task, it, backend) for it in items]
    results = many([(it.request.context, list(it.request.continuations)) for it in items])
    out = []
    for it, res in zip(items, results):
        score, pred = score_choices(task, it, [ll for ll, _ in res])
        out.append({"item": it.item_id, "prompt_sha256": it.request.sha256(), "score": score, "prediction": pred,
                    "gold": it.gold_index, "logliks": [ll for ll, _ in res], "greedy": [g for _, g in res]})
    return out


def read_log(path: Path, header: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Finished items of an existing log (dropping a torn last line)."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    lines = path.read_bytes().split(b"\n")
    good = 0
    for n, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except (ValueError, RecursionError):
            if n >= len(lines) - 2:  # torn tail from a crash: ignore it and rewrite below
                break
            raise InputError(path, f"corrupt item log at line {n + 1}") from None
        if n == 0:
            if rec != header:
                raise InputError(path, "item log belongs to another task, data or model; "
                                       "move it away to start over")
        else:
            done[str(rec["item"])] = rec
        good = n + 1
    if good and good < len([ln for ln in lines if ln.strip()]):
        _rewrite(path, lines[:good])
    return done


def _rewrite(path: Path, lines: list[bytes]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(b"\n".join(ln for ln in lines if ln.strip()) + b"\n")
    os.replace(tmp, path)


def run_task(task: Task, backend: Backend, log_path: str | Path, *, progress: bool | None = None,
             on_item: Callable[[dict[str, Any]], None] | None = None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Run every unfinished item; return (records in item order, counts).

    counts = {"items": total, "reused": from the log, "asked": run now}.
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    header = {"schema": LOG_SCHEMA, "task": task.name, "task_sha256": task.sha256(), "backend": backend.describe()}
    done = read_log(log_path, header)
    valid = {it.item_id: it for it in task.items}
    for item_id, rec in done.items():
        if item_id not in valid or rec.get("prompt_sha256") != valid[item_id].request.sha256():
            raise InputError(log_path, f"item log entry {item_id!r} does not match the task")
    todo = [it for it in task.items if it.item_id not in done]
    counts = {"items": len(task.items), "reused": len(done), "asked": 0}
    if progress is None:
        progress = sys.stderr.isatty()
    bar = _Progress(task.name, len(task.items), len(done)) if progress and todo else None
    fh = log_path.open("ab")
    try:
        if log_path.stat().st_size == 0:
            _append(fh, header)
        # Groups are aligned to absolute item positions, so a clean run and a resumed
        # one batch the same items together (floating-point sums depend on batch shape).
        per_call = max(1, int(getattr(backend, "batch_items", 1)))
        position = {item.item_id: n for n, item in enumerate(task.items)}
        grouped: dict[int, list[Item]] = {}
        for item in todo:
            grouped.setdefault(position[item.item_id] // per_call, []).append(item)
        groups = [grouped[k] for k in sorted(grouped)]
        with ThreadPoolExecutor(max_workers=max(1, backend.concurrency)) as pool:
            it = iter(groups)
            pending = set()
            for _ in range(max(1, backend.concurrency) * 2):
                nxt = next(it, None)
                if nxt is None:
                    break
                pending.add(pool.submit(run_items, task, nxt, backend))
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                failure = next((f.exception() for f in finished if f.exception() is not None), None)
                for fut in finished:
                    if fut.exception() is not None:
                        continue
                    for rec in fut.result():
                        _append(fh, rec)
                        done[rec["item"]] = rec
                        counts["asked"] += 1
                        if bar:
                            bar.advance()
                        if on_item:
                            on_item(rec)
                    nxt = None if failure else next(it, None)
                    if nxt is not None:
                        pending.add(pool.submit(run_items, task, nxt, backend))
                if failure is not None:  # stop; every finished item stays logged
                    for f in pending:
                        f.cancel()
                    raise failure
    finally:
        fh.close()
        if bar:
            bar.close()
    return [done[it.item_id] for it in task.items], counts


def _append(fh: Any, rec: dict[str, Any]) -> None:
    fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
    fh.flush()
    os.fsync(fh.fileno())


class _Progress:
    """A rich progress bar on stderr; only created when stderr is a terminal."""

    def __init__(self, name: str, total: int, completed: int) -> None:
        from rich.progress import Progress

        self.p = Progress(transient=True)
        self.p.start()
        self.t = self.p.add_task(name, total=total, completed=completed)

    def advance(self) -> None:
        self.p.advance(self.t)

    def close(self) -> None:
        self.p.stop()
