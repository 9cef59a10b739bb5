"""Residual-stream alignment: which candidate coordinate stands for which reference coordinate.

Two kinds of alignment are tried per tower pair: the identity (same width, same
coordinate order: plain fine-tunes) and the map found by the anchor test on
rows both models share (token strings, positions), which undoes a permutation
and sign flips of the residual stream. Only an anchor test that is already
significant (p < the derived threshold) may align blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fromscratch.lineage import stats
from fromscratch.lineage.fingerprint import ANCHOR_PARTS, Fingerprint, unpack_profile

if TYPE_CHECKING:
    from fromscratch.lineage.context import PairContext

#: anchor rows that are evidence and may align residual streams (front-end filters are not: they converge);
#: token ids ("ids") join them when both checkpoints lack token strings (``PairContext.evidence_parts``)
EVIDENCE_PARTS = {"tokens", "positions"}


class Alignment:
    """How candidate residual coordinates in one tower map to the reference's."""

    def __init__(self, name: str, c_coords: np.ndarray, r_coords: np.ndarray, signs: np.ndarray,
                 c_pos: np.ndarray, r_pos: np.ndarray) -> None:
        self.name = name
        self.c_pos, self.r_pos, self.signs = c_pos, r_pos, signs
        self.c_coords, self.r_coords = c_coords, r_coords
        self.size = len(c_pos)
        self.key = name
        self.all_positive = bool(np.all(signs == 1))
        self.split: tuple[np.ndarray, np.ndarray] | None = None


def aligned_profile(p: np.ndarray, pos: np.ndarray, signs: np.ndarray | None) -> np.ndarray:
    """``unpack_profile(p)[:, pos] * signs[None, :]``: the same floats in the same memory layout.

    Cheaper: the columns are taken from the int8 codes before they are scaled
    (each value is still code * row scale in float32), and ``signs=None`` stands
    for all +1 (multiplying by 1 changes nothing).
    """
    if p.dtype == np.int8:
        scale = np.ascontiguousarray(p[:, :4]).view(np.float32)
        x = p[:, 4:][:, pos].astype(np.float32) * scale
    else:
        x = unpack_profile(p)[:, pos]
    return x if signs is None else x * signs[None, :]


def identity_alignment(cc: np.ndarray, rc: np.ndarray) -> Alignment | None:
    common, ci, ri = np.intersect1d(cc, rc, return_indices=True)
    if len(common) == 0:
        return None
    return Alignment("identity", common, common, np.ones(len(common), np.float32), ci, ri)


def anchor_alignment(cc: np.ndarray, rc: np.ndarray, res: stats.AnchorResult) -> Alignment | None:
    if res.mapping is None or res.confident is None:
        return None
    conf = set(int(i) for i in res.confident)
    rpos = {int(v): i for i, v in enumerate(rc)}
    c_pos, r_pos, sg, used = [], [], [], set()
    for i, c in enumerate(cc):
        c = int(c)
        if c not in conf:
            continue
        r = int(res.mapping[c])
        if r in rpos and r not in used:
            used.add(r)
            c_pos.append(i)
            r_pos.append(rpos[r])
            sg.append(res.signs[c])
    if not c_pos:
        return None
    return Alignment("anchor", cc[np.asarray(c_pos)], rc[np.asarray(r_pos)], np.asarray(sg, np.float32),
                     np.asarray(c_pos), np.asarray(r_pos))


def anchor_rows(fp: Fingerprint, tower: str, parts: set[str] | None, head: bool = False):
    """(keys, rows, where) of a tower's anchor table; ``where`` = (stored array, its row indices or None for all)."""
    if head:
        k, r = fp.arrays.get(f"head_keys|{tower}"), fp.arrays.get(f"head_rows|{tower}")
        if k is None:
            return None, None, None
        codes = fp.arrays.get(f"head_part|{tower}")
        if codes is None or parts is None:
            return k, r, (f"head_rows|{tower}", None)
        sel = np.isin(codes, [ANCHOR_PARTS.index(p) for p in parts])
        if bool(np.all(sel)):
            return k, r, (f"head_rows|{tower}", None)
        idx = np.flatnonzero(sel)
        return k[sel], r[sel], (f"head_rows|{tower}", idx)
    k = fp.arrays.get(f"anchor_keys|{tower}")
    if k is None:
        return None, None, None
    r = fp.arrays[f"anchor_rows|{tower}"]
    idx = None
    if parts is not None:
        codes = fp.arrays[f"anchor_part|{tower}"]
        sel = np.isin(codes, [ANCHOR_PARTS.index(p) for p in parts])
        k, r, idx = k[sel], r[sel], np.flatnonzero(sel)
    return k, r, (f"anchor_rows|{tower}", idx)


