"""Fingerprinting and comparisons on an existing Dask cluster.

Fingerprinting a model splits it into tensor groups (consecutive blocks,
balanced by parameter count), one task each. Every task opens the model itself
(workers must see the same path: a shared file system), runs the ordinary
streaming pass of ``lineage.fingerprint`` on a view of the model restricted to
its group plus what that pass needs to fix the residual coordinates (the
embedding components and the first block of each tower), and returns a partial
fingerprint. The parts are merged in the model's own component order; since
every value is computed by the same code from the same tensor, the merged
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


class _ModelView:
    """A model whose ``components()`` is a subset; everything else is the full model's."""

    def __init__(self, model: Any, keep: set[str]) -> None:
        self._model = model
        self._keep = keep

    def components(self) -> list[Any]:
        return [c for c in self._model.components() if c.name in self._keep]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _always(comps: list[Any]) -> set[str]:
    """Components every part needs so that towers and coordinates come out as in a full pass."""
    keep = {c.name for c in comps if c.kind == "embedding"}
    seen: set[str] = set()
    for c in comps:
        if c.kind in {"attention", "mlp"} and c.tower not in seen:
            seen.add(c.tower)
            keep.add(c.name)
    from fromscratch.lineage.responses import norm_component

    names = {c.name for c in comps}
    keep |= {n for n in (norm_component(k) for k in list(keep)) if n in names}  # the gains they are read with
    return keep


def plan_groups(location: str | Path, n_groups: int) -> list[list[str]]:
    """Component names per task: consecutive, balanced by parameters, headers only."""
    from fromscratch.artifacts import open_model
    from fromscratch.lineage.responses import norm_component

    with open_model(Path(location), headers_only=True) as model:
        comps = model.components()
    always = _always(comps)
    # a block's components stay together: its matrices' token-response profiles need the
    # block's own norm gains, which a part without them would not see
    units: dict[str, list[Any]] = {}
    for c in comps:
        if c.name not in always:
            units.setdefault(norm_component(c.name) or c.name, []).append(c)
    total = sum(int(c.parameters) for c in comps if c.name not in always) or 1
    groups: list[list[str]] = [[] for _ in range(max(1, n_groups))]
    acc = 0
    for unit in units.values():
        g = min(len(groups) - 1, int(acc * len(groups) / total))
        groups[g].extend(c.name for c in unit)
        acc += sum(int(c.parameters) for c in unit)
    base = sorted(always)
    return [base + g for g in groups if g] or [base]


def fingerprint_part(location: str, names: list[str]) -> Fingerprint:
    """One task: the streaming fingerprint pass over a view of the model."""
    from fromscratch.artifacts import open_model
    from fromscratch.lineage.fingerprint import _fingerprint_model

    with open_model(Path(location)) as model:
        return _fingerprint_model(_ModelView(model, set(names)))


def merge_parts(location: str | Path, parts: list[Fingerprint]) -> Fingerprint:
    """One fingerprint from the parts, components in the model's own order."""
    from fromscratch.artifacts import open_model

    with open_model(Path(location), headers_only=True) as model:
        order = [c.name for c in model.components()]
    arrays: dict[str, Any] = {}
    comps: dict[str, dict[str, Any]] = {}
    for p in parts:
        for k, v in p.arrays.items():
            arrays.setdefault(k, v)
        for c in p.meta["components"]:
            comps.setdefault(c["name"], c)
    meta = dict(parts[0].meta)
    meta["components"] = [comps[n] for n in order if n in comps]
    return Fingerprint(meta, arrays)


def fingerprint_on(client: Any, location: str | Path, *, n_groups: int | None = None) -> Fingerprint:
    """Fingerprint ``location`` on the cluster behind ``client`` (one task per tensor group)."""
    loc = str(Path(location).resolve())
    if n_groups is None:
        n_groups = max(1, len(client.scheduler_info().get("workers", {})))
    groups = plan_groups(loc, n_groups)
    futures = [client.submit(fingerprint_part, loc, g, pure=False) for g in groups]
    return merge_parts(loc, client.gather(futures))


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
