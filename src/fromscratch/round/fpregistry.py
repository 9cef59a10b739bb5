"""A fingerprint registry as a round input: its digest (what the ledger seals) and the Dask client.

A registry (``fromscratch registry``) decides what a submission is audited
against, so a round records it like a reference: by a content digest. The
digest covers the registry's index as the audit reads it — every registered
model's name, content digest, format, method, recorded source path and the
SHA-256 of its fingerprint file — in name order. The fingerprint files are
checked against those SHA-256s whenever they are loaded, and the sketches and
hash tables are derived from them, so a change to anything the search reads
changes the digest or fails the load. A Dask scheduler is not an input: results
are the same bytes with and without one (tested), so its address is recorded
nowhere and does not enter a stage's cache key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from fromscratch.errors import InputError

ROLE = "fingerprint-registry"


def registry_seal(location: str | Path) -> dict[str, Any]:
    """``{"sha256", "models"}`` of the registry at ``location`` (refused when it is not one)."""
    from fromscratch.registry.store import Registry

    root = Path(location)
    if not (root / "index.sqlite").is_file():
        raise InputError(root, "not a fingerprint registry (no index.sqlite; create one with "
                               "`fromscratch registry add`)")
    with Registry(root) as reg:
        rows = [[e.name, e.digest, e.format, e.method, e.source, e.fingerprint] for e in reg.entries()]
    text = json.dumps(["fromscratch.registry-digest/1", rows], separators=(",", ":"), ensure_ascii=False)
    return {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "models": len(rows)}


def registry_lineage(model: str | Path, refs: list[str], location: Path, *, client: Any, seed: int
                     ) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """(all references, lineage object, the audit's ``fingerprint_registry`` section).

    The references are ``refs`` (the round's own) followed by the registered models
    the pre-filter passes for ``model`` (``registry.api.audit_lineage``, p-values
    corrected for every registered model); the section names those that were added
    and those passed over because their files are not on this machine.
    """
    from fromscratch.registry.api import audit_lineage

    all_refs, weights, notes = audit_lineage(model, refs, location, client=client, seed=seed)
    added = [r.partition("=")[0] for r in all_refs[len(refs):]]
    return all_refs, weights, {"models": registry_seal(location)["models"], "added": added,
                               "notes": [{"name": n["name"], "reason": n["reason"]} for n in notes]}


def connect(address: str | None) -> Any:
    """A ``distributed.Client`` for ``--dask ADDRESS``, or None without one."""
    if not address:
        return None
    from fromscratch.registry.distributed import connect as dask_connect

    return dask_connect(address)
