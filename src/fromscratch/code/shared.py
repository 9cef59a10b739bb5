"""What a candidate file and a reference file share, spelled out for `evidence` and `matches`.

WHY apart from the verdict: these only explain a verdict already reached (the rarest shared
names and operation sequences, whether a matched unit is verbatim or renamed); nothing here
decides one, so it can change wording without changing any relation or origin.
"""

from __future__ import annotations

import difflib

from fromscratch.code.fingerprint import feature_hash
from fromscratch.code.index import Index
from fromscratch.code.lang import SourceFile, Unit


def _ratio(a: list[str], b: list[str]) -> float:
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def match_kind(cu: Unit, ru: Unit) -> str:
    if _ratio(cu.raw, ru.raw) >= 0.95:
        return "verbatim"
    if _ratio(cu.masked, ru.masked) >= 0.90:
        return "renamed"
    return "restructured"


def shared_features(index: Index, cand: SourceFile, ref: SourceFile, kind: str, limit: int = 12) -> list[str]:
    """The rarest features (by corpus idf) that the candidate and reference share."""
    if kind == "ident":
        c = {f[2:] for u in cand.units for f in u.idents if f.startswith("i:")}
        r = {f[2:] for u in ref.units for f in u.idents if f.startswith("i:")}
        prefix = "i:"
    else:
        c = {f for u in cand.units for f in u.struct if f.startswith(("a:", "c3:"))}
        r = {f for u in ref.units for f in u.struct if f.startswith(("a:", "c3:"))}
        prefix = ""
    shared = sorted(c & r)
    if not shared:
        return []
    weights = []
    for s in shared:
        col, unseen = index.lookup(kind, {feature_hash(kind, prefix + s)})
        weights.append(float(index.idf[kind][col[0]]) if len(col) else 0.0)
    order = sorted(range(len(shared)), key=lambda i: (-weights[i], shared[i]))
    return [shared[i] for i in order[:limit] if weights[i] > 0]


def shared_interface(index: Index, cand: SourceFile, ref: SourceFile, limit: int = 12) -> list[str]:
    """The rarest (by corpus idf) interface names the candidate and reference share."""
    shared = sorted(set(cand.interface) & set(ref.interface))
    found, pos = index.interface_lookup(shared)
    weights = [float(index.iface_idf[p]) if f else 0.0 for f, p in zip(found, pos)]
    order = sorted(range(len(shared)), key=lambda i: (-weights[i], shared[i]))
    return [shared[i] for i in order[:limit] if weights[i] > 0]
