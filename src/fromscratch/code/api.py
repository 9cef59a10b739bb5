"""`analyse(candidate, against)`: the `fromscratch.code/1` object (interface 4).

Pipeline: references -> index (or a prebuilt index file) ; every candidate source
file -> units -> scores against every reference file -> ranking with p-values ->
relation (copied / adapted / independent) -> origins -> attribution and evidence ->
matched line ranges. Thresholds and their derivation are in docs/code.md.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from fromscratch.code import attribution as attr
from fromscratch.code.fingerprint import feature_hash
from fromscratch.code.index import Index, build_index, is_index_file, load_index, parse_refs
from fromscratch.code.lang import PythonLanguage, SourceFile, Unit
from fromscratch.code.port import gap_statistic
from fromscratch.code.score import T_UNIT_COPY, best_pairs, p_value, query
from fromscratch.code.sources import Skipped, list_sources, read_source
from fromscratch.errors import InputError

SCHEMA = "fromscratch.code/1"

# Thresholds (derivation and measured error rates: docs/code.md).
T_FILE_COPIED = 0.80    # code (file) score at/above which the file is "copied" from that reference
T_COVER_ADAPTED = 0.25  # share of the file's informative mass in copied units -> "adapted"
T_FILE_ADAPTED = 0.35   # file score at/above which the file is "adapted" (a port keeps this much)
ALPHA_FAMILY = 0.01     # family-wise level for the p-value route to "adapted" (Bonferroni over references)
ALPHA_PORT = 0.01       # level of the port test (identifier-containment gap) on the best reference
T_MATCH = 0.50          # unit pairs reported in `matches` for a copied origin
T_MATCH_ADAPTED = 0.25  # ... and for an adapted origin (ports keep structure, not tokens)
MIN_MATCH_TOKENS = 13   # shorter units (an import line, a one-line getter) are not reported as matches
TOP = 5


@dataclass(eq=False)
class _Hit:
    index: Index
    file_id: int
    score: float          # code (file) score: the copy thresholds apply to it
    rank: float           # ranking score: mean of code score and identifier Jaccard; p is its p-value
    ident_jac: float
    p: float | None
    cover: float          # share of candidate mass in units that are copies of this file's units
    tok: float            # token-channel file score
    ident: float
    struct: float


def _load_references(against: list[str | Path], progress: Callable[[int], None] | None) -> list[Index]:
    if not against:
        raise InputError("--against", "at least one reference is required")
    indices: list[Index] = []
    roots: list[str | Path] = []
    for spec in against:
        _, path = parse_refs(spec)
        if not path.exists():
            raise InputError(path, "no such file or directory")
        if is_index_file(path):
            indices.append(load_index(path))
        else:
            roots.append(spec)
    if roots:
        indices.append(build_index(roots, progress=progress))
    return indices


def _channel_file_scores(q, index: Index, channel: str) -> np.ndarray:
    m = q.channel[channel].tocoo()
    best = np.zeros((len(q.mass), len(index.files)))
    if m.nnz:
        np.maximum.at(best, (m.row, index.unit_file[m.col]), m.data)
    return best


class _RefCache:
    """Reference files re-parsed on demand (for evidence and line-level matches only)."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[int, int], SourceFile] = {}
        self._notices: dict[tuple[int, int], attr.Notices] = {}

    def parsed(self, index: Index, fid: int) -> SourceFile:
        key = (id(index), fid)
        if key not in self._parsed:
            self._parsed[key] = PythonLanguage().parse(index.files[fid], index.texts[fid])
        return self._parsed[key]

    def notices(self, index: Index, fid: int) -> attr.Notices:
        key = (id(index), fid)
        if key not in self._notices:
            self._notices[key] = attr.extract(index.texts[fid])
        return self._notices[key]


def _ratio(a: list[str], b: list[str]) -> float:
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _match_kind(cu: Unit, ru: Unit) -> str:
    if _ratio(cu.raw, ru.raw) >= 0.95:
        return "verbatim"
    if _ratio(cu.masked, ru.masked) >= 0.90:
        return "renamed"
    return "restructured"


