"""Entry points of the registry: ``add``, ``search`` and ``references_for`` (for audit and round).

``client`` is an optional ``distributed.Client`` (see ``distributed.connect``);
without one everything runs in this process. Results are the same bytes either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fromscratch.errors import InputError
from fromscratch.lineage.fingerprint import Fingerprint, build_fingerprint
from fromscratch.registry.store import Entry, Registry


def fingerprint(location: str | Path, *, client: Any = None, progress: bool = False) -> Fingerprint:
    """The model's fingerprint: cached in-process pass, or tensor groups on the cluster."""
    if not Path(location).exists():
        raise InputError(location, "no such file or directory")
    if client is None:
        return build_fingerprint(location, progress=progress)
    from fromscratch.registry.distributed import fingerprint_on

    return fingerprint_on(client, location)


def add(model: str | Path, name: str, *, registry: str | Path | None = None, client: Any = None,
        replace: bool = False, progress: bool = False) -> Entry:
    """Fingerprint ``model`` and register it as ``name`` (fingerprints only, never weights)."""
    from fromscratch.digests import tree_sha256

    fp = fingerprint(model, client=client, progress=progress)
    with Registry(registry) as reg:
        return reg.put(name, fp, digest=tree_sha256(model), source=str(Path(model).resolve()), replace=replace)


def search(candidate: str | Path, *, registry: str | Path | None = None, client: Any = None,
           seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """``fromscratch.search/1``: the candidate against every registered model."""
    from fromscratch.registry.search import search_fingerprint

    cand = fingerprint(candidate, client=client, progress=progress)
    with Registry(registry) as reg:
        if len(reg) == 0:
            raise InputError(reg.root, "the registry is empty (fromscratch registry add MODEL --name NAME, "
                                       "or fromscratch registry defaults)")
        comparer = None
        if client is not None:
            from fromscratch.registry.distributed import comparer_on

            comparer = comparer_on(client)
        return search_fingerprint(cand, reg, seed=seed, comparer=comparer)


def references_for(candidate: str | Path, registry: str | Path | None = None, *,
                   client: Any = None) -> tuple[list[str], list[dict[str, Any]]]:
    """(``NAME=PATH`` references, notes) for ``audit``/``round``: the registered models the
    pre-filter passes for this candidate and whose recorded source is still on disk.

    An audit needs the reference's files (tokenizer, config), not only its
    fingerprint, so passed models whose source is gone are returned in the notes
    instead, with the reason; the caller reports them.
    """
    from fromscratch.registry.search import prefilter

    cand = fingerprint(candidate, client=client)
    refs, notes = [], []
    with Registry(registry) as reg:
        passed, _ = prefilter(cand, reg)
        for rec in passed:
            e = reg.get(rec["name"])
            if e.source and Path(e.source).exists():
                refs.append(f"{e.name}={e.source}")
            else:
                notes.append({"name": e.name, "routes": rec["routes"],
                              "reason": "passed the pre-filter but its model files are not on this machine"})
    return refs, notes


def audit_lineage(candidate: str | Path, against: list[str], registry: str | Path | None = None, *,
                  client: Any = None, seed: int = 0) -> tuple[list[str], dict[str, Any], list[dict[str, Any]]]:
    """(all references, lineage ``fromscratch.audit/1`` object, notes) for ``audit --registry``.

    The references are the ``--against`` ones followed by the registered models
    the pre-filter passes (``references_for``). Because the pre-filter looked at
    every registered model, each p-value is Bonferroni-corrected for all of them
    plus the explicit references, not only for those that were finally tested.
    The object is what ``policy.api.run_audit(weights=...)`` takes.
    """
    from fromscratch.lineage.api import AUDIT_SCHEMA, _bonferroni_references, compare_fingerprints
    from fromscratch.lineage.compare import CandidateMemo
    from fromscratch.policy.api import parse_reference

    extra, notes = references_for(candidate, registry, client=client)
    refs = list(against) + extra
    with Registry(registry) as reg:
        factor = len(against) + len(reg)
    cand = fingerprint(candidate, client=client)
    memo = CandidateMemo(cand)
    results = []
    for r in refs:
        obj = compare_fingerprints(cand, fingerprint(parse_reference(r).path, client=client), seed=seed, shared=memo)
        _bonferroni_references(obj, factor, cand.components())
        results.append(obj)
    verdicts = [r["verdict"] for r in results]
    verdict = next((v for v in ("identical", "derived") if v in verdicts),
                   "independent" if verdicts and all(v == "independent" for v in verdicts) else "inconclusive")
    summary = {"path": cand.meta["path"], "format": cand.meta["format"], "parameters": int(cand.meta["parameters"])}
    return refs, {"schema": AUDIT_SCHEMA, "candidate": summary, "verdict": verdict, "references": results}, notes
