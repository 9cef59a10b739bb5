"""The rotation- and rescale-robust tier: block units compared through their token responses.

Used for a block when the residual-coordinate tier (``blocks``) finds no
derivation: a copy whose residual stream was rotated after folding its norm
gains, or whose units and heads were rescaled, has no residual coordinate
left in common with its origin, but its units respond to the shared probe
tokens exactly as the origin's do (``responses``).

Per matrix role, each candidate unit (up to 256, seeded) is matched to a
reference unit (argmax |cos| of the response profiles on one half of the
shared probe tokens) and scored on the other half (the held-out correlation
with the sign fixed on the first half). Independent models have units whose
token responses converge (the same tokens excite similar features), so a
matched unit counts only when its held-out correlation exceeds
``RESPONSE_ALLOWANCE``; p = P(Binomial(units, RESPONSE_NULL_RATE) >= count).
The allowance and the rate are a checked null, not an exact one: they were set
on seed siblings (see docs/lineage.md for the calibration and the held-out
error rates). The multi-view test (``views``) on the same profiles must agree
too (intersection-union: p = max of the two), which is what keeps blocks
re-initialised inside a reused stream and convergent units of siblings out.
Reference layers are screened like the coordinate tier's and the best pair's p
is multiplied by the number of reference blocks that could have been chosen.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from fromscratch.lineage import stats
from fromscratch.lineage.context import kind_of, seed_of
from fromscratch.lineage.fingerprint import unpack_profile
from fromscratch.lineage.views import VIEW_GROUPS, view_consistency

if TYPE_CHECKING:
    from fromscratch.lineage.context import PairContext

#: held-out response correlation a unit of an independent model is taken never to exceed but rarely
RESPONSE_ALLOWANCE = 0.6
#: bound on the chance that one unit of an independent model clears the allowance
RESPONSE_NULL_RATE = 0.05
#: fewest shared probe tokens for the tier to run
MIN_PROBES = 48
MAX_UNITS = 256
SCREEN_UNITS = 64
SCREEN_KEEP = 3
_SCREEN_ROLE = {"attention": "q", "cross_attention": "q", "mlp": "up", "experts": "up"}
COUNTERPART = {"attention": {"attention"}, "cross_attention": {"cross_attention", "attention"},
               "mlp": {"mlp", "experts"}, "experts": {"mlp", "experts"}}


def _probe_source(ctx: PairContext, side: str) -> tuple[str, str]:
    """(probe-key array, profile prefix) one side is read with.

    Probes are keyed by token string where both checkpoints have strings and by
    id where neither has; where only one has, ids pair the rows (``ids_ok``)
    and the side with strings is read through its id-keyed probes
    (``responses.ID_PROBE_TOKENS``), the ones the string-less side also keeps.
    """
    fp, other = (ctx.c, ctx.r) if side == "c" else (ctx.r, ctx.c)
    if ctx.ids_ok and fp.meta.get("row_keys") == "tokens" and other.meta.get("row_keys") == "ids":
        return "probe_id_keys", "resp_id"
    return "probe_keys", "resp"


class Probes:
    """The probe tokens two towers share, split into a matching and a scored half."""

    def __init__(self, ctx: PairContext, tower: str, rtower: str) -> None:
        (ck, self.cpre), (rk, self.rpre) = _probe_source(ctx, "c"), _probe_source(ctx, "r")
        kc = ctx.c.arrays.get(f"{ck}|{tower}")
        kr = ctx.r.arrays.get(f"{rk}|{rtower}")
        self.key = (tower, rtower)
        #: which keys the shared probes are (token strings, or ids where a side has no strings)
        self.keyed = "ids" if "ids" in (ctx.c.meta.get("row_keys"), ctx.r.meta.get("row_keys")) else "tokens"
        self.ok = kc is not None and kr is not None
        if not self.ok:
            return
        _, self.ic, self.ir = np.intersect1d(kc, kr, return_indices=True)
        self.n = len(self.ic)
        self.ok = self.n >= MIN_PROBES
        order = np.random.default_rng(seed_of(ctx.seed, "probe-split", tower, rtower)).permutation(self.n)
        self.a, self.b = np.sort(order[: self.n // 2]), np.sort(order[self.n // 2:])


def _profile(ctx: PairContext, side: str, comp: str, role: str, extra: str, pr: Probes) -> np.ndarray | None:
    """One matrix's response profile on the shared probes, columns standardised (read-only; memoised).

    The screen, the full test, the multi-view test and neighbouring candidate
    blocks ask for the same profiles; each is made once and kept in a small
    LRU (``PairContext.responses``), so memory stays bounded.
    """
    fp = ctx.c if side == "c" else ctx.r
    got = fp.arrays.get(f"{pr.cpre if side == 'c' else pr.rpre}|{comp}|{role}|{extra}")
    if got is None:
        return None

    def make() -> np.ndarray:
        # the gathered columns are a fresh (column-major) array: standardised in place, the same values;
        # the gather stays even when every probe is shared, since later products' rounding follows the layout
        x = stats._std_cols(unpack_profile(got)[:, pr.ic if side == "c" else pr.ir], overwrite=True)
        x.flags.writeable = False
        return x

    return ctx.responses.get((side, comp, role, extra, pr.key), make)


def _unit_halves(y: np.ndarray, pr: Probes) -> tuple[np.ndarray, np.ndarray]:
    """``y``'s rows at unit length on each half of the probes, read-only (they are memoised)."""
    ya, yb = stats._unit_rows(y[:, pr.a]), stats._unit_rows(y[:, pr.b])
    ya.flags.writeable = yb.flags.writeable = False
    return ya, yb