def _shared_features(index: Index, cand: SourceFile, ref: SourceFile, kind: str, limit: int = 12) -> list[str]:
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


def _declared(mentions: list[str], reference_file: str) -> bool:
    """A provenance mention names this reference file (its file name, with its folder when it has one)."""
    parts = reference_file.split("/")
    name = parts[-1]
    folder = parts[-2] if len(parts) >= 2 else None
    for m in mentions:
        low = m.lower()
        if name.lower() in low and (folder is None or f"{folder.lower()}/" in low or folder == parts[0]):
            return True
    return False


def _analyse_file(rel: str, sf: SourceFile, indices: list[Index], n_refs: int, cache: _RefCache) -> tuple[dict, list[dict]]:
    hits: list[_Hit] = []
    queries = {}
    port: dict | None = None
    ported: list[tuple[Index, int]] = []
    for index in indices:
        q = query(index, sf)
        queries[id(index)] = q
        total = q.mass.sum()
        if total <= 0:
            continue
        stat, top = gap_statistic(index, q.ident_cont)
        p_port = p_value(index.null_port, stat) if stat is not None else None
        if top >= 0 and (port is None or (p_port is not None and (port["p_value"] is None or p_port < port["p_value"]))):
            port = {"reference_file": index.files[top], "statistic": None if stat is None else round(stat, 6),
                    "p_value": None if p_port is None else round(p_port, 6)}
        if p_port is not None and p_port <= ALPHA_PORT:
            ported.append((index, top))
        cover = (q.mass @ (q.best >= T_UNIT_COPY)) / total
        # candidates for origins: the best by rank, by code score (a renamed copy) and the port test's j*
        order = [int(i) for i in np.argsort(-q.rank, kind="stable")[: max(TOP, 20)]]
        order += [int(i) for i in np.argsort(-q.file_score, kind="stable")[:20] if int(i) not in order]
        order += [fid for ix, fid in ported if ix is index and fid not in order]
        chans = {c: (q.mass @ _channel_file_scores(q, index, c)) / total for c in ("tok", "ident", "struct")}
        for fid in order:
            r = float(q.rank[fid])
            if r <= 0:
                continue
            hits.append(_Hit(index, fid, float(q.file_score[fid]), r, float(q.ident_jac[fid]), p_value(index.null, r),
                             float(cover[fid]), float(chans["tok"][fid]), float(chans["ident"][fid]),
                             float(chans["struct"][fid])))
    hits.sort(key=lambda h: (-h.rank, h.index.files[h.file_id]))
    ranking = [{"reference_file": h.index.files[h.file_id], "score": round(h.rank, 6),
                "p_value": None if h.p is None else round(h.p, 6),
                "code_score": round(h.score, 6), "identifier_score": round(h.ident_jac, 6)} for h in hits[:TOP]]
    notices = attr.extract(sf.text)
    declared = {id(h) for h in hits[:TOP] if _declared(notices.mentions, h.index.files[h.file_id])}
    copied, adapted = [], []
    for h in hits:
        significant = h.p is not None and h.p * n_refs <= ALPHA_FAMILY
        is_port = any(ix is h.index and fid == h.file_id for ix, fid in ported)
        if h.score >= T_FILE_COPIED:
            copied.append(h)
        elif h.cover >= T_COVER_ADAPTED or h.score >= T_FILE_ADAPTED or significant or is_port or id(h) in declared:
            adapted.append(h)
    origins = copied + adapted
    relation = "copied" if copied else ("adapted" if adapted else "independent")
    attributed = None
    if origins:
        attributed = attr.attributed(notices, [cache.notices(h.index, h.file_id) for h in origins])
    evidence: list[dict] = []
    matches: list[dict] = []
    for h in origins[:TOP] or hits[:1]:
        name = h.index.files[h.file_id]
        ref = cache.parsed(h.index, h.file_id)
        evidence.append({"kind": "tokens", "reference_file": name, "score": round(h.tok, 6),
                         "detail": f"{h.cover:.0%} of the file's informative code is in definitions whose "
                                   f"normalised tokens match this reference (unit score >= {T_UNIT_COPY})"})
        ids = _shared_features(h.index, sf, ref, "ident")
        evidence.append({"kind": "identifiers", "reference_file": name, "score": round(h.ident, 6),
                         "detail": "rarest shared identifiers: " + (", ".join(ids) if ids else "none")})
        st = _shared_features(h.index, sf, ref, "struct", limit=6)
        evidence.append({"kind": "structure", "reference_file": name, "score": round(h.struct, 6),
                         "detail": "rarest shared operation sequences / arithmetic: " + ("; ".join(st) if st else "none")})
        if not any(h is o for o in origins):
            continue
        q = queries[id(h.index)]
        ref_units = {(u.name, u.start): u for u in ref.units}
        floor = T_MATCH if any(h is c for c in copied) else T_MATCH_ADAPTED
        for ci, ri, s in best_pairs(h.index, q, h.file_id):
            if s < floor:
                continue
            cu = sf.units[ci]
            if len(cu.masked) < MIN_MATCH_TOKENS:
                continue
            rname, rstart = h.index.unit_name[ri], int(h.index.unit_start[ri])
            ru = ref_units.get((rname, rstart))
            kind = _match_kind(cu, ru) if ru is not None else "restructured"
            matches.append({"candidate_file": rel, "candidate_lines": [cu.start, cu.end],
                            "reference_file": name, "reference_lines": [rstart, int(h.index.unit_end[ri])],
                            "score": round(s, 6), "kind": kind,
                            "candidate_unit": cu.name, "reference_unit": rname})
    if port is not None and port["p_value"] is not None:
        evidence.append({"kind": "port", "reference_file": port["reference_file"], "score": port["p_value"],
                         "detail": f"the file has {port['statistic']:.3f} more of this reference's identifier vocabulary "
                                   f"(share by weight) than of any reference not linked to it; p = {port['p_value']} against reference "
                                   f"files scored against the files they are not linked to"})
    for m in notices.mentions:
        evidence.append({"kind": "mention", "reference_file": None, "score": None, "detail": m})
    entry = {
        "file": rel,
        "ranking": ranking,
        "relation": relation,
        "origins": [h.index.files[h.file_id] for h in origins],
        "attribution": {"licence": notices.licence, "copyright": notices.copyright,
                        "mentions": notices.mentions, "attributed": attributed},
        "evidence": evidence,
        "port_test": port,
    }
    if sf.note:
        entry["note"] = sf.note
    return entry, matches


