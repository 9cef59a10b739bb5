"""Multi-view consistency: do all matrices of a block pick the same reference units?

A block copied from the reference (then permuted, rescaled, fine-tuned) keeps
its hidden units whole: unit i's gate row, up row and down column all match
the same reference unit j, and a head's query/key rows and value/output
dimensions move together. A block re-initialised inside a reused residual
stream learns directions that correlate weakly with the reference's (the
basis is shared), so each matrix on its own can pass the unit test, but the
matrices pick reference units independently of each other.

Statistic, per pair of views (v, w) of one block: candidate rows linked by the
block's structure (the same MLP unit; a query row and the key row of its KV
head at the same dimension; a value row and the output columns it feeds) are
matched to reference rows separately in each view (argmax |cos| over all
aligned coordinates); ``c`` counts linked pairs whose matches are linked in
the reference too, among ``k`` pairs whose view-w matches are distinct.
Null: the view-w matches carry no information about how the reference links
its rows, i.e. the reference's view-w labels could be permuted at random
(h labels). For c given pairs to all agree has probability (h-c)!/h!; a union
bound over the subsets gives p <= C(k, c) (h-c)!/h! whatever the dependence
between the pairs. This null is checked, not proven: two independent models
never share unit labels, and re-initialised blocks inside a reused stream
(zoo: llama-s0-reinit) agree at chance (see docs/lineage.md).

The block's p-value is then max(p_unit, p_views): an intersection-union test,
valid for the claim "copied units" because it needs both.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from fromscratch.lineage import stats
from fromscratch.lineage.alignment import Alignment, aligned_profile
from fromscratch.lineage.context import seed_of

if TYPE_CHECKING:
    from fromscratch.lineage.context import PairContext

#: candidate keys (units, or head dimensions) matched per view: 64 all agreeing among 128 labels is p < 1e-100
MAX_KEYS = 64
#: views that must pick the same reference units, per block kind
VIEW_GROUPS = {"mlp": [("gate", "up", "down")], "experts": [("gate", "up", "down")],
               "attention": [("q", "k"), ("v", "o")], "cross_attention": [("q", "k"), ("v", "o")]}


def _keys(role: str, rows: int, shape: dict[str, int] | None) -> np.ndarray | None:
    """Each row's link key: the MLP unit, or (KV head, dimension) for attention rows and columns."""
    if role in ("gate", "up", "down", "k", "v"):
        return np.arange(rows)
    if shape is None:
        return np.arange(rows) if role in ("q", "o") else None
    hd, rep = shape["head_dim"], shape["heads"] // shape["kv_heads"]
    if rows != shape["heads"] * hd:
        return np.arange(rows) if rows == shape["kv_heads"] * hd else None
    r = np.arange(rows)
    return (r // hd // rep) * hd + r % hd


def _unit_rows(a: np.ndarray) -> np.ndarray:
    a = stats._std_cols(np.asarray(a, dtype=np.float32))
    return stats._unit_rows(a)


def _col_scale(a: np.ndarray) -> np.ndarray:
    """``stats._std_cols``'s divisor: each column's RMS over all rows (1 where it is 0)."""
    s = np.sqrt(np.mean(a * a, axis=0, keepdims=True))
    s[s == 0] = 1.0
    return s


def _picked_unit_rows(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``_unit_rows(a)[rows]`` without normalising the rows not asked for (the same floats, C order)."""
    a = np.asarray(a, dtype=np.float32)
    return stats._unit_rows(a[rows] / _col_scale(a))


def _first_rows(keys: np.ndarray, pick: np.ndarray) -> np.ndarray | None:
    """For each picked key, the first row carrying it; None if a key has no row."""
    uniq, first = np.unique(keys, return_index=True)
    pos = np.minimum(np.searchsorted(uniq, pick), len(uniq) - 1)
    if len(uniq) == 0 or not bool(np.all(uniq[pos] == pick)):
        return None
    return first[pos]


def _matches(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return stats.argmax_abs(x @ y.T)


def _log_p(k: int, c: int, h: int) -> float:
    """log of min(1, C(k, c) (h-c)!/h!)."""
    if c <= 0 or h <= 0:
        return 0.0
    lg = math.lgamma
    val = lg(k + 1) - lg(c + 1) - lg(k - c + 1) + lg(h - c + 1) - lg(h + 1)
    return min(0.0, val)


def _view(ctx: PairContext, side: str, comp: str, role: str, extra: str, al: Alignment):
    prof = (ctx.cprof if side == "c" else ctx.rprof).get(comp, {}).get((role, extra))
    if prof is None:
        return None
    if side == "c":
        return aligned_profile(prof, al.c_pos, None if al.all_positive else al.signs)
    return aligned_profile(prof, al.r_pos, None)


def _shape(ctx: PairContext, side: str, tower: str) -> dict[str, int] | None:
    fp = ctx.c if side == "c" else ctx.r
    return (fp.meta.get("attention_shapes") or {}).get(tower)


def _pair(matched: dict, kr: dict, v: str, w: str) -> dict[str, Any]:
    """Agreement of views v and w on the picked candidate keys (``matched``: each view's matched reference keys)."""
    mv, mw = matched[v], matched[w]
    _, first_w = np.unique(mw, return_index=True)
    k = len(first_w)
    c = int(np.sum(mv[first_w] == mw[first_w]))
    h = len(np.unique(kr[w]))
    lp = _log_p(k, c, h)
    return {"views": [v, w], "agree": c, "of": k, "labels": h, "p": max(stats.P_FLOOR, math.exp(lp))}


def view_consistency(ctx: PairContext, cc: dict, rc: dict, al: Alignment | None, kind: str,
                     extra: str, ref_extra: str, getter=None, memo_tag: Any = None) -> dict[str, Any] | None:
    """The multi-view test of one candidate/reference block pair (None: fewer than two views to compare).

    ``getter(side, component, role, expert)`` supplies each view's rows on
    common columns; by default the unit profiles under the alignment ``al``.
    ``memo_tag`` names what the getter returns (alignment or probe set), so
    the reference's normalised views are shared by the candidate blocks that
    meet the same reference block (``PairContext.responses``).
    """
    if getter is None:
        def getter(side, comp, role, ex):
            return _view(ctx, side, comp, role, ex, al)
        memo_tag = ("al", al.key, cc["tower"], rc["tower"])
    pairs = []
    for group in VIEW_GROUPS.get(kind, []):
        raw, ys, kc, kr = {}, {}, {}, {}
        for role in group:
            x = getter("c", cc["name"], role, extra)
            y = getter("r", rc["name"], role, ref_extra)
            if x is None or y is None:
                continue
            a = _keys(role, x.shape[0], _shape(ctx, "c", cc["tower"]))
            b = _keys(role, y.shape[0], _shape(ctx, "r", rc["tower"]))
            if a is None or b is None:
                continue
            raw[role], kc[role], kr[role] = x, a, b
            ys[role] = _reference_view(ctx, rc, role, ref_extra, memo_tag, y)
        roles = [r for r in group if r in raw]
        if len(roles) < 2:
            continue
        common = np.unique(kc[roles[0]])
        for r in roles[1:]:
            common = np.intersect1d(common, kc[r])
        rng = np.random.default_rng(seed_of(ctx.seed, "views", cc["name"], tuple(roles)))
        pick = np.sort(rng.choice(common, size=min(MAX_KEYS, len(common)), replace=False))
        rows = {r: _first_rows(kc[r], pick) for r in roles}
        xs = {r: _picked_unit_rows(raw[r], rows[r]) for r in roles if rows[r] is not None}
        # each view's matching once (a view meets every other view of its group)
        matched = {r: kr[r][_matches(xs[r], ys[r])] for r in xs}
        for i, v in enumerate(roles):
            for w in roles[i + 1:]:
                if v in xs and w in xs:
                    pairs.append(_pair(matched, kr, v, w))
    if not pairs:
        return None
    # the block agrees when every view pair agrees: the weakest pair decides
    p = max(t["p"] for t in pairs)
    return {"statistic": "multi-view consistency (same reference unit in every matrix)", "p": p, "pairs": pairs}


def _reference_view(ctx: PairContext, rc: dict, role: str, ref_extra: str, memo_tag: Any,
                    y: np.ndarray) -> np.ndarray:
    """The reference view's rows at unit length (memoised when ``memo_tag`` names the data)."""
    if memo_tag is None:
        return _unit_rows(y)

    def make() -> np.ndarray:
        out = _unit_rows(y)
        out.flags.writeable = False
        return out

    return ctx.responses.get(("view", rc["name"], role, ref_extra, memo_tag), make)
