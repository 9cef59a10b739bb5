"""How far a reused component moved: ``change`` and ``frozen`` for every identical or derived component.

``change`` is a relative distance after alignment, on the material the
fingerprint keeps:

* blocks (attention, MLP, experts, router, projector): each candidate unit
  (up to 256, seeded) is matched to its reference unit (argmax |cos| on all
  aligned residual coordinates, after the residual map the unit test used);
  the unit's distance is ``||u/|u| - s v/|v|||`` with s the sign of the cosine,
  i.e. ``sqrt(2 - 2|cos|)``; ``change`` is the root mean square over units and
  matrices (a median would call an embedding whose rare rows moved unchanged).
  Per-unit rescaling and sign flips (function-preserving) do not count as
  change; ``0`` is the same direction, ``sqrt 2`` orthogonal;
* embeddings and lm_head: the same distance per shared row (same token or id),
  with the signed cosine (rows are paired in advance);
* norms: ``||g_c - g_r|| / ||g_r||`` on the aligned coordinates;
* identical components: the relative RMS difference on the 1,024 sketched
  values (0 when the hashes are equal).

``frozen`` is true when ``change`` is within storage precision: at most
``max(floor, 1.5 x the coarser dtype's rounding error)``, the floor being what
the fingerprint's own storage can show for one and the same matrix (0.03 for
the int8 unit profiles, 0.01 for the float16 anchor rows, 1e-4 for the
float32 norm vectors). A fine-tune that moved
less than that is indistinguishable from a frozen copy and is called frozen.
``frozen``/``change`` are null for components that are neither identical nor
derived, and ``change`` is null where no aligned material exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fromscratch.lineage import rotation, stats
from fromscratch.lineage.alignment import Alignment, aligned_profile
from fromscratch.lineage.context import seed_of
from fromscratch.lineage.fingerprint import unpack_profile
from fromscratch.lineage.identical import dtype_tolerance

if TYPE_CHECKING:
    from fromscratch.lineage.context import PairContext

#: distances below these are what the fingerprint's storage of one and the same matrix can show
FROZEN_FLOOR = {"block": 0.03, "table": 0.01, "norm": 1e-4}
MAX_UNITS = 64
_BLOCK_KINDS = {"attention", "mlp", "experts", "router", "projector"}


def _dist_abs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per candidate row: sqrt(2 - 2 max_j |cos(x_i, y_j)|)."""
    xs, ys = stats._unit_rows(np.asarray(x, np.float32)), stats._unit_rows(np.asarray(y, np.float32))
    sim = xs @ ys.T
    best = np.abs(sim[np.arange(len(xs)), stats.argmax_abs(sim)])
    return np.sqrt(np.clip(2.0 - 2.0 * best, 0.0, None))


def _rms(d: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(d, np.float64) ** 2)))


def _find_alignment(ctx: PairContext, tower: str, rtower: str, name: str | None) -> Alignment | None:
    aligns = ctx.alignments.get((tower, rtower), [])
    for al in aligns:
        if name is None or al.name == name:
            return al
    return None


def _response_change(ctx: PairContext, cc: dict, rc: dict, ev: dict) -> float | None:
    """The same distance on token-response profiles (blocks found by the rotation tier)."""
    pr = ctx.probes(cc["tower"], rc["tower"])
    if not pr.ok:
        return None
    rng = np.random.default_rng(seed_of(ctx.seed, "change", cc["name"]))
    dists = []
    for t in ev["matrices"]:
        x = ctx.c.arrays.get(f"{pr.cpre}|{cc['name']}|{t['role']}|None")
        y = ctx.r.arrays.get(f"{pr.rpre}|{rc['name']}|{t['role']}|None")
        if x is None or y is None:
            continue
        if len(x) > MAX_UNITS:  # unpacking is row by row: sample the rows first (same values)
            x = x[np.sort(rng.choice(len(x), MAX_UNITS, replace=False))]
        # C order, as the gathered rows were before: the product's summation order follows the layout
        dists.append(_dist_abs(np.ascontiguousarray(unpack_profile(x)[:, pr.ic]), unpack_profile(y)[:, pr.ir]))
    return _rms(np.concatenate(dists)) if dists else None


def _block_change(ctx: PairContext, cc: dict, item: dict) -> float | None:
    ev = item.get("evidence") or {}
    rname = item.get("reference_name")
    rc = ctx.rby_name.get(rname) if rname else None
    if rc is None or not ev.get("matrices"):
        return None
    if str(ev.get("statistic", "")).startswith("token-response"):
        return _response_change(ctx, cc, rc, ev)
    al = _find_alignment(ctx, cc["tower"], rc["tower"], ev.get("alignment"))
    if al is None or al.size < 8:
        return None
    rng = np.random.default_rng(seed_of(ctx.seed, "change", cc["name"]))
    dists = []
    for t in ev["matrices"]:
        x = ctx.cprof.get(cc["name"], {}).get((t["role"], t["expert"]))
        y = ctx.rprof.get(rname, {}).get((t["role"], t["reference_expert"]))
        if x is None or y is None:
            continue
        x = aligned_profile(x, al.c_pos, None if al.all_positive else al.signs)
        y = aligned_profile(y, al.r_pos, None)
        if len(x) > MAX_UNITS:
            x = x[np.sort(rng.choice(len(x), MAX_UNITS, replace=False))]
        dists.append(_dist_abs(x, y))
    return _rms(np.concatenate(dists)) if dists else None


