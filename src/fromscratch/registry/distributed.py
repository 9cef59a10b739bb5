"""Fingerprinting and comparisons on an existing Dask cluster.

Fingerprinting runs the three steps of ``lineage.fingerprint_pass`` as
tasks: one task computes the context (the anchor pass over the embeddings, the
residual coordinates, probe rows, norm gains) while another summarises the
tensors that need none of it (heads); then the other tensors are split
into consecutive groups balanced by size, one task each, every task given the
context (handed from worker to worker, never re-computed) and returning only
its tensors' summaries. Every task opens the model itself (workers must see
the same path: a shared file system); headers only are read to open it. Since
each summary depends only on its tensor and the context, the merged
fingerprint has the same canonical bytes as a single-process pass (tested).

Comparisons send the candidate fingerprint once (scattered) and one task per
reference; a worker reads the reference's fingerprint file from the registry
folder, so the registry must also be on a shared path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fromscratch.errors import InputError, require
from fromscratch.lineage.fingerprint import Fingerprint


def connect(address: str) -> Any:
    """A ``distributed.Client`` for ``address`` (``tcp://host:8786``, or a scheduler file path)."""
    distributed = require("distributed", "dask")
    try:
        if address.endswith(".json") and Path(address).exists():
            return distributed.Client(scheduler_file=address, timeout=30)
        return distributed.Client(address, timeout=30)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(address, f"cannot reach the Dask scheduler: {exc}") from None


def context_task(location: str) -> Any:
    """Step 1 on a worker: the anchor pass (``fingerprint_pass.context``)."""
    from fromscratch.artifacts import open_model
    from fromscratch.lineage import fingerprint_pass as P

    with open_model(Path(location)) as model:
        return P.context(model)


def blocks_task(location: str, ctx: Any, keys: list[Any]) -> Any:
    """Step 2 on a worker: the tensors ``keys``; returns (arrays, tensor entries)."""
    from fromscratch.artifacts import open_model
    from fromscratch.lineage import fingerprint_pass as P

    with open_model(Path(location)) as model:
        return P.block_pass(model, ctx, keys)


def early_task(location: str) -> Any:
    """Step 2 for the ``early`` tensors (heads), needing only the headers and the tokenizer."""
    from fromscratch.artifacts import open_model
    from fromscratch.lineage import fingerprint_pass as P

    with open_model(Path(location)) as model:
        hctx = P.header_context(model)
        return P.block_pass(model, hctx)


def plan_groups(ctx: Any, n_groups: int, *, skip_early: bool = False) -> list[list[Any]]:
    """Tensor keys per step-2 task: consecutive, balanced by number of values.

    Slices of one fused stored tensor stay together (the reader decodes it once
    for all its slices).
    """
    units: list[list[tuple[Any, int]]] = []
    last = None
    for key, stored, n, is_early in ctx.todo:
        if skip_early and is_early:
            continue
        if stored != last or not units:
            units.append([])
        units[-1].append((key, n))
        last = stored
    total = sum(n for u in units for _, n in u) or 1
    groups: list[list[Any]] = [[] for _ in range(max(1, n_groups))]
    acc = 0
    for unit in units:
        size = sum(n for _, n in unit)
        g = min(len(groups) - 1, int((acc + size / 2) * len(groups) / total))
        groups[g].extend(k for k, _ in unit)
        acc += size
    return [g for g in groups if g]


def fingerprint_on(client: Any, location: str | Path, *, n_groups: int | None = None) -> Fingerprint:
    """Fingerprint ``location`` on the cluster behind ``client``.

    One task computes the context (anchors, coordinates, probes) while another
    summarises the tensors that do not need it (heads: ``fingerprint_pass.early``);
    then ``n_groups`` tasks (default two per worker, so a worker slowed by other
    load takes fewer) summarise the rest given the context. Only the context
    (tens of MB at most) and the parts travel; no task repeats another's reads.
    """
    from fromscratch.lineage import fingerprint_pass as P

    loc = str(Path(location).resolve())
    if n_groups is None:
        n_groups = 2 * max(1, len(client.scheduler_info().get("workers", {})))
    cfut = client.submit(context_task, loc, pure=False)
    efut = client.submit(early_task, loc, pure=False)
    ctx = cfut.result()
    futures = [client.submit(blocks_task, loc, cfut, g, pure=False)
               for g in plan_groups(ctx, n_groups, skip_early=True)]
    return P.finish(ctx, [efut.result(), *client.gather(futures)])


def _compare_task(cand: Fingerprint, fp_path: str, sha: str, seed: int) -> dict[str, Any]:
    import hashlib

    from fromscratch.lineage.api import compare_fingerprints
    from fromscratch.registry import fpfile

    data = Path(fp_path).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha:
        raise InputError(fp_path, "fingerprint file does not match its recorded SHA-256")
    return compare_fingerprints(cand, fpfile.from_bytes(data), seed=seed)


def comparer_on(client: Any):
    """A ``comparer`` for ``search_fingerprint`` that runs one task per reference."""

    def run(cand: Fingerprint, names: list[str], reg: Any, seed: int) -> list[dict[str, Any]]:
        if not names:
            return []
        [cfut] = client.scatter([cand], broadcast=True)
        futures = []
        for name in names:
            e = reg.get(name)
            futures.append(client.submit(_compare_task, cfut, str(reg.fingerprint_path(e).resolve()),
                                         e.fingerprint, seed, pure=False))
        return client.gather(futures)

    return run