def tower_pairs(ctx: PairContext) -> list[tuple[str, str]]:
    """Candidate/reference tower pairs worth aligning: shared anchor rows or equal widths."""
    ct = sorted(ctx.c.meta["towers"])
    rt = sorted(ctx.r.meta["towers"])
    pairs = []
    for a in ct:
        for b in rt:
            kc = ctx.rows(ctx.c, a, ctx.evidence_parts)[0]
            kr = ctx.rows(ctx.r, b, ctx.evidence_parts)[0]
            shared = 0 if kc is None or kr is None else len(np.intersect1d(kc, kr))
            same_dim = ctx.c.tower_dim(a) == ctx.r.tower_dim(b)
            if shared >= 8 or same_dim:
                pairs.append((a, b))
    return pairs


def setup_alignments(ctx: PairContext, derived_p: float) -> None:
    """Fill ``ctx.anchors`` and ``ctx.alignments`` for every tower pair (anchor map first, then identity)."""
    from fromscratch.lineage.context import seed_of

    for a, b in tower_pairs(ctx):
        res, _ = ctx.anchor_test(ctx.rows(ctx.c, a, ctx.evidence_parts), ctx.rows(ctx.r, b, ctx.evidence_parts),
                                 ("rows", a, b, False, False))
        aligns: list[Alignment] = []
        cc = ctx.c.arrays.get(f"coords|{a}")
        rc = ctx.r.arrays.get(f"coords|{b}")
        if res is not None:
            ctx.anchors[(a, b)] = res
            if res.p_value < derived_p and cc is not None and rc is not None:
                al = anchor_alignment(cc, rc, res)
                if al is not None:
                    aligns.append(al)
        if cc is not None and rc is not None and ctx.c.tower_dim(a) == ctx.r.tower_dim(b):
            al = identity_alignment(cc, rc)
            redundant = bool(aligns) and float(np.mean(aligns[0].c_coords == aligns[0].r_coords)) >= 0.9
            if al is not None and not redundant:
                aligns.append(al)
        ctx.row_kind[(a, b)] = _shared_part(ctx, a, b)[0]
        for al in aligns:
            al.key = f"{al.name}:{a}->{b}"
            al.split = stats.split_coords(al.size, seed_of(ctx.seed, "split", al.key))
        ctx.alignments[(a, b)] = aligns


def _shared_part(ctx: PairContext, a: str, b: str) -> tuple[str, int]:
    """Which kind of rows the two towers' evidence tables share most ("none" if fewer than 8), and how many."""
    kc, _, where = ctx.rows(ctx.c, a, ctx.evidence_parts)
    kr = ctx.rows(ctx.r, b, ctx.evidence_parts)[0]
    if kc is None or kr is None:
        return "none", 0
    _, ic, _ = np.intersect1d(kc, kr, return_indices=True)
    if len(ic) < 8:
        return "none", len(ic)
    idx = where[1]
    codes = ctx.c.arrays[f"anchor_part|{a}"][ic if idx is None else idx[ic]]
    counts = np.bincount(codes.astype(np.int64), minlength=len(ANCHOR_PARTS))
    return ANCHOR_PARTS[int(np.argmax(counts))], len(ic)


def alignment_summary(ctx: PairContext) -> dict:
    """What aligned the residual streams: the row correspondence ("rows") and, per tower pair, the maps used.

    ``rows`` is that of the text tower (else the first tower pair): ``tokens``
    (rows paired by token string), ``ids`` (by token id: neither side ships
    token strings and the vocabularies are equally long), ``positions``
    (learned position rows), or ``none`` (no shared rows: only the identity
    map of equal widths is tried).
    """
    towers = []
    for (a, b), aligns in sorted(ctx.alignments.items()):
        part, shared = _shared_part(ctx, a, b)
        res = ctx.anchors.get((a, b))
        towers.append({"candidate_tower": a, "reference_tower": b, "rows": part, "shared_rows": shared,
                       "anchor_p_value": None if res is None else float(res.p_value),
                       "maps": [al.name for al in aligns]})
    main = next((t for t in towers if t["candidate_tower"] == "text" and t["reference_tower"] == "text"),
                towers[0] if towers else None)
    return {"rows": main["rows"] if main else "none", "towers": towers}