def _table_change(ctx: PairContext, cc: dict, item: dict) -> float | None:
    head = cc["kind"] == "lm_head"
    parts = ctx.token_parts if (head or cc["name"].endswith("embed_tokens")) else {"positions"}
    rname = item.get("reference_name")
    rhead = bool(rname and rname.endswith("lm_head"))
    rtower = "text" if not rname or "." not in rname else rname.split(".", 1)[0]
    if _decided_by_fit(item):
        return _fitted_table_change(ctx, cc, item, head, rhead, rtower)
    kc, rows_c, _ = ctx.rows(ctx.c, cc["tower"], parts, head=head)
    kr, rows_r, _ = ctx.rows(ctx.r, rtower, parts, head=rhead)
    al = _find_alignment(ctx, cc["tower"], rtower, None)
    if kc is None or kr is None or al is None or al.size < 8:
        return None
    _, ic, ir = np.intersect1d(kc, kr, return_indices=True)
    if len(ic) < 8:
        return None
    cco, rco = ctx.c.arrays[f"coords|{cc['tower']}"], ctx.r.arrays[f"coords|{rtower}"]
    x = stats._unit_rows(rows_c[ic][:, cco[al.c_pos]].astype(np.float32) * al.signs[None, :])
    y = stats._unit_rows(rows_r[ir][:, rco[al.r_pos]].astype(np.float32))
    cos = np.sum(x * y, axis=1)
    return _rms(np.sqrt(np.clip(2.0 - 2.0 * cos, 0.0, None)))


def _decided_by_fit(item: dict) -> bool:
    """Whether a table was found by an orthogonal fit (rotated residual stream), not by coordinates."""
    tests = (item.get("evidence") or {}).get("tests") or []
    if not tests:
        return False
    best = min(tests, key=lambda t: (t["p"], -t["similarity"]))
    return best.get("statistic") in (rotation.TABLE_STATISTIC, rotation.HEAD_STATISTIC)


def _fitted_table_change(ctx: PairContext, cc: dict, item: dict, head: bool, rhead: bool,
                         rtower: str) -> float | None:
    """The row distance after the fitted orthogonal map, on the test's held-out rows (a rotation is no change)."""
    rtable = ctx.rows(ctx.r, rtower, ctx.token_parts, head=rhead)
    if head:
        cos = rotation.head_fit_cos(ctx, cc["tower"], rtower, rtable, rhead)
    else:
        ctable = ctx.rows(ctx.c, cc["tower"], ctx.token_parts, head=head)
        cos = rotation.table_fit_cos(ctx, ctable, rtable, cc["tower"], rtower, head, rhead)
    return None if cos is None else _rms(np.sqrt(np.clip(2.0 - 2.0 * cos, 0.0, None)))


def _norm_change(ctx: PairContext, cc: dict, item: dict) -> float | None:
    vectors = (item.get("evidence") or {}).get("vectors") or []
    rname = item.get("reference_name")
    if not vectors or not rname:
        return None
    rtower = "text" if "." not in rname or rname.split(".", 1)[0] not in {"vision", "audio"} else rname.split(".", 1)[0]
    al = _find_alignment(ctx, cc["tower"], rtower, vectors[0].get("alignment"))
    if al is None:
        return None
    cpos = ctx.c.arrays[f"coords|{cc['tower']}"][al.c_pos]
    rpos = ctx.r.arrays[f"coords|{rtower}"][al.r_pos]
    num = den = 0.0
    for v in vectors:
        gc = ctx.c.arrays.get(f"vec|{cc['name']}|{v['role']}|None")
        gr = ctx.r.arrays.get(f"vec|{rname}|{v['role']}|None")
        if gc is None or gr is None:
            continue
        a, b = gc[cpos].astype(np.float64), gr[rpos].astype(np.float64)
        num += float(np.sum((a - b) ** 2))
        den += float(np.sum(b ** 2))
    return float(np.sqrt(num / den)) if den > 0 else None


def _identical_change(ctx: PairContext, cc: dict, item: dict) -> float:
    worst = 0.0
    rname = item.get("reference_name") or cc["name"]
    for t in cc["tensors"]:
        a = ctx.c.arrays.get(f"sk|{cc['name']}|{t['role']}|{t['expert']}")
        b = ctx.r.arrays.get(f"sk|{rname}|{t['role']}|{t['expert']}")
        if a is None or b is None or a.shape != b.shape:
            continue
        nb = float(np.linalg.norm(b))
        if nb > 0:
            worst = max(worst, float(np.linalg.norm(a - b)) / nb)
    return worst


def _tolerance(ctx: PairContext, cc: dict, item: dict) -> float:
    rc = ctx.rby_name.get(item.get("reference_name") or "") or {}
    tols = [dtype_tolerance(t["dtype"]) for t in cc["tensors"] + rc.get("tensors", [])]
    kind = "norm" if cc["kind"] == "norm" else "block" if cc["kind"] in _BLOCK_KINDS else "table"
    return max([FROZEN_FLOOR[kind]] + [1.5 * t for t in tols])


def annotate(ctx: PairContext, items: list[dict[str, Any]]) -> None:
    """Add ``frozen`` and ``change`` to every component entry (see module docstring)."""
    by_name = {c["name"]: c for c in ctx.ccomps}
    for item in items:
        cc = by_name[item["name"]]
        change: float | None = None
        if item["relation"] == "identical":
            change = _identical_change(ctx, cc, item)
        elif item["relation"] == "derived":
            if cc["kind"] == "norm":
                change = _norm_change(ctx, cc, item)
            elif cc["kind"] in _BLOCK_KINDS:
                change = _block_change(ctx, cc, item)
            else:
                change = _table_change(ctx, cc, item)
        if item["relation"] == "identical":
            frozen: bool | None = True
        elif item["relation"] == "derived":
            frozen = None if change is None else bool(change <= _tolerance(ctx, cc, item))
        else:
            frozen = None
        item["frozen"] = frozen
        item["change"] = None if change is None else float(round(change, 6))