def analyse(candidate: str | Path, against: list[str | Path], *, progress: Callable[[int], None] | None = None,
            indices: list[Index] | None = None) -> dict:
    """Source-code reuse of every source file under `candidate` against the references."""
    root = Path(candidate)
    entries = list_sources(root)
    if indices is None:
        indices = _load_references(list(against), None)
    n_refs = sum(len(ix.files) for ix in indices)
    cache = _RefCache()
    files: list[dict] = []
    matches: list[dict] = []
    for rel, path in entries:
        res = read_source(rel, path)
        if isinstance(res, Skipped) or not res.units:
            reason = res.reason if isinstance(res, Skipped) else "no code"
            files.append({"file": rel, "ranking": [], "relation": "independent", "origins": [],
                          "attribution": {"licence": None, "copyright": [], "mentions": [], "attributed": None},
                          "evidence": [], "note": f"skipped: {reason}"})
        else:
            entry, m = _analyse_file(rel, res, indices, n_refs, cache)
            files.append(entry)
            matches.extend(m)
        if progress:
            progress(1)
    return {
        "schema": SCHEMA,
        "files": files,
        "matches": matches,
        "references": {"files": n_refs,
                       "skipped": [{"file": f, "reason": r} for ix in indices for f, r in ix.skipped]},
        "thresholds": {"unit_copy": T_UNIT_COPY, "file_copied": T_FILE_COPIED, "cover_adapted": T_COVER_ADAPTED,
                       "file_adapted": T_FILE_ADAPTED, "family_alpha": ALPHA_FAMILY,
                       "port_alpha": ALPHA_PORT},
    }