def _halves(ctx: PairContext, comp: str, role: str, y: np.ndarray, pr: Probes) -> tuple[np.ndarray, np.ndarray]:
    """A reference profile's rows at unit length on each half of the probes (memoised: many candidates meet it)."""
    return ctx.responses.get(("halves", comp, role, pr.key), lambda: _unit_halves(y, pr))


def _cand_halves(ctx: PairContext, comp: str, role: str, x: np.ndarray, pr: Probes, units: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``units`` candidate rows (seeded sample) at unit length on each half of the probes.

    Memoised: the screen meets several reference blocks with the same sample.
    """
    def make() -> tuple[np.ndarray, np.ndarray]:
        y = x
        if y.shape[0] > units:
            y = y[np.sort(np.random.default_rng(seed).choice(y.shape[0], units, replace=False))]
        return _unit_halves(y, pr)

    return ctx.responses.get(("chalves", comp, role, units, seed, pr.key), make)


def _count_test(cand: tuple[np.ndarray, np.ndarray], halves: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    xa, xb = cand
    ya, yb = halves
    sim = xa @ ya.T
    idx = stats.argmax_abs(sim)
    sgn = np.sign(sim[np.arange(len(xa)), idx])
    sgn[sgn == 0] = 1.0
    held = sgn * np.sum(xb * yb[idx], axis=1)
    count = int(np.sum(held > RESPONSE_ALLOWANCE))
    p = stats.binom_sf(count - 1, len(held), RESPONSE_NULL_RATE) if count > 0 else 1.0
    return {"p": max(stats.P_FLOOR, p), "units": len(held), "above_allowance": count,
            "median_held_out_correlation": float(np.median(held)) if len(held) else 0.0}


def _pair(ctx: PairContext, cc: dict, rc: dict, kind: str, pr: Probes, screen: bool) -> dict[str, Any] | None:
    roles = [_SCREEN_ROLE[kind]] if screen else sorted({r for g in VIEW_GROUPS[kind] for r in g})
    tests = []
    for role in roles:
        x = _profile(ctx, "c", cc["name"], role, "None", pr)
        y = _profile(ctx, "r", rc["name"], role, "None", pr)
        if x is None or y is None or len(x) == 0 or len(y) == 0:
            continue
        units = SCREEN_UNITS if screen else MAX_UNITS
        cand = _cand_halves(ctx, cc["name"], role, x, pr, units, seed_of(ctx.seed, "resp", cc["name"], role))
        t = _count_test(cand, _halves(ctx, rc["name"], role, y, pr))
        tests.append({"role": role, **t})
    if not tests:
        return None
    p = stats.bonferroni_min([t["p"] for t in tests])
    out = {"p_units": p, "p": p, "tests": tests}
    if not screen and p < 0.01:
        views = view_consistency(ctx, cc, rc, None, kind, "None", "None",
                                 getter=lambda side, comp, role, ex: _profile(ctx, side, comp, role, ex, pr),
                                 memo_tag=("responses", pr.key))
        out["views"] = views
        out["p"] = max(p, views["p"]) if views else p
    return out


def pair_pvalues(ctx: PairContext, cc: dict, kind: str) -> list[dict[str, Any]]:
    """The response tier's p-value against every reference block it could pick (calibration material)."""
    if not applies(ctx, cc, kind):
        return []
    out = []
    for rc in ctx.rcomps:
        if kind_of(rc) not in COUNTERPART[kind] or f"resp|{rc['name']}|{_SCREEN_ROLE[kind]}|None" not in ctx.r.arrays \
                or _layernorm(ctx, "r", rc["tower"]):
            continue
        pr = ctx.probes(cc["tower"], rc["tower"])
        got = _pair(ctx, cc, rc, kind, pr, screen=False) if pr.ok else None
        if got is not None:
            out.append({"kind": f"{kind} (token responses)", "candidate": cc["name"], "reference": rc["name"],
                        "alignment": "responses", "p": got["p"], "p_units": got["p_units"],
                        "powered": pr.n >= 2 * MIN_PROBES})
    return out


def _layernorm(ctx: PairContext, side: str, tower: str) -> bool:
    """Whether a tower normalises with LayerNorm (norms with a bias): centring does not commute with a rotation.

    Memoised per side and tower (it is asked for every candidate block and every reference block).
    """
    fp = ctx.c if side == "c" else ctx.r
    return ctx.anchor_memo.get(("layernorm", side, tower), lambda: any(
        c["kind"] == "norm" and c["tower"] == tower and any(t["role"].endswith("bias") for t in c["tensors"])
        for c in fp.components()))


def applies(ctx: PairContext, cc: dict, kind: str) -> bool:
    """Whether the tier can test this block at all; looks at no result.

    It needs response profiles and enough shared probes, and RMSNorm towers on
    both sides: a rotation of the residual stream preserves the function only
    where no norm centres its input, and the tier's null was checked there only
    (the zoo's BERT seeds, LayerNorm encoders, have 38 % of their matched units'
    token responses above the allowance).
    """
    if kind not in _SCREEN_ROLE or f"resp|{cc['name']}|{_SCREEN_ROLE[kind]}|None" not in ctx.c.arrays:
        return False
    if _layernorm(ctx, "c", cc["tower"]):
        return False
    towers = {rc["tower"] for rc in ctx.rcomps if kind_of(rc) in COUNTERPART[kind]
              and f"resp|{rc['name']}|{_SCREEN_ROLE[kind]}|None" in ctx.r.arrays and not _layernorm(ctx, "r", rc["tower"])}
    return any(ctx.probes(cc["tower"], t).ok for t in sorted(towers))


def blind_note(ctx: PairContext, cc: dict, kind: str) -> str | None:
    """Why the tier could not look at this block when ids paired the rows (a documented blind spot), else None."""
    if not ctx.ids_ok or kind not in _SCREEN_ROLE or f"probe_keys|{cc['tower']}" not in ctx.c.arrays:
        return None
    if any(ctx.probes(cc["tower"], t).ok for t in sorted(ctx.r.meta["towers"])):
        return None
    return ("not run: the checkpoints share no probe token (probes are keyed by token string, or by id on a "
            "checkpoint without strings), so a rotated residual stream is not seen in this block")


def response_result(ctx: PairContext, cc: dict, kind: str, ccs: list[dict]) -> dict[str, Any] | None:
    """The tier's result for one candidate block (None where it does not apply)."""
    if kind not in _SCREEN_ROLE:
        return None
    refs = [rc for rc in ctx.rcomps if kind_of(rc) in COUNTERPART[kind] and f"resp|{rc['name']}|{_SCREEN_ROLE[kind]}|None"
            in ctx.r.arrays and not _layernorm(ctx, "r", rc["tower"])]
    if not refs or f"resp|{cc['name']}|{_SCREEN_ROLE[kind]}|None" not in ctx.c.arrays:
        return None
    n_r = max([rc["layer"] or 0 for rc in refs] + [0]) + 1
    n_c = max([c["layer"] or 0 for c in ccs] + [0]) + 1
    refs.sort(key=lambda rc: (abs((rc["layer"] or 0) / n_r - (cc["layer"] or 0) / n_c), rc["name"]))
    screened = []
    for rc in refs:
        pr = ctx.probes(cc["tower"], rc["tower"])
        if not pr.ok:
            continue
        got = _pair(ctx, cc, rc, kind, pr, screen=True)
        if got is not None:
            screened.append((got["p"], rc["name"], rc, pr))
        if sum(s[0] < 1e-12 for s in screened) >= 1 and len(screened) >= SCREEN_KEEP:
            break
    if not screened:
        return None
    best = None
    for _, _, rc, pr in sorted(screened, key=lambda s: (s[0], s[1]))[:SCREEN_KEEP]:
        got = _pair(ctx, cc, rc, kind, pr, screen=False)
        if got is not None and (best is None or got["p"] < best[0]["p"]):
            best = (got, rc, pr)
        if best is not None and best[0]["p"] < 1e-12:
            break  # beyond doubt; the factor below still counts every reference block
    if best is None:
        return None
    got, rc, pr = best
    return {"p_raw": min(1.0, got["p"] * len(refs)), "similarity": float(max(
                0.0, max(t["median_held_out_correlation"] for t in got["tests"]))),
            "reference": rc["name"], "reference_layer": rc["layer"], "powered": pr.n >= 2 * MIN_PROBES,
            "evidence": {"statistic": "token-response test (rotation- and rescale-invariant; checked null)",
                         "probe_tokens": pr.n, **({"probe_keys": "ids"} if pr.keyed == "ids" else {}),
                         "bonferroni_factor": len(refs),
                         "allowance": RESPONSE_ALLOWANCE, "null_rate": RESPONSE_NULL_RATE,
                         "matrices": got["tests"], **({"views": got["views"]} if got.get("views") else {})}}


#: held-out row cosine after an orthogonal fit that rows of independent tables exceed only rarely: the zoo's
#: BERT seeds (whose embeddings converge most) have median 0.60, 99th percentile 0.82, 0.2 % of rows above 0.9
TABLE_ALLOWANCE = 0.9


def _final_gain(fp, tower: str) -> np.ndarray | None:
    prefix = "" if tower == "text" else tower + "."
    for key in sorted(fp.arrays):
        if key.startswith(f"vec|{prefix}norm|"):
            return fp.arrays[key]
    return None


def table_applies(ctable: tuple, rtable: tuple) -> bool:
    """Whether two tables have the width and shared rows the orthogonal fit needs (looks at no values)."""
    kc, xc, _ = ctable
    kr, xr, _ = rtable
    return (kc is not None and kr is not None and xc.shape[1] == xr.shape[1]
            and len(np.intersect1d(kc, kr)) >= 64)


def table_fit_cos(ctx: PairContext, ctable: tuple, rtable: tuple, tower: str, rtower: str,
                  head: bool, rhead: bool) -> np.ndarray | None:
    """Held-out row cosines of ``table_rotation_test`` (None where it does not apply)."""
    got = _fit(ctx, ctable, rtable, tower, rtower, head, rhead)
    return None if got is None else got[0]


def _fit(ctx: PairContext, ctable: tuple, rtable: tuple, tower: str, rtower: str,
         head: bool, rhead: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(held-out cosines, the fitted orthogonal map, the held-out rows' keys), memoised per table pair."""
    kc, xc, _ = ctable
    kr, xr, _ = rtable
    if kc is None or kr is None or xc.shape[1] != xr.shape[1]:
        return None

    def make():
        common, ic, ir = np.intersect1d(kc, kr, return_indices=True)
        if len(ic) < 64:
            return None
        x, y = xc[ic].astype(np.float64), xr[ir].astype(np.float64)
        for arr, fp, tw, is_head in ((x, ctx.c, tower, head), (y, ctx.r, rtower, rhead)):
            g = _final_gain(fp, tw) if is_head else None
            if g is not None and g.shape[0] == arr.shape[1]:
                arr *= g[None, :]
        x -= x.mean(axis=0, keepdims=True)
        y -= y.mean(axis=0, keepdims=True)
        rng = np.random.default_rng(seed_of(ctx.seed, "table-rotation", tower, rtower, head, rhead))
        order = rng.permutation(len(x))
        a, b = np.sort(order[: len(x) // 2]), np.sort(order[len(x) // 2:])
        u, _, vt = np.linalg.svd(x[a].T @ y[a])
        q = u @ vt
        cos = np.sum(stats._unit_rows(x[b] @ q) * stats._unit_rows(y[b]), axis=1)
        return cos, q, common[b]

    key = ("orthogonal-fit", tower, rtower, head, rhead, len(kc), len(kr), hashlib.sha256(kc.tobytes()).hexdigest(),
           hashlib.sha256(kr.tobytes()).hexdigest())
    return ctx.anchor_memo.get(key, make)


def _fit_result(cos: np.ndarray | None, statistic: str) -> dict[str, Any] | None:
    if cos is None:
        return None
    count = int(np.sum(cos > TABLE_ALLOWANCE))
    p = stats.binom_sf(count - 1, len(cos), RESPONSE_NULL_RATE) if count > 0 else 1.0
    return {"p": max(stats.P_FLOOR, p), "similarity": float(np.clip(np.median(cos), 0.0, 1.0)),
            "powered": len(cos) >= 64, "statistic": statistic,
            "rows_scored": len(cos), "above_allowance": count, "allowance": TABLE_ALLOWANCE}


TABLE_STATISTIC = "orthogonal fit on half the shared rows (checked null)"
HEAD_STATISTIC = "embeddings' orthogonal fit carried over to the head rows of the other half (checked null)"


def table_rotation_test(ctx: PairContext, ctable: tuple, rtable: tuple, tower: str, rtower: str,
                        head: bool, rhead: bool) -> dict[str, Any] | None:
    """Embedding-like table under a rotated residual stream: orthogonal fit on half the shared rows.

    The orthogonal map (Procrustes) that best carries the candidate's rows onto
    the reference's is found on one half of the shared rows (after the final
    norm's gain is folded into head rows, as a rotation with folded norms
    does); each row of the other half then counts when its cosine with the
    reference row exceeds ``TABLE_ALLOWANCE``, with the same checked binomial
    null as the response tier.
    """
    return _fit_result(table_fit_cos(ctx, ctable, rtable, tower, rtower, head, rhead), TABLE_STATISTIC)


def head_applies(ctx: PairContext, tower: str, rtower: str, rtable: tuple) -> bool:
    """Whether an output head can get the carried-over fit against ``rtable`` (looks at no values)."""
    cemb = ctx.rows(ctx.c, tower, ctx.token_parts)
    remb = ctx.rows(ctx.r, rtower, ctx.token_parts)
    chead = ctx.rows(ctx.c, tower, ctx.token_parts, head=True)
    tables = (cemb, remb, chead, rtable)
    if any(t[0] is None for t in tables) or len({t[1].shape[1] for t in tables}) != 1:
        return False
    return table_applies(cemb, remb) and len(_shared_keys(tables)) >= 64


def _shared_keys(tables: tuple) -> np.ndarray:
    keys = tables[0][0]
    for t in tables[1:]:
        keys = np.intersect1d(keys, t[0])
    return keys


def _rows_of(table: tuple, keys: np.ndarray) -> np.ndarray:
    _, idx, _ = np.intersect1d(table[0], keys, return_indices=True)
    return table[1][idx].astype(np.float64)


def head_fit_cos(ctx: PairContext, tower: str, rtower: str, rtable: tuple, rhead: bool) -> np.ndarray | None:
    """Output head under a rotated residual stream: the embeddings' orthogonal map, carried over to the head.

    A rotated copy's head rows are the origin's in the rotated basis (its final
    norm gain folded in), like its embedding rows, and the same map undoes both.
    The map is the embedding test's (``table_rotation_test``: Procrustes on the
    *embedding* rows of one half of the shared tokens); it is scored on the
    *head* rows of the tokens of the other half (each side's final gain folded
    in; a tied reference's head is its embedding), so no scored row took part
    in the fit. Output heads of independent models converge under an orthogonal
    fit of their own (zoo llama seeds: median 0.60), which is why the map is
    never fitted on heads; under the embeddings' map they do not (zoo llama
    seeds, 30 ordered pairs, each head against the reference's head and its
    embedding: 30,720 scored rows, largest cosine 0.28, none above 0.9). Same
    allowance and checked binomial null as the embedding test.
    """
    fit = _fit(ctx, ctx.rows(ctx.c, tower, ctx.token_parts), ctx.rows(ctx.r, rtower, ctx.token_parts),
               tower, rtower, False, False)
    if fit is None:
        return None
    _, q, held_out = fit
    keys = _shared_keys(((held_out, None), ctx.rows(ctx.c, tower, ctx.token_parts, head=True), rtable))
    if len(keys) < 8:
        return None
    u, v = _rows_of(ctx.rows(ctx.c, tower, ctx.token_parts, head=True), keys), _rows_of(rtable, keys)
    for arr, fp, tw in ((u, ctx.c, tower), (v, ctx.r, rtower)):
        g = _final_gain(fp, tw)
        if g is not None and g.shape[0] == arr.shape[1]:
            arr *= g[None, :]
        arr -= arr.mean(axis=0, keepdims=True)
    return np.sum(stats._unit_rows(u @ q) * stats._unit_rows(v), axis=1)


def head_rotation_test(ctx: PairContext, tower: str, rtower: str, rtable: tuple, rhead: bool) -> dict[str, Any] | None:
    """Output head under a rotated residual stream (``head_fit_cos``), with the embedding test's null."""
    return _fit_result(head_fit_cos(ctx, tower, rtower, rtable, rhead), HEAD_STATISTIC)
